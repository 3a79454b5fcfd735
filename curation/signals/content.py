"""Signals about the output itself: empty, too short for what was asked, a copy
of the prompt, degenerate repetition, cut off."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from curation.signals.base import MAX_FOUND, Signal, Texts, result
from curation.signals.cleaning import clean_output
from curation.signals.evidence import Evidence
from curation.signals.task import LONG_FORM, LONG_FORM_ANYWHERE, TOOL_CALL, Task


def empty_output(texts: Texts) -> pd.DataFrame:
    """Empty or only white space once the end-of-text markers that close it are stripped (`<|endoftext|>` alone is empty)."""
    empty = np.array([not clean_output(o).strip() for o in texts.output])
    return result(empty.astype(float), [[Evidence("", note="output is empty")] if e else None for e in empty])


def short_output(texts: Texts) -> pd.DataFrame:
    """Words in the output, for requests that ask for long-form text (NaN where a short answer is right: a choice, a
    class, an extraction, a title, an explicit length such as "in 3 words")."""
    head = pc.utf8_slice_codeunits(texts.arrow(texts.instruction), 0, 400)
    tail = pc.utf8_slice_codeunits(texts.arrow(texts.instruction), -400)
    hint = f"({LONG_FORM.pattern})|({LONG_FORM_ANYWHERE.pattern})"
    maybe = np.asarray(pc.or_(pc.match_substring_regex(head, hint), pc.match_substring_regex(tail, hint))
                       .to_numpy(zero_copy_only=False), dtype=bool)  # a request opens or closes the instruction
    score = np.full(texts.n, np.nan)
    found: list = [None] * texts.n
    for i in np.flatnonzero(maybe):
        output = clean_output(texts.output.iat[i])
        words = len(output.split())
        task = texts.task(i)
        if words == 0 or not task.long_form or task.short:  # empty outputs are empty_output's
            continue
        if task.tools and _is_tool_call(output):
            continue  # the answer is the tool's
        score[i] = words
        found[i] = [Evidence(str(words), note="{value} word(s) for a long-form request")]
    return result(score, found)


def _norm(s: str) -> str:
    """Lower case, white space collapsed; punctuation is kept (an answer that adds a formula or a regex adds mostly that)."""
    return " ".join(s.lower().split())


def _same(a: str, b: str) -> bool:
    """The same text, line by line, but for spaces (a paragraph break made is an edit; trailing spaces are not)."""
    def lines(t: str) -> list[str]:
        return [" ".join(ln.split()) for ln in t.strip().split("\n")]
    return lines(a) == lines(b)


def _is_tool_call(output: str) -> bool:
    """The output is mostly calls of a tool on a quoted argument (`weather('Tokyo today')`), as tool-use data is."""
    rest = TOOL_CALL.sub("", output)
    return len(rest.strip()) < 0.3 * len(output.strip())


def repeats_prompt(texts: Texts) -> pd.DataFrame:
    """Similarity (0–1, normalised Indel as difflib's ratio) of the output to the instruction or the input, whichever is
    higher. For an edit task (rewrite, correct, convert, translate…) a near-copy is the answer: there only an output
    identical to the text it was to change counts (score 1, "the edit was not made"). Tool calls on the input's words
    do not count."""
    from rapidfuzz.distance import Indel

    score = np.zeros(texts.n)
    found: list = [None] * texts.n
    lengths = {name: getattr(texts, name).str.len().to_numpy() for name in ("output", "instruction", "input")}
    for name in ("instruction", "input"):
        ratio = lengths["output"] / np.maximum(lengths[name], 1)
        candidates = np.flatnonzero((lengths["output"] > 0) & (lengths[name] > 0) & (ratio >= 0.5) & (ratio <= 2))
        other = getattr(texts, name)
        for i in candidates:
            out, given = texts.output.iat[i], other.iat[i]
            sim = Indel.normalized_similarity(_norm(out), _norm(given), score_cutoff=max(score[i], 0.5))
            if sim <= score[i] or sim < 0.5:
                continue
            task = texts.task(i)
            if task.tools and _is_tool_call(out):
                continue
            if task.edit:
                if _same(clean_output(out), given):
                    score[i] = 1.0
                    found[i] = [Evidence("identical", note=f"output is {{value}} to the {name}: the edit was not made")]
                continue
            score[i] = sim
            found[i] = [Evidence(f"{sim:.0%}", note=f"output is {{value}} the same as the {name}")]
    return result(score, found)


# A line that only labels what follows ("Monday:", "Chorus:", "## Day 2"): structured text, whose blocks may recur.
HEADER = re.compile(r"(?m)^[ \t]*(?:#{1,6}[ \t]+[^\n]{1,40}|\*\*[^\n*]{1,40}\*\*:?|[\w ,&'()/-]{1,30}:)[ \t]*$")
BLOCK = 8  # words: a repeated run at least this long is a repeated block, not a shared phrase
MIN_RUN = 20  # words: only repeated stretches this long count (parallel sentences share shorter ones)


def _repeated_share(words: list[str], free: int = 1) -> float:
    """Share of the words that lie in a stretch of at least `MIN_RUN` words repeating blocks of `BLOCK` words met `free`
    times before (a chorus may come back `free` times)."""
    if len(words) < BLOCK + MIN_RUN:
        return 0.0
    seen: dict = {}
    covered = np.zeros(len(words) + 1, dtype=bool)
    for k in range(len(words) - BLOCK + 1):
        gram = tuple(words[k : k + BLOCK])
        seen[gram] = seen.get(gram, 0) + 1
        if seen[gram] > free:
            covered[k : k + BLOCK] = True
    edges = np.flatnonzero(np.diff(np.concatenate(([False], covered)).astype(np.int8)))
    runs = edges[1::2] - edges[::2]  # lengths of the covered stretches (the sentinel closes the last one)
    return float(runs[runs >= MIN_RUN].sum() / len(words))


def repetition(texts: Texts) -> pd.DataFrame:
    """Share of the output (0–1) in long stretches (20+ words) that repeat what was already said: loops and pasted
    copies, not parallel sentences ("The first station … The second station …") nor the repeated short lines of
    structured text (an outline's sub-headings). In a song or poem, or text laid out under headers ("Monday:",
    "Chorus:"), a block may come back three times (a chorus, the same routine on two days)."""
    score = np.zeros(texts.n)
    found: list = [None] * texts.n
    for i, out in enumerate(texts.output):
        if len(out) < 80:
            continue
        words = re.findall(r"\w+", TOOL_CALL.sub(" ", out).lower())  # a tool call restating the question is no loop
        s = _repeated_share(words)
        if s > 0 and (texts.task(i).verse or len(HEADER.findall(out)) >= 3):
            s = _repeated_share(words, free=3)
        score[i] = s
        if s == 0:
            continue
        lines = [ln.strip() for ln in out.split("\n") if len(ln.strip()) >= 20]
        line_dup = 1 - len(set(lines)) / len(lines) if len(lines) >= 4 else 0.0
        raw = out.lower().split()
        gram_dup, top = 0.0, None
        if len(raw) >= 30:
            grams = list(zip(raw, raw[1:], raw[2:], raw[3:]))
            counts: dict = {}
            for g in grams:
                counts[g] = counts.get(g, 0) + 1
            gram_dup = 1 - len(counts) / len(grams)
            top = max(counts.items(), key=lambda kv: kv[1])
        if top is not None and top[1] > 1 and gram_dup >= line_dup:
            found[i] = _gram_evidence(out, top[0], top[1])
        elif line_dup > 0:
            line = max(set(lines), key=lines.count)
            found[i] = _line_evidence(out, line, lines.count(line))
        else:
            found[i] = [Evidence(f"{s:.0%}", note="{value} of the output repeats blocks of 8+ words")]
    return result(score, found)


def _gram_evidence(out: str, gram: tuple[str, ...], count: int) -> list[Evidence]:
    """Where the repeated word 4-gram occurs (any case, any white space between its words)."""
    note = f"'{{value}}' × {count}"
    pattern = re.compile(r"(?<!\S)" + r"\s+".join(re.escape(w) for w in gram) + r"(?!\S)", re.IGNORECASE)
    spans = [m.span() for m in pattern.finditer(out)][:MAX_FOUND]
    return [Evidence(out[lo:hi], "output", lo, hi, note) for lo, hi in spans] or [Evidence(" ".join(gram), note=note)]


def _line_evidence(out: str, line: str, count: int) -> list[Evidence]:
    """Where the repeated line occurs (each copy, without its surrounding white space)."""
    found, offset = [], 0
    for raw in out.split("\n"):
        if raw.strip() == line and len(found) < MAX_FOUND:
            lo = offset + len(raw) - len(raw.lstrip())
            found.append(Evidence(line, "output", lo, lo + len(line), f"line repeated × {count}: {{value:.80}}"))
        offset += len(raw) + 1
    return found


LIST_ITEM = re.compile(r"^\s*([-*•]|\d+[.)]|[a-z][.)])\s")
# Words that cannot end an English sentence (an article, a conjunction, a subject pronoun, a possessive, a verb that
# needs its object) …
STOP_ENDINGS = {"the", "a", "an", "and", "or", "but", "nor", "than", "because", "although", "though", "unless", "whether",
                "such", "including", "whose", "my", "your", "their", "our", "its", "he", "she", "they", "we", "i",
                # verbs that cannot go without their object
                "include", "includes", "involve", "involves", "contain", "contains", "comprise", "comprises", "namely"}
# … and words that rarely do, but can in an answer's fragment ("someone to swim with", "is a list of", "closes in").
WEAK_ENDINGS = {"of", "to", "in", "on", "with", "for", "from", "by", "as", "is", "are", "was", "were", "like", "that", "which",
                "while", "if", "when", "then", "so", "at", "into", "about", "this", "these", "those"}
CLOSERS = ".!?…:;\"'”’)]}*`>|"
# A calculation or a quantity ends the last line: "= 24 cans", "… 360 sq in", "1500 elephants/hour".
FORMULA = re.compile(r"=\s*[-+]?[$€£]?\d|\d[\d,.]*\s*(%|[$€£])?\s*(?:[A-Za-z/²³^°]{1,12}(?:\s+[A-Za-z/²³^°]{1,12})?)?$")
SIGN_OFF = re.compile(
    r"(?i)(?:^|[.!?]\s+|\n)(?:sincerely|regards|best(?: regards| wishes)?|kind regards|warm(?:est)? regards|cheers|yours"
    r"(?: truly| sincerely| faithfully)?|love|warmly|respectfully|thanks|thank you|with (?:\w+\s+){0,3}?(?:respect|love|gratitude|"
    r"hope|regards|thanks|best wishes))\s*[,!]?\s+(?:[\w.'-]+\s*){1,5}$"
)
EMOTICON = re.compile(r"[:;=]'?-?[()\[\]]")  # :( ;) :-]
SENTENCE_STOP = re.compile(r"[.!?…][\"'”’)\]]*(?:\s|$)")


def _in_output(out: str, value: str, note: str) -> Evidence:
    """Evidence at the last occurrence of `value` in the output (about the output as a whole if it is not there as such)."""
    at = out.rfind(value)
    return Evidence(value, "output", at, at + len(value), note) if at >= 0 and value else Evidence(value, note=note)


def _structured(text: str) -> bool:
    """Lines laid out without sentence punctuation (a menu, a timeline, lyrics, a table): most lines end bare."""
    lines = [ln.strip() for ln in text.split("\n") if len(ln.split()) >= 6]  # headings do not count
    return len(lines) >= 3 and sum(ln[-1] not in CLOSERS for ln in lines) >= 0.5 * len(lines)


def _truncation(out: str, task: Callable[[], Task]) -> Evidence | None:
    """Why the output looks cut off, if it does. Open code fences and brackets always count (emoticons aside); a word
    that cannot end a sentence ("the", "and", "because", "their") counts unless the last line is a calculation; in
    punctuated prose asked to be long (an article, a story, an explanation), so does a word that rarely ends one ("of",
    "with") or a last sentence without its full stop. Headlines, lyrics, lists, menus, dialogue turns and one-line
    answers end bare by nature."""
    text = clean_output(out).rstrip()
    if not text:
        return None
    if text.count("```") % 2 == 1:
        return _in_output(out, "```", "unclosed code fence")
    if "```" in text:
        return None
    bare = EMOTICON.sub(" ", text)
    for opening, closing in ("()", "[]", "{}"):
        if bare.count(opening) - bare.count(closing) >= 1 and not bare.endswith(closing):
            return _in_output(out, opening, "unclosed {value!r}")
    last = text.split("\n")[-1].strip()
    words = last.split()
    if len(text.split(None, 2)) < 3 or not words or LIST_ITEM.match(last) or last[-1] in CLOSERS or last[-1].isdigit():
        return None
    if FORMULA.search(last) and re.search(r"\d", last):
        return None
    ending = re.sub(r"\W+$", "", words[-1])
    if ending.lower() in STOP_ENDINGS and ending != "A":  # a capital A is an option's letter
        return _in_output(out, last[-60:], "ends mid-sentence: …{value}")
    tail = re.split(r"(?<=[.!?])\s+", last)[-1].split()
    if len(words) > len(tail) and len(tail) <= 2 and tail[0][:1].isupper() and ending.lower() in WEAK_ENDINGS:
        return _in_output(out, last[-60:], "ends mid-sentence: …{value}")  # a new sentence begun and left: "… reduction. For"
    if SIGN_OFF.search(text[-120:]) or _structured(text):
        return None
    before = text[: len(text) - len(last)] + " ".join(re.split(r"(?<=[.!?])\s+", last)[:-1])
    if not SENTENCE_STOP.search(before):  # no sentence of it ends with a stop: fragments by style, not a cut
        return None
    asks = task()
    if not asks.long_form or asks.list or asks.title or asks.continuation or asks.verse:
        return None
    if last.endswith(",") or ending.lower() in WEAK_ENDINGS:
        return _in_output(out, last[-60:], "ends mid-sentence: …{value}")
    if len(words) < 8 or not words[-1][:1].islower() or not re.fullmatch(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", ending):
        return None
    return _in_output(out, last[-60:], "ends without punctuation: …{value}")


def truncated(texts: Texts) -> pd.DataFrame:
    found = [_truncation(o, functools.partial(texts.task, i)) if o else None for i, o in enumerate(texts.output)]
    return result([e is not None for e in found], [[e] if e else None for e in found])


SIGNALS = [
    Signal("empty_output", "The output is empty or only whitespace.", "empty_output", "flag", empty_output, severity=1.0),
    Signal("short_output", "A very short output for an instruction that asks for long-form text (essay, explanation, story…); "
           "short answers to classification or extraction are fine.", "short_output", "below", short_output, threshold=5, unit="words",
           severity=0.6),
    Signal("repeats_prompt", "The output repeats the instruction or the input (similarity 0–1).", "repeats_prompt", "above",
           repeats_prompt, threshold=0.9, unit="similarity", severity=0.7),
    Signal("repetition", "Degenerate repetition: the share of repeated lines or word 4-grams in the output.", "repetition", "above",
           repetition, threshold=0.35, unit="share", severity=0.7),
    Signal("truncated", "The output is cut off: ends mid-sentence, or leaves a code fence or bracket open.", "truncated", "flag",
           truncated, severity=0.6),
]
