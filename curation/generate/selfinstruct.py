"""`self-instruct`: Wang et al. 2022, "Self-Instruct: Aligning Language Models with Self-Generated Instructions"
(arXiv:2212.10560; code github.com/yizhongw/self-instruct).

The four stages of the paper, per round:

1. *Instruction generation.* Each prompt shows 8 instructions — 2 sampled from the machine-generated pool (fewer
   while it is small) and the rest from the human seed pool, shuffled — as a numbered list after "Come up with a
   series of tasks:", ending with "9." for the model to continue (`bootstrap_instructions.py`; sampling as there:
   temperature 0.7, top_p 0.5, presence penalty 2, stop at item 16).
2. *Filtering* (`curation.generate.filters`): length, keyword blocklist, "Write a program", leading punctuation or
   non-ASCII; then novelty: ROUGE-L above 0.7 against any seed or earlier instruction rejects it
   (`curation.generate.novelty`).
3. *Classification identification.* The model is asked, few-shot, "Can the following task be regarded as a
   classification task with finite output labels?" (greedy, 3 tokens). Seeds carry the answer
   (`is_classification` in seed_tasks.jsonl).
4. *Instance generation.* Classification tasks are generated output-first (a class label, then an input for it),
   the others input-first (an input, then its output), few-shot, greedy; the first instance is kept.

The few-shot templates of stages 3 and 4 are abridged from the reference's (a handful of its examples rather than
dozens). Chat endpoints get each prompt as the user message; a preamble before the numbered list is dropped.
Estimate: one generation request per 4 accepted instructions (half of the 8 a request asks for), plus one
classification and one instance request per accepted instruction.
"""

from __future__ import annotations

import re

from curation.generate import filters
from curation.generate.base import Candidate, Method, State, chat, failed, squash

GENERATE = "Come up with a series of tasks:\n"
CLASSIFY = """\
Can the following task be regarded as a classification task with finite output labels?

Task: Given my personality and the job, tell me if I would be suitable.
Is it classification? Yes

Task: Give me an example of a time when you had to use your sense of humor.
Is it classification? No

Task: Replace the placeholders in the given text with appropriate named entities.
Is it classification? No

Task: Fact checking - tell me if the statement is true, false, or unknown, based on your knowledge and common sense.
Is it classification? Yes

Task: Return the SSN number for the person.
Is it classification? No

Task: Detect if the Reddit thread contains hate speech.
Is it classification? Yes

Task: Analyze the sentences below to identify biases.
Is it classification? No

Task: Select the longest sentence in terms of the number of words in the paragraph, output the sentence index.
Is it classification? Yes

Task: {instruction}
Is it classification?"""
INPUT_FIRST = """\
Come up with examples for the following tasks. Try to generate multiple examples when possible. \
If the task doesn't require additional input, you can generate the output directly.

Task: Which exercises are best for reducing belly fat at home?
Output:
- Lying Leg Raises
- Leg In And Out
- Plank
- Side Plank
- Sit-ups

Task: Extract all the country names in the paragraph, list them separated by commas.
Example 1
Paragraph: Dr. No is the sixth novel by the English author Ian Fleming to feature his British Secret Service agent \
James Bond. Written at Fleming's Goldeneye estate in Jamaica, it was first published in the United Kingdom by \
Jonathan Cape in 1958.
Output: English, British, Jamaica, the United Kingdom

Task: Converting 85 F to Celsius.
Output: 85°F = 29.44°C

Task: Sort the given list ascendingly.
Example 1
List: [10, 92, 2, 5, -4, 92, 5, 101]
Output: [-4, 2, 5, 5, 10, 92, 92, 101]

Task: {instruction}
"""
OUTPUT_FIRST = """\
Given the classification task definition and the class labels, generate an input that corresponds to each of the \
class labels. If the task doesn't require input, just generate possible class labels.

Task: Classify the sentiment of the sentence into positive, negative, or mixed.
Class label: mixed
Sentence: I enjoy the flavor of the restaurant but their service is too slow.
Class label: Positive
Sentence: I had a great day today. The weather was beautiful and I spent time with friends and family.

Task: Given a dialogue, classify whether the user is satisfied with the service. You should respond with "Satisfied" \
or "Unsatisfied".
Class label: Satisfied
Dialogue:
- Agent: Thank you for your feedback. We will work to improve our service in the future.
- Customer: I am happy with the service you provided. Thank you for your help.

Task: Tell me if the following email is a promotion email.
Class label: Promotion
Email: Check out our amazing new sale! We've got discounts on all of your favorite products.

Task: {instruction}
"""
LABEL = re.compile(r"^\s*class label\s*:\s*(.+)$", re.I | re.M)
ITEM = re.compile(r"(?:^|\n)\s*\d+\s?[.)]\s+")


def generation_prompt(instructions: list[str]) -> str:
    prompt = GENERATE
    for i, text in enumerate(instructions):
        prompt += f"{i + 1}. {squash(text).rstrip(':')}\n"
    return prompt + f"{len(instructions) + 1}."


def split_items(text: str, finish_reason: str | None) -> tuple[list[str], bool]:
    """The instructions of a reply to the numbered list (and whether the last was cut off by max_tokens)."""
    text = (text or "").strip("\n")
    pieces = ITEM.split("\n" + text if text[:1].isdigit() else text)
    first, items = pieces[0], pieces[1:]
    if first.strip() and not first.rstrip().endswith(":"):  # a raw continuation of "9." (not a chat preamble)
        items.insert(0, first)
    items = [squash(i) for i in items]
    truncated = finish_reason == "length" and len(items) > 0
    return [i for i in items if i], truncated


def parse_instance(text: str, classification: bool) -> tuple[str, str] | None:
    """(input, output) of the first example of an instance-generation reply, or None."""
    text = re.split(r"\n\s*(?:Task\s*:|Example\s*2\b)", "\n" + (text or ""))[0].strip()
    text = re.sub(r"^\s*Example\s*1\s*\n", "", text)
    if not text:
        return None
    if classification:
        m = LABEL.search(text)
        if not m:
            return None
        label = m.group(1).strip()
        rest = LABEL.split(text[m.end():])[0]  # up to the next class label
        return re.sub(r"^\s*[A-Za-z ]{1,20}:\s*", "", rest.strip(), count=1).strip(), label
    parts = re.split(r"(?:^|\n)\s*Output\s*\d*\s*:", text, maxsplit=1)
    if len(parts) == 2:
        given = re.sub(r"^\s*[A-Za-z ]{1,20}:\s*", "", parts[0].strip(), count=1)
        output = parts[1].strip()
    else:
        given, output = "", text.strip()
    return (given.strip(), output) if output else None


class SelfInstruct(Method):
    name = "self-instruct"
    description = ("Wang et al. 2022: 8 in-context instructions (6 human seeds + 2 machine), filters (length, keywords, "
                   "'Write a program', punctuation, non-ASCII) and ROUGE-L novelty; classification tasks output-first")
    reference = "Wang et al. 2022, Self-Instruct (arXiv:2212.10560), github.com/yizhongw/self-instruct"
    version = "self-instruct/1"
    options = {"prompts_per_round": 4, "in_context": 8, "machine_in_context": 2,
               "sampling": {"temperature": 0.7, "top_p": 0.5, "presence_penalty": 2.0, "max_tokens": 1024,
                            "stop": ["\n16", "16.", "16 ."]},
               "classify_sampling": {"temperature": 0.0, "max_tokens": 3, "stop": ["\n", "Task"]},
               "instance_sampling": {"temperature": 0.0, "max_tokens": 350, "presence_penalty": 1.5,
                                     "stop": ["Example 2", "Task:"]}}

    def prompts(self, state: State, opts: dict) -> list[tuple[str, list[str]]]:
        out = []
        for _ in range(int(opts["prompts_per_round"])):
            machine = state.rng.sample(state.machine, min(int(opts["machine_in_context"]), len(state.machine)))
            human = state.rng.sample(state.seeds, min(int(opts["in_context"]) - len(machine), len(state.seeds)))
            shown = human + machine
            state.rng.shuffle(shown)
            out.append((generation_prompt([s.instruction for s in shown]), [s.record_id for s in shown]))
        return out

    def round(self, state: State, session, opts: dict) -> list[Candidate]:
        cap = opts.get("max_tokens_cap")
        remaining = int(opts.get("_remaining") or 1 << 30)
        prompts = self.prompts(state, opts) if len(state.backlog) < remaining else []
        replies = session.ask_many([{**chat(p, opts["sampling"], cap), "seed": state.rng.randrange(2**31)} for p, _ in prompts])
        found: list[Candidate] = []
        for (_, shown), reply in zip(prompts, replies):
            why = failed(reply)
            if why == "budget":
                continue
            if why:
                found.append(Candidate("", reason="failed", detail=why, seed_ids=shown, requests=[reply["key"]]))
                continue
            items, truncated = split_items(reply["text"], reply.get("finish_reason"))
            if not items:
                found.append(Candidate(squash(reply["text"])[:500], reason="parse", detail="no numbered instruction",
                                       seed_ids=shown, requests=[reply["key"]]))
            for i, item in enumerate(items):
                cand = Candidate(filters.clean(item), seed_ids=shown, requests=[reply["key"]])
                if truncated and i == len(items) - 1:
                    cand.reason, cand.detail = "parse", "cut off by max_tokens"
                else:
                    reason, detail = filters.check(cand.instruction)
                    if reason:
                        cand.reason, cand.detail = reason, detail
                        cand.passed = list(filters.NAMES[: filters.NAMES.index(reason)])
                    else:
                        cand.passed = list(filters.NAMES)
                        state.novelty.admit(cand)  # later candidates of this round are measured against it
                found.append(cand)
        # instructions past the records still wanted wait for the next round (their requests are not sent yet)
        fresh = state.backlog + [c for c in found if c.reason is None]
        take, state.backlog = fresh[:remaining], fresh[remaining:]
        self.classify(take, session, opts, state)
        self.instances(take, session, opts, state)
        return [c for c in found if c.reason is not None] + take

    def classify(self, cands: list[Candidate], session, opts: dict, state: State) -> None:
        cap = opts.get("max_tokens_cap")
        replies = session.ask_many([chat(CLASSIFY.format(instruction=c.instruction), opts["classify_sampling"], cap)
                                    for c in cands])
        for c, reply in zip(cands, replies):
            c.requests.append(reply["key"])
            why = failed(reply)
            if why:
                c.reason, c.detail = ("budget", why) if why == "budget" else ("failed", why)
                continue
            c.extra["is_classification"] = "yes" in (reply["text"] or "").strip().lower()[:10]

    def instances(self, cands: list[Candidate], session, opts: dict, state: State) -> None:
        cap = opts.get("max_tokens_cap")
        todo = [c for c in cands if c.reason is None]
        payloads = [chat((OUTPUT_FIRST if c.extra["is_classification"] else INPUT_FIRST).format(instruction=c.instruction),
                         opts["instance_sampling"], cap) for c in todo]
        for c, reply in zip(todo, session.ask_many(payloads)):
            c.requests.append(reply["key"])
            why = failed(reply)
            if why:
                c.reason, c.detail = ("budget", why) if why == "budget" else ("failed", why)
                continue
            parsed = parse_instance(reply["text"], c.extra["is_classification"])
            if parsed is None:
                c.reason, c.detail = "parse", "no instance in the reply: " + squash(reply["text"])[:120]
                continue
            c.input, c.output = parsed
            c.extra["order"] = "output-first" if c.extra["is_classification"] else "input-first"
            c.passed.append("instance")

    def estimate(self, state: State, n: int, opts: dict) -> list[tuple[dict, int]]:
        import copy

        probe = copy.deepcopy(state)  # sampling a prompt must not move the run's own random generator
        prompt = self.prompts(probe, {**opts, "prompts_per_round": 1})[0][0]
        example = state.seeds[0].instruction if state.seeds else "Name a task."
        cap = opts.get("max_tokens_cap")
        return [(chat(prompt, opts["sampling"], cap), -(-n // 4)),
                (chat(CLASSIFY.format(instruction=example), opts["classify_sampling"], cap), n),
                (chat(INPUT_FIRST.format(instruction=example), opts["instance_sampling"], cap), n)]


METHOD = SelfInstruct()
