"""`alpaca`: Taori et al. 2023, Stanford Alpaca (github.com/tatsu-lab/stanford_alpaca, `generate_instruction.py`).

One request yields a batch of complete tasks — instruction, input and output together — from 3 seed examples shown
after the reference's prompt ("You are asked to come up with a set of 20 diverse task instructions…", its nine
requirements), each as `###` / `N. Instruction:` / `N. Input:` / `N. Output:`, ending with the next number's
`Instruction:` for the model to continue. Sampling as there: temperature 1, top_p 1, stop at item 20. A reply is
split at `###`; an item that does not split into exactly instruction, input and output is a `parse` reject, as is
the last item when the reply was cut off by max_tokens; `<noinput>` becomes an empty input. Then the self-instruct
filters and ROUGE-L novelty (above 0.7 rejects) against every seed and earlier instruction.
Estimate: one request per 8 accepted tasks (fewer than half of the 17 a request can hold).
"""

from __future__ import annotations

import re

from curation.generate import filters
from curation.generate.base import Candidate, Method, State, chat, failed, squash

PROMPT = """\
You are asked to come up with a set of 20 diverse task instructions. These task instructions will be given to a GPT \
model and we will evaluate the GPT model for completing the instructions.

Here are the requirements:
1. Try not to repeat the verb for each instruction to maximize diversity.
2. The language used for the instruction also should be diverse. For example, you should combine questions with \
imperative instrucitons.
3. The type of instructions should be diverse. The list should include diverse types of tasks like open-ended \
generation, classification, editing, etc.
4. A GPT language model should be able to complete the instruction. For example, do not ask the assistant to create \
any visual or audio output. For another example, do not ask the assistant to wake you up at 5pm or set a reminder \
because it cannot perform any action.
5. The instructions should be in English.
6. The instructions should be 1 to 2 sentences long. Either an imperative sentence or a question is permitted.
7. You should generate an appropriate input to the instruction. The input field should contain a specific example \
provided for the instruction. It should involve realistic data and should not contain simple placeholders. The input \
should provide substantial content to make the instruction challenging but should ideally not exceed 100 words.
8. Not all instructions require input. For example, when a instruction asks about some general information, "what \
is the highest peak in the world", it is not necssary to provide a specific context. In this case, we simply put \
"<noinput>" in the input field.
9. The output should be an appropriate response to the instruction and the input. Make sure the output is less than \
100 words.

List of 20 tasks:
"""
FIELDS = re.compile(r"\d+\s*\.\s+(Instruction|Input|Output)\s*:")


def encode_prompt(examples) -> str:
    prompt = PROMPT
    for i, ex in enumerate(examples):
        given = ex.input if (ex.input or "").strip() else "<noinput>"
        prompt += f"###\n{i + 1}. Instruction: {squash(ex.instruction).rstrip(':')}\n{i + 1}. Input:\n{given}\n"
        prompt += f"{i + 1}. Output:\n{ex.output}\n"
    return prompt + f"###\n{len(examples) + 1}. Instruction:"


def split_tasks(text: str, first: int, finish_reason: str | None) -> list[tuple[str, str, str] | None]:
    """(instruction, input, output) per item of the reply (None where an item does not parse)."""
    text = text or ""
    if not re.match(rf"\s*(?:###\s*)?{first}\s*\.\s+Instruction\s*:", text):
        head = text.split("###", 1)
        if FIELDS.search(head[0]) is None or not head[0].lstrip()[:1].isdigit():
            text = f"{first}. Instruction:" + text  # the model continued the open "N. Instruction:"
    pieces = [p for p in text.split("###") if p.strip()]
    out: list[tuple[str, str, str] | None] = []
    for i, piece in enumerate(pieces):
        if i == len(pieces) - 1 and finish_reason == "length":
            out.append(None)
            continue
        parts = FIELDS.split(piece)
        if len(parts) != 7 or [parts[1], parts[3], parts[5]] != ["Instruction", "Input", "Output"]:
            out.append(None)
            continue
        given = parts[4].strip()
        out.append((parts[2].strip(), "" if given.lower() == "<noinput>" else given, parts[6].strip()))
    return out


class Alpaca(Method):
    name = "alpaca"
    description = "Stanford Alpaca: one call yields a batch of instruction/input/output tasks from 3 seed examples"
    reference = "Taori et al. 2023, Stanford Alpaca, github.com/tatsu-lab/stanford_alpaca (generate_instruction.py)"
    version = "alpaca/1"
    options = {"prompts_per_round": 2, "in_context": 3,
               "sampling": {"temperature": 1.0, "top_p": 1.0, "max_tokens": 3072, "stop": ["\n20", "20.", "20 ."]}}

    def round(self, state: State, session, opts: dict) -> list[Candidate]:
        k = int(opts["in_context"])
        shown = [state.rng.sample(state.seeds, min(k, len(state.seeds))) for _ in range(int(opts["prompts_per_round"]))]
        payloads = [{**chat(encode_prompt(ex), opts["sampling"], opts.get("max_tokens_cap")), "seed": state.rng.randrange(2**31)}
                    for ex in shown]
        found: list[Candidate] = []
        for ex, reply in zip(shown, session.ask_many(payloads)):
            ids = [e.record_id for e in ex]
            why = failed(reply)
            if why == "budget":
                continue
            if why:
                found.append(Candidate("", reason="failed", detail=why, seed_ids=ids, requests=[reply["key"]]))
                continue
            tasks = split_tasks(reply["text"], len(ex) + 1, reply.get("finish_reason"))
            for task in tasks:
                if task is None:
                    found.append(Candidate("", reason="parse", detail="not instruction + input + output, or cut off",
                                           seed_ids=ids, requests=[reply["key"]]))
                    continue
                cand = Candidate(filters.clean(task[0]), task[1], task[2], seed_ids=ids, requests=[reply["key"]])
                reason, detail = filters.check(cand.instruction)
                if reason:
                    cand.reason, cand.detail = reason, detail
                    cand.passed = list(filters.NAMES[: filters.NAMES.index(reason)])
                elif not cand.output.strip():
                    cand.reason, cand.detail, cand.passed = "parse", "empty output", list(filters.NAMES)
                else:
                    cand.passed = list(filters.NAMES)
                    state.novelty.admit(cand)
                found.append(cand)
        return found

    def estimate(self, state: State, n: int, opts: dict) -> list[tuple[dict, int]]:
        examples = state.seeds[: int(opts["in_context"])]
        return [(chat(encode_prompt(examples), opts["sampling"], opts.get("max_tokens_cap")), -(-n // 8))]


METHOD = Alpaca()
