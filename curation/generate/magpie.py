"""`magpie`: Xu et al. 2024, "Magpie: Alignment Data Synthesis from Scratch by Prompting Aligned LLMs with Nothing"
(arXiv:2406.08464; github.com/magpie-align/magpie).

An aligned model, given only its chat template's *pre-query* prefix — everything up to where a user's message
would begin — writes a user query itself. That query is then sent as a normal chat message and the model's answer
is the output. The prefix must reach the model untouched, so the first step needs a raw completions endpoint
(`/v1/completions`: vLLM, llama.cpp server, TGI, Ollama); where the endpoint has none the run stops at once with a
message saying so, before anything is paid. Seeds are not shown to the model (Magpie needs none); they only join
the novelty pool, so a query repeating a seed or an earlier query (ROUGE-L above 0.7) is rejected as `novelty`; an
empty query or answer is `parse`. Sampling as the paper's: temperature 1, top_p 1 for queries, each request with its
own seed so that queries differ; greedy answers.

The pre-query prefix comes, in this order, from: `pre_query` when it names a template family (`chatml` — SmolLM2,
Qwen —, `llama-3`, `phi-3`, `gemma`, `mistral`) or is the prefix text itself; the chat template of `tokenizer` (a
local tokenizer or model folder, or a GGUF file: `chat_template.py` renders it with a sentinel user message and keeps
what comes before, a default system prompt included); the chat template of the served model when its name is a
local folder or GGUF file (`transformers serve` and vLLM name a model served from a folder by its path); the family
the model's name says (`Qwen2.5-7B-Instruct`: chatml; `Meta-Llama-3-8B-Instruct`: llama-3); else chatml. The
provenance (`pre_query`, `pre_query_from`, `pre_query_text`) and the report's `pre_query` say which, and the
prefix. `system` renders a system message of that text first (with a tokenizer's template). Estimate: two requests
per accepted record.
"""

from __future__ import annotations

from pathlib import Path

from curation.errors import CurationError, Phrased
from curation.generate.base import Candidate, Method, State, chat, completion, failed, squash
from curation.generate.chat_template import PreQuery, pre_query_from

TEMPLATES = {
    "chatml": ("<|im_start|>user\n", ["<|im_end|>", "<|im_start|>"]),
    "llama-3": ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n", ["<|eot_id|>", "<|start_header_id|>"]),
    "phi-3": ("<|user|>\n", ["<|end|>", "<|assistant|>"]),
    "gemma": ("<bos><start_of_turn>user\n", ["<end_of_turn>", "<start_of_turn>"]),
    "mistral": ("<s>[INST] ", ["[/INST]", "</s>"]),
}


GUESSES = (("llama-3", ("llama-3", "llama3")), ("phi-3", ("phi-3", "phi3")), ("gemma", ("gemma",)),
           ("mistral", ("mistral", "mixtral")), ("chatml", ("qwen", "smollm", "hermes", "chatml", "yi-")))


def pre_query(name_or_text: str) -> tuple[str, list[str]]:
    if name_or_text in TEMPLATES:
        return TEMPLATES[name_or_text]
    if not name_or_text or name_or_text.isidentifier() or len(name_or_text) < 3:
        raise CurationError(f"unknown pre-query template {name_or_text!r}: choose one of {', '.join(TEMPLATES)} "
                            "or give the prefix text itself (or --tokenizer PATH to read it from the chat template)",
                            dashboard=f"unknown pre-query template {name_or_text!r}: choose one of {', '.join(TEMPLATES)} "
                            "or give the prefix text itself (or a tokenizer folder to read it from the chat template)")
    return name_or_text, []


def local_template(model: str | None) -> bool:
    """Whether a model name is a local folder with a tokenizer, or a GGUF file (a model served from a folder)."""
    if not model or "://" in model:
        return False
    path = Path(model).expanduser()
    try:
        if path.is_file():
            return path.suffix.lower() == ".gguf"
        return path.is_dir() and (any((path / f).exists() for f in ("tokenizer_config.json", "chat_template.jinja"))
                                  or len(list(path.glob("*.gguf"))) == 1)
    except OSError:
        return False


def resolve(opts: dict, model: str | None) -> PreQuery:
    """The pre-query prefix, its stop strings and where they came from (see the module's docstring)."""
    name = str(opts.get("pre_query") or "auto")
    tokenizer = opts.get("tokenizer")
    system = opts.get("system") or None
    if name != "auto":
        if tokenizer:
            raise CurationError("give the pre-query prefix either as a template (pre_query) or through --tokenizer, not both",
                                dashboard="give the pre-query prefix either as a template or through a tokenizer folder, "
                                "not both")
        prefix, stop = pre_query(name)
        return PreQuery(prefix, stop, name if name in TEMPLATES else "given text")
    if tokenizer:
        return pre_query_from(str(tokenizer), system)
    if local_template(model):
        return pre_query_from(str(model), system)
    lowered = (model or "").lower()
    family = next((f for f, marks in GUESSES if any(m in lowered for m in marks)), None)
    if family:
        return PreQuery(*TEMPLATES[family], Phrased(f"{family} (guessed from the model name {model}; --tokenizer PATH reads "
                                                    "the model's own template)", f"{family} (guessed from the model name "
                                                    f"{model}; a tokenizer folder reads the model's own template)"))
    return PreQuery(*TEMPLATES["chatml"], Phrased("chatml (the default: no tokenizer given and the model name names no "
                                                  "family; --tokenizer PATH reads the model's own template)",
                                                  "chatml (the default: no tokenizer given and the model name names no "
                                                  "family; a tokenizer folder reads the model's own template)"))


def family(pq: PreQuery) -> str:
    """The short provenance name: the family, or "template" when read from a chat template, "text" when given."""
    return pq.source.split(" ", 1)[0] if pq.source.split(" ", 1)[0] in TEMPLATES else \
        "template" if pq.source.startswith("chat template") else "text"


class Magpie(Method):
    name = "magpie"
    description = ("Magpie: the chat template's pre-query prefix sent to a raw completions endpoint; the model writes "
                   "the query, then answers it (needs /v1/completions)")
    reference = "Xu et al. 2024, Magpie (arXiv:2406.08464), github.com/magpie-align/magpie"
    version = "magpie/1"
    options = {"prompts_per_round": 4, "pre_query": "auto", "tokenizer": None, "system": None,
               "sampling": {"temperature": 1.0, "top_p": 1.0, "max_tokens": 512},
               "answer_sampling": {"temperature": 0.0, "max_tokens": 1024}}

    def round(self, state: State, session, opts: dict) -> list[Candidate]:
        cap = opts.get("max_tokens_cap")
        pq = noted(state, opts, session.model)
        prefix, stop = pq.prefix, pq.stop
        params = {**opts["sampling"], **({"stop": stop} if stop else {})}
        payloads = [{**completion(prefix, params, cap), "seed": state.rng.randrange(2**31)}
                    for _ in range(int(opts["prompts_per_round"]))]
        cands: list[Candidate] = []
        for reply in session.ask_many(payloads):
            why = failed(reply)
            if why == "budget":
                continue
            cand = Candidate((reply.get("text") or "").strip(), requests=[reply["key"]],
                             extra={"pre_query": family(pq), "pre_query_from": pq.source, "pre_query_text": prefix})
            if why:
                cand.reason, cand.detail = "failed", why
            elif not squash(cand.instruction):
                cand.reason, cand.detail = "parse", "empty query"
            else:
                state.novelty.admit(cand)
            cands.append(cand)
        live = [c for c in cands if c.reason is None]
        for c, reply in zip(live, session.ask_many([chat(c.instruction, opts["answer_sampling"], cap) for c in live])):
            c.requests.append(reply["key"])
            why = failed(reply)
            if why:
                c.reason, c.detail = ("budget" if why == "budget" else "failed"), why
            elif not (reply["text"] or "").strip():
                c.reason, c.detail = "parse", "empty answer"
            else:
                c.output = reply["text"].strip()
                c.passed.append("answer")
        return [c for c in cands if c.reason != "budget"]

    def estimate(self, state: State, n: int, opts: dict) -> list[tuple[dict, int]]:
        cap = opts.get("max_tokens_cap")
        prefix = noted(state, opts, opts.get("_model")).prefix
        example = state.seeds[0].instruction if state.seeds else "Name a task."
        return [(completion(prefix, opts["sampling"], cap), n), (chat(example, opts["answer_sampling"], cap), n)]


def noted(state: State, opts: dict, model: str | None) -> PreQuery:
    """The prefix for this run, also written into the run's report (`pre_query`: from, prefix, stop)."""
    pq = resolve(opts, model)
    state.notes["pre_query"] = {"from": pq.source, "prefix": pq.prefix, "stop": pq.stop}
    return pq


METHOD = Magpie()
