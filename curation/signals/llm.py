"""Patterns of LLM-generated data that hurt training: refusals and "As an AI" disclaimers.

Both judge the output against what was asked: declining is the right answer when the record's tools
cannot do the task, when the given context does not hold the answer, or when the question cannot be
answered without more information; "As an AI" is in role when the instruction casts the model as an AI,
and a true statement when it is asked what it is or what it cannot do.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from curation.signals.base import MAX_FOUND, Signal, Texts, matches, result
from curation.signals.task import TOOL_CALL

# A refusal opens the output; a refusal quoted inside a story does not start it
# (an opening quote mark is not skipped).
NEGATION = r"(can'?t|cannot|can not|unable to|not able to|won'?t|will not|am not (?:able|allowed|permitted) to|do not have the ability to)"
# What an assistant declines to do for the person asking (not "I'm unable to come into work": an excuse asked for).
ACTS = (
    r"(help|assist|provide|comply|do (?:that|this|it|so)|fulfil|fulfill|create|generate|answer|write|share|browse|access|give|make"
    r"|support|engage|complete|perform|book|order|retrieve|find|search|look up|estimate|determine|predict|offer|recommend|tell"
    r"|say|discuss|produce|draw|display|read|summari[sz]e|see|view|open|play|translate|respond|continue|participate|express"
    r"|process|fetch|check|know|have|obtain|verify|describe|encourage|condone|promote|support|assist)"
)
APOLOGY = r"(i'?m sorry|i am sorry|sorry|i apologi[sz]e|my apologies|unfortunately)"
REFUSAL = (
    # An apology that opens the output and goes on to decline an act …
    r"(?i)^[\s*_#>-]*" + APOLOGY + r"[^.\n]{0,80}?\b" + NEGATION + r"\s+(?:\w+\s+){0,2}?" + ACTS + r"\b[^.\n]{0,60}"
    # … or declines on moral grounds ("I'm sorry, but as an AI language model, it is not ethical to…") …
    r"|^[\s*_#>-]*" + APOLOGY + r"[^.\n]{0,80}?\b(not ethical|unethical|not appropriate|inappropriate|harmful|offensive"
    r"|against (?:my|the) (?:guidelines|principles|policy|policies|programming))\b[^.\n]{0,60}"
    # … or a flat "I cannot help / As an AI, I am not able to browse".
    r"|^[\s*_#>-]*(as an ai[^.\n]{0,40}?,?\s*)?(i|i'?m|i am)\s+" + NEGATION + r"\s+" + ACTS + r"\b[^.\n]{0,60}"
)
# Why declining can be the right answer.
CAPABILITY = re.compile(r"(?i)\b(capabilit(?:y|ies)|functions?|external task|tools?|abilit(?:y|ies) to|limited to)\b")
CONTEXT_ONLY = re.compile(
    r"(?i)\b(if you don'?t know|if the (?:answer|question|information) (?:is not|isn'?t|cannot|can'?t)|answerable|unanswerable|"
    r"based (?:only |solely )?on the (?:given |following |provided )?(?:context|passage|text|article|paragraph)|"
    r"(?:use|using) (?:only )?the (?:following |given |provided )?(?:pieces of )?(?:context|passage|text))"
)
NOT_IN_CONTEXT = re.compile(
    r"(?i)\bthe (?:given |provided |above )?(?:context|passage|text|article|paragraph|document|information provided)"
    r"(?: given| provided)? (?:does not|doesn'?t|did not)\b"
)
MISSING_INFORMATION = re.compile(
    r"(?i)\b((?:without|need|needs|require|requires|requiring) (?:some |any )?(?:more|additional|further|enough|sufficient|the "
    r"necessary|specific|extra) (?:information|details|context|data|specifics)|(?:not enough|insufficient|no) "
    r"(?:information|details|context) (?:is |was )?(?:given|provided|available)|given only|(?:is|are) not (?:given|provided|specified)|"
    r"(?:more|additional) (?:information|details|context) (?:is|are) needed|without (?:receiving|seeing|having|being "
    r"(?:given|provided|shown)(?: with)?|access to) (?:the |a |an |any |some )?(?:entire |full |actual |complete |original |"
    r"additional |more |further )?(?:article|text|passage|document|input|image|file|information|details|context|data))\b"
)
VISUAL = re.compile(r"(?i)\b(graphic(?:al|s)?|visual(?:s|ly)?|images?|pictures?|charts?|graphs?|draw(?:ing|ings)?|display|"
                    r"videos?|audio|sounds?|plots?|diagrams?|illustrations?|photos?)\b")
REAL_TIME = re.compile(r"(?i)\b(real[- ]time|current|up[- ]to[- ]date|live|latest|internet|browse|online)\b")

AS_AN_AI = (
    r"(?i)\b(as an ai( language model| assistant| model| chatbot| system)?|as a (large )?language model|as an artificial "
    r"intelligence( language model| assistant)?|i am an ai( language model| assistant)?|i'?m an ai( language model| assistant)?)\b"
)


def _first_sentence_after(text: str, end: int) -> str:
    """The sentence around the match that ends at `end` (up to the next full stop)."""
    stop = re.search(r"[.!?\n]", text[end:])
    return text[: end + (stop.start() if stop else len(text) - end)]


def _declining_is_right(texts: Texts, i: int, output: str, said: str) -> bool:
    """Declining is the answer: a task the record's tools cannot do, an answer the given context does not hold, a
    question that cannot be answered without more information, a question about what the assistant cannot do, a
    chart or image a text model cannot draw."""
    task = texts.task(i)
    prompt = texts.prompt.iat[i]
    if task.tools and (CAPABILITY.search(output) or TOOL_CALL.search(output)):
        return True
    if CONTEXT_ONLY.search(prompt) or NOT_IN_CONTEXT.search(output[:400]):
        return True
    if MISSING_INFORMATION.search(output[:600]):
        return True
    if task.identity:
        return True
    return bool(task.artefact and VISUAL.search(said))


def outputs_matching(texts: Texts, pattern: str):
    """(row, output, compiled pattern) of every record whose output the pattern matches (found by the vectorised scan)."""
    output, compiled = texts.output, re.compile(pattern)
    for i in np.flatnonzero(matches(texts, output, pattern)):
        yield i, output.iat[i], compiled


def refusal(texts: Texts) -> pd.DataFrame:
    """The output opens by declining something it could do (an apology followed by "I can't help / provide / write…",
    or a moral refusal). Declines that are the right answer (see `_declining_is_right`) do not count."""
    score = np.zeros(texts.n)
    found: list = [None] * texts.n
    for i, out, compiled in outputs_matching(texts, REFUSAL):
        m = compiled.search(out)
        if m is None or _declining_is_right(texts, i, out, m.group(0)):
            continue
        score[i] = 1.0
        found[i] = [texts.found("output", i, *m.span())]
    return result(score, found)


def llm_boilerplate(texts: Texts) -> pd.DataFrame:
    """The output speaks "as an AI" where the task did not call for it: a needless disclaimer or a non-answer. Not when
    the instruction casts the model as an AI (role play), asks what it is or what it cannot do, declares tools (saying
    what they cannot do is true), or asks for live data or a drawing and the disclaimer says just that."""
    score = np.zeros(texts.n)
    found: list = [None] * texts.n
    for i, out, compiled in outputs_matching(texts, AS_AN_AI):
        task = texts.task(i)
        if task.ai_role or task.identity or task.tools:
            continue
        spans = []
        for m in compiled.finditer(out):
            said = _first_sentence_after(out, m.end())[m.start():]
            if task.live_data and REAL_TIME.search(said):
                continue
            if task.artefact and VISUAL.search(said):
                continue
            spans.append(m.span())
        if spans:
            score[i] = len(spans)
            found[i] = [texts.found("output", i, lo, hi) for lo, hi in spans[:MAX_FOUND]]
    return result(score, found)


SIGNALS = [
    Signal("refusal", "The output refuses a request it could fulfil (\"I'm sorry, but I can't…\"); declining a task the record's "
           "tools cannot do, or a question the given context or information cannot answer, is not a refusal.", "refusal", "flag",
           refusal, severity=0.9),
    Signal("llm_boilerplate", "The output speaks \"as an AI language model\" where the task did not call for it: a needless "
           "disclaimer or a non-answer (not in a role the instruction gives, nor about what the assistant is or cannot do).",
           "llm_boilerplate", "flag", llm_boilerplate, severity=0.4),
]
