"""Signals about the output itself: empty, too short for what was asked, a copy
of the prompt, degenerate repetition, cut off."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from curation.signals.base import MAX_FOUND, Signal, Texts, matches, result
from curation.signals.evidence import Evidence

SPECIAL_TOKENS = re.compile(r"<\|[a-z_]+\|>|</s>\s*$")

# Instructions that ask for long-form text, unless a short-answer cue says otherwise.
LONG_FORM = (
    r"(?i)\b(write|compose|draft|essay|explain|describe|discuss|elaborate|story|poem|article|paragraph|summari[sz]e|outline"
    r"|brainstorm|suggest|step[- ]by[- ]step|in detail|compare|analy[sz]e|plan|guide|tips|ways to|reasons)\b"
)
SHORT_ANSWER = (
    r"(?i)\b(classify|categori[sz]e|label|sentiment|true or false|yes or no|one word|single word|which of|choose|select|pick"
    r"|extract|identify|how many|how much|calculate|compute|translate|convert|rewrite|rephrase|paraphrase|correct|fix|name (a|an|one|the)"
    r"|title|headline|is (this|it|the)|does|do you|what is the (name|capital|date|number|value|answer)"
    r"|code|function|query|sql|html|css|regex|regular expression|tag|link|formula|command|one-liner|slogan|tweet|haiku|sentence)\b"
)


def empty_output(texts: Texts) -> pd.DataFrame:
    empty = texts.output.str.strip().str.len().to_numpy() == 0
    return result(empty.astype(float), [[Evidence("", note="output is empty")] if e else None for e in empty])


def short_output(texts: Texts) -> pd.DataFrame:
    """Words in the output, for instructions that ask for long-form text (NaN otherwise)."""
    long_form = matches(texts, texts.instruction, LONG_FORM) & ~matches(texts, texts.instruction, SHORT_ANSWER)
    words = texts.output.str.split().str.len().to_numpy(dtype=float)
    score = np.where(long_form & (words > 0), words, np.nan)  # empty outputs are empty_output's
    found = [[Evidence(str(int(w)), note="{value} word(s) for a long-form request")] if lf else None for w, lf in zip(words, long_form)]
    return result(score, found)


def _norm(s: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", s.lower()).split())


def repeats_prompt(texts: Texts) -> pd.DataFrame:
    """Similarity (0–1, normalised Indel as difflib's ratio) of the output to the instruction or the input, whichever is higher."""
    from rapidfuzz.distance import Indel

    score = np.zeros(texts.n)
    found: list = [None] * texts.n
    lengths = {name: getattr(texts, name).str.len().to_numpy() for name in ("output", "instruction", "input")}
    for name in ("instruction", "input"):
        ratio = lengths["output"] / np.maximum(lengths[name], 1)
        candidates = np.flatnonzero((lengths["output"] > 0) & (lengths[name] > 0) & (ratio >= 0.5) & (ratio <= 2))
        other = getattr(texts, name)
        for i in candidates:
            sim = Indel.normalized_similarity(_norm(texts.output.iat[i]), _norm(other.iat[i]), score_cutoff=max(score[i], 0.5))
            if sim > score[i]:
                score[i] = sim
                found[i] = [Evidence(f"{sim:.0%}", note=f"output is {{value}} the same as the {name}")]
    return result(score, found)


def repetition(texts: Texts) -> pd.DataFrame:
    """Share of repeated long lines or repeated word 4-grams in the output (0–1)."""
    score = np.zeros(texts.n)
    found: list = [None] * texts.n
    for i, out in enumerate(texts.output):
        if len(out) < 80:
            continue
        lines = [ln.strip() for ln in out.split("\n") if len(ln.strip()) >= 20]
        line_dup = 1 - len(set(lines)) / len(lines) if len(lines) >= 4 else 0.0
        words = out.lower().split()
        gram_dup, top = 0.0, None
        if len(words) >= 30:
            grams = list(zip(words, words[1:], words[2:], words[3:]))
            counts: dict = {}
            for g in grams:
                counts[g] = counts.get(g, 0) + 1
            gram_dup = 1 - len(counts) / len(grams)
            top = max(counts.items(), key=lambda kv: kv[1])
        s = max(line_dup, gram_dup)
        score[i] = s
        if s > 0 and top is not None and top[1] > 1 and gram_dup >= line_dup:
            found[i] = _gram_evidence(out, top[0], top[1])
        elif line_dup > 0:
            line = max(set(lines), key=lines.count)
            found[i] = _line_evidence(out, line, lines.count(line))
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
STOP_ENDINGS = {"the", "a", "an", "and", "or", "but", "of", "to", "in", "on", "with", "than", "that", "which", "for", "as", "is",
                "are", "was", "were", "by", "from", "including", "such", "like", "because", "while", "if", "when", "then", "so"}


def _in_output(out: str, value: str, note: str) -> Evidence:
    """Evidence at the last occurrence of `value` in the output (about the output as a whole if it is not there as such)."""
    at = out.rfind(value)
    return Evidence(value, "output", at, at + len(value), note) if at >= 0 and value else Evidence(value, note=note)


def _truncation(out: str) -> Evidence | None:
    text = SPECIAL_TOKENS.sub("", out).rstrip()
    if not text:
        return None
    if text.count("```") % 2 == 1:
        return _in_output(out, "```", "unclosed code fence")
    if "```" in text:
        return None
    for opening, closing in ("()", "[]", "{}"):
        if text.count(opening) - text.count(closing) >= 1 and not text.endswith(closing):
            return _in_output(out, opening, "unclosed {value!r}")
    last = text.split("\n")[-1].strip()
    words = last.split()
    if not words or LIST_ITEM.match(last) or last[-1] in ".!?…:;\"'”’)]}*`>|" or last[-1].isdigit():
        return None
    ending = re.sub(r"\W+$", "", words[-1].lower())
    if last.endswith(",") or ending in STOP_ENDINGS:
        return _in_output(out, last[-60:], "ends mid-sentence: …{value}")
    if len(words) >= 8 and words[-1][:1].islower():
        return _in_output(out, last[-60:], "ends without punctuation: …{value}")
    return None


def truncated(texts: Texts) -> pd.DataFrame:
    found = [_truncation(o) for o in texts.output]
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
