"""`evol-instruct`: Xu et al. 2023, "WizardLM: Empowering Large Language Models to Follow Complex Instructions"
(arXiv:2304.12244; prompts from github.com/nlpxucan/WizardLM, Evol_Instruct).

Each round evolves instructions drawn from the pool (the seeds, then what earlier rounds evolved): one of the five
mutations of the paper is chosen at random — in-depth *constraints* ("add one more constraints/requirements"),
*deepening* ("the depth and breadth of the inquiry can be increased"), *concretizing* ("replace general concepts with
more specific concepts"), *reasoning* ("explicitly request multiple-step reasoning"), or in-breadth (a brand-new
prompt of the same domain, rarer) — with the reference's rewriter prompts. Then the elimination rules of §3.3:

1. `no_gain`: the evolved instruction gives no information gain — the model, asked the paper's equality prompt,
   answers "Equal";
2. `refusal`: the answer to it contains "sorry" and is under 80 words;
3. `empty_response`: the answer holds only punctuation and stop words;
4. `copied_prompt`: the instruction copies words of the evolving prompt ("given prompt", "#Rewritten Prompt#", …);

and `parse` for an empty rewrite. The answer (the record's output) is the model's reply to the evolved
instruction. A seed's input is part of the instruction it evolves (WizardLM flattened Alpaca's tasks the same way).
Estimate: three requests (rewrite, equality, answer) per accepted record.
"""

from __future__ import annotations

import re

from curation.generate.base import Candidate, Method, State, chat, failed

DEPTH = """\
I want you act as a Prompt Rewriter.
Your objective is to rewrite a given prompt into a more complex version to make those famous AI systems (e.g., \
chatgpt and GPT4) a bit harder to handle.
But the rewritten prompt must be reasonable and must be understood and responded by humans.
Your rewriting cannot omit the non-text parts such as the table and code in #The Given Prompt#:. Also, please do not \
omit the input in #The Given Prompt#.
You SHOULD complicate the given prompt using the following method:
{method}
You should try your best not to make the #Rewritten Prompt# become verbose, #Rewritten Prompt# can only add 10 to 20 \
words into #The Given Prompt#.
'#The Given Prompt#', '#Rewritten Prompt#', 'given prompt' and 'rewritten prompt' are not allowed to appear in \
#Rewritten Prompt#
#The Given Prompt#:
{prompt}
#Rewritten Prompt#:
"""
BREADTH = """\
I want you act as a Prompt Creator.
Your goal is to draw inspiration from the #Given Prompt# to create a brand new prompt.
This new prompt should belong to the same domain as the #Given Prompt# but be even more rare.
The LENGTH and complexity of the #Created Prompt# should be similar to that of the #Given Prompt#.
The #Created Prompt# must be reasonable and must be understood and responded by humans.
'#Given Prompt#', '#Created Prompt#', 'given prompt' and 'created prompt' are not allowed to appear in #Created Prompt#
#Given Prompt#:
{prompt}
#Created Prompt#:
"""
METHODS = {
    "constraints": "Please add one more constraints/requirements into #The Given Prompt#'",
    "deepening": "If #The Given Prompt# contains inquiries about certain issues, the depth and breadth of the inquiry "
                 "can be increased.",
    "concretizing": "Please replace general concepts with more specific concepts.",
    "reasoning": "If #The Given Prompt# can be solved with just a few simple thinking processes, you can rewrite it to "
                 "explicitly request multiple-step reasoning.",
}
MUTATIONS = (*METHODS, "breadth")
EQUAL = """\
Here are two Instructions to ChatGPT AI, do you think they are equal to each other, which meet the following \
requirements:
1. They have same constraints and requirments.
2. They have same depth and breadth of the inquiry.
The First Prompt: {first}
The Second Prompt: {second}
Your Judgement (Just answer: Equal or Not Equal. No need to explain the reason.):"""
COPIED = re.compile(r"#?\s*(the\s+)?(given|rewritten|created)\s+prompt\s*#?", re.I)
STOP_WORDS = frozenset("""a about above after again against all am an and any are as at be because been before being
below between both but by can did do does doing down during each few for from further had has have having he her here
hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on once
only or other our ours ourselves out over own same she should so some such than that the their theirs them themselves
then there these they this those through to too under until up very was we were what when where which while who whom
why will with you your yours yourself yourselves""".split())


def given_prompt(instruction: str, input_: str) -> str:
    return instruction.strip() + (f"\n{input_.strip()}" if (input_ or "").strip() else "")


def rewrite_prompt(mutation: str, prompt: str) -> str:
    if mutation == "breadth":
        return BREADTH.format(prompt=prompt)
    return DEPTH.format(method=METHODS[mutation], prompt=prompt)


def clean_rewrite(text: str) -> str:
    text = (text or "").strip()
    text = re.sub(r"^\s*#?\s*(Rewritten|Created)\s+Prompt\s*#?\s*:?\s*", "", text, flags=re.I)
    return text.strip()


def only_stop_words(text: str) -> bool:
    words = re.findall(r"[A-Za-z0-9]+", text or "")
    return all(w.lower() in STOP_WORDS for w in words)


class EvolInstruct(Method):
    name = "evol-instruct"
    description = ("WizardLM's Evol-Instruct: in-depth (constraints, deepening, concretizing, reasoning) and in-breadth "
                   "mutations of the pool's instructions, with the paper's elimination rules")
    reference = "Xu et al. 2023, WizardLM (arXiv:2304.12244), github.com/nlpxucan/WizardLM (Evol_Instruct)"
    version = "evol-instruct/1"
    options = {"prompts_per_round": 4, "mutations": list(MUTATIONS),
               "sampling": {"temperature": 1.0, "top_p": 0.95, "max_tokens": 2048},
               "judge_sampling": {"temperature": 0.0, "max_tokens": 5},
               "answer_sampling": {"temperature": 0.7, "max_tokens": 2048}}

    def round(self, state: State, session, opts: dict) -> list[Candidate]:
        cap = opts.get("max_tokens_cap")
        pool = state.seeds + state.machine
        picks = []
        for _ in range(int(opts["prompts_per_round"])):
            parent = state.rng.choice(pool)
            picks.append((parent, state.rng.choice(list(opts["mutations"]))))
        payloads = [{**chat(rewrite_prompt(m, given_prompt(p.instruction, p.input)), opts["sampling"], cap),
                     "seed": state.rng.randrange(2**31)} for p, m in picks]
        cands: list[Candidate] = []
        for (parent, mutation), reply in zip(picks, session.ask_many(payloads)):
            why = failed(reply)
            if why == "budget":
                continue
            cand = Candidate(clean_rewrite(reply.get("text")), seed_ids=[parent.record_id], requests=[reply["key"]],
                             extra={"mutation": mutation, "parent": parent.record_id})
            if why:
                cand.reason, cand.detail = "failed", why
            elif not cand.instruction:
                cand.reason, cand.detail = "parse", "empty rewrite"
            elif COPIED.search(cand.instruction):
                cand.reason, cand.detail = "copied_prompt", COPIED.search(cand.instruction).group(0)
            else:
                cand.passed.append("copied_prompt")
            cands.append(cand)
        live = [c for c in cands if c.reason is None]
        parents = {p.record_id: p for p, _ in picks}
        judged = session.ask_many([chat(EQUAL.format(first=given_prompt(parents[c.extra["parent"]].instruction,
                                                                        parents[c.extra["parent"]].input),
                                                     second=c.instruction), opts["judge_sampling"], cap) for c in live])
        for c, reply in zip(live, judged):
            c.requests.append(reply["key"])
            why = failed(reply)
            if why:
                c.reason, c.detail = ("budget" if why == "budget" else "failed"), why
            elif re.search(r"\bequal\b", reply["text"], re.I) and not re.search(r"\bnot\s+equal\b", reply["text"], re.I):
                c.reason, c.detail = "no_gain", "judged equal to the instruction it evolved from"
            else:
                c.passed.append("no_gain")
        live = [c for c in cands if c.reason is None]
        answers = session.ask_many([chat(c.instruction, opts["answer_sampling"], cap) for c in live])
        for c, reply in zip(live, answers):
            c.requests.append(reply["key"])
            why = failed(reply)
            if why:
                c.reason, c.detail = ("budget" if why == "budget" else "failed"), why
                continue
            c.output = (reply["text"] or "").strip()
            if "sorry" in c.output.lower() and len(c.output.split()) < 80:
                c.reason, c.detail = "refusal", c.output[:120]
            elif only_stop_words(c.output):
                c.reason, c.detail = "empty_response", c.output[:120] or "(empty)"
            else:
                c.passed += ["refusal", "empty_response"]
        for c in cands:
            if c.reason is None:
                state.novelty.add(c.instruction)
        return [c for c in cands if c.reason != "budget"]

    def estimate(self, state: State, n: int, opts: dict) -> list[tuple[dict, int]]:
        cap = opts.get("max_tokens_cap")
        seed = state.seeds[0] if state.seeds else None
        prompt = given_prompt(seed.instruction, seed.input) if seed else "Name a task."
        return [(chat(rewrite_prompt("constraints", prompt), opts["sampling"], cap), n),
                (chat(EQUAL.format(first=prompt, second=prompt), opts["judge_sampling"], cap), n),
                (chat(prompt, opts["answer_sampling"], cap), n)]


METHOD = EvolInstruct()
