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

`pre_query` is a template name (`chatml` — SmolLM2, Qwen —, `llama-3`, `phi-3`, `gemma`, `mistral`) or the prefix
text itself. Estimate: two requests per accepted record.
"""

from __future__ import annotations

from curation.errors import CurationError
from curation.generate.base import Candidate, Method, State, chat, completion, failed, squash

TEMPLATES = {
    "chatml": ("<|im_start|>user\n", ["<|im_end|>", "<|im_start|>"]),
    "llama-3": ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n", ["<|eot_id|>", "<|start_header_id|>"]),
    "phi-3": ("<|user|>\n", ["<|end|>", "<|assistant|>"]),
    "gemma": ("<bos><start_of_turn>user\n", ["<end_of_turn>", "<start_of_turn>"]),
    "mistral": ("<s>[INST] ", ["[/INST]", "</s>"]),
}


def pre_query(name_or_text: str) -> tuple[str, list[str]]:
    if name_or_text in TEMPLATES:
        return TEMPLATES[name_or_text]
    if not name_or_text or name_or_text.isidentifier() or len(name_or_text) < 3:
        raise CurationError(f"unknown pre-query template {name_or_text!r}: choose one of {', '.join(TEMPLATES)} "
                            "or give the prefix text itself")
    return name_or_text, []


class Magpie(Method):
    name = "magpie"
    description = ("Magpie: the chat template's pre-query prefix sent to a raw completions endpoint; the model writes "
                   "the query, then answers it (needs /v1/completions)")
    reference = "Xu et al. 2024, Magpie (arXiv:2406.08464), github.com/magpie-align/magpie"
    version = "magpie/1"
    options = {"prompts_per_round": 4, "pre_query": "chatml",
               "sampling": {"temperature": 1.0, "top_p": 1.0, "max_tokens": 512},
               "answer_sampling": {"temperature": 0.0, "max_tokens": 1024}}

    def round(self, state: State, session, opts: dict) -> list[Candidate]:
        cap = opts.get("max_tokens_cap")
        prefix, stop = pre_query(str(opts["pre_query"]))
        params = {**opts["sampling"], **({"stop": stop} if stop else {})}
        payloads = [{**completion(prefix, params, cap), "seed": state.rng.randrange(2**31)}
                    for _ in range(int(opts["prompts_per_round"]))]
        cands: list[Candidate] = []
        for reply in session.ask_many(payloads):
            why = failed(reply)
            if why == "budget":
                continue
            cand = Candidate((reply.get("text") or "").strip(), requests=[reply["key"]], extra={"pre_query": opts["pre_query"]})
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
        prefix, _ = pre_query(str(opts["pre_query"]))
        example = state.seeds[0].instruction if state.seeds else "Name a task."
        return [(completion(prefix, opts["sampling"], cap), n), (chat(example, opts["answer_sampling"], cap), n)]


METHOD = Magpie()
