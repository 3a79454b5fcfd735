"""Generation methods as a registry: new instruction data written by an LLM from seed records.

- `self-instruct` (Wang et al. 2022): numbered lists of 8 in-context instructions (6 human, 2 machine), the
  reference's filters and ROUGE-L novelty, classification tasks output-first — `selfinstruct.py`;
- `alpaca` (Taori et al. 2023): a batch of instruction/input/output tasks per call from 3 seed examples — `alpaca.py`;
- `evol-instruct` (Xu et al. 2023, WizardLM): in-depth and in-breadth mutations with the elimination rules — `evol.py`;
- `magpie` (Xu et al. 2024): the chat template's pre-query prefix on a raw completions endpoint — `magpie.py`; the
  prefix read from a local tokenizer's (or GGUF file's) own chat template — `chat_template.py`.

`generate(ws, method, …)` (`run.py`) runs one through any OpenAI-compatible endpoint (`curation.llm`) and stores the
accepted records as a new dataset with `source: synthetic` and provenance; the shared pieces are `base.py`
(candidates, state), `filters.py`, `novelty.py` (ROUGE-L through rapidfuzz) and `seeds.py` (the default pool, a
dataset, chosen records, a cluster of the map, the records nearest a topic).
"""

from __future__ import annotations

from curation.generate import alpaca, evol, magpie, selfinstruct
from curation.generate.base import Candidate, Method
from curation.names import GENERATORS, lookup, registry

METHODS: dict[str, Method] = registry(GENERATORS, (selfinstruct.METHOD, alpaca.METHOD, evol.METHOD, magpie.METHOD))

__all__ = ["METHODS", "Candidate", "Method", "generate", "get_method"]


def get_method(name: str) -> Method:
    """The generation method called `name`, or a CurationError that lists the valid names."""
    return lookup(METHODS, name, "generation method")


def generate(ws, method: str = "self-instruct", **kwargs) -> dict:
    from curation.generate.run import generate as run

    return run(ws, method, **kwargs)
