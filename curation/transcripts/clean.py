"""Cleaning turns: drop fillers and inline timestamps, drop turns left empty, merge a speaker's consecutive turns.

Fillers dropped anywhere: um, uh, erm, er, uhm, hmm, mm, ah (as whole words, with the comma after them).
Fillers dropped at the edges of a sentence only: "you know", "I mean", "like" (inside a sentence they can carry meaning).
A turn that is only a backchannel ("mm-hmm", "uh-huh", "mhm") is dropped, so the speaker it interrupted stays one turn.
Inline timestamps dropped: `<00:01:02.000>`, `[00:01:02]`, `(01:02)` and bare h:mm:ss readings; a bare "3:30"
(a time of day) is kept.
"""

from __future__ import annotations

import re
from dataclasses import replace

from curation.transcripts.model import Turn

FILLER = re.compile(r"(?<![\w'-])(?:u+m+|u+h+|e+r+m+|e+r|u+h+m+|h+m+|m+m+|a+h+)(?![\w'-])[,.…]*\s*", re.I)
BACKCHANNEL = re.compile(r"^(?:mm-?hmm+|uh-?huh|mhm+|hmm+|um+|uh+|erm+|ah+|mm+)[\s,.!?…-]*$", re.I)
EDGE_START = re.compile(r"^(?:(?:you know|i mean|like)\b[,.…]*\s*)+", re.I)
EDGE_END = re.compile(r"(?:[,\s]+(?:you know|i mean|like))+(?=[.?!…]*$)", re.I)
INLINE_TIME = re.compile(r"<\d{1,2}:\d{2}(?::\d{2})?(?:\.\d{1,3})?>|[\[(]\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?[\])]"
                         r"|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d{1,3})?\b")
SPACES = re.compile(r"[ \t]{2,}")
LOOSE_PUNCT = re.compile(r"\s+([,.?!;:])")
LEADING_PUNCT = re.compile(r"^[\s,;:…-]+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
LOWER_START = re.compile(r"(^|[.!?]\s+)([a-z])")


def clean_text(text: str, *, fillers: bool = True) -> str:
    """Text without inline timestamps and (when `fillers`) without filler words; caption line breaks become spaces."""
    text = SPACES.sub(" ", INLINE_TIME.sub(" ", text).replace("\r", " ").replace("\n", " ")).strip()
    if fillers:
        if BACKCHANNEL.match(text):
            return ""
        text = FILLER.sub("", text)
        sentences = [EDGE_END.sub("", EDGE_START.sub("", s)) for s in SENTENCE_END.split(text)]
        text = " ".join(s for s in sentences if s.strip())
        text = LOWER_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)  # "Lisbon. Um, so …" -> "Lisbon. So …"
    text = LEADING_PUNCT.sub("", LOOSE_PUNCT.sub(r"\1", SPACES.sub(" ", text))).strip()
    return re.sub(r",(?=[.?!])", "", text)  # "so, um." -> "so."


def clean(turns: list[Turn], *, fillers: bool = True) -> list[Turn]:
    """Cleaned copies of the turns; turns left empty are dropped."""
    out = []
    for turn in turns:
        text = clean_text(turn.text, fillers=fillers)
        if text:
            out.append(replace(turn, text=text))
    return out


def merge(turns: list[Turn], *, max_gap: float | None = None) -> list[Turn]:
    """Consecutive turns of one speaker as one turn (texts joined by a space), unless a silence longer than `max_gap`
    seconds lies between them (that gap may split the conversation)."""
    out: list[Turn] = []
    for turn in turns:
        last = out[-1] if out else None
        if last is not None and last.speaker == turn.speaker and not long_gap(last, turn, max_gap):
            out[-1] = replace(last, text=f"{last.text} {turn.text}", end=turn.end if turn.end is not None else last.end,
                              last_line=turn.last_line or turn.line)
        else:
            out.append(replace(turn))
    return out


def gap(before: Turn, after: Turn) -> float | None:
    """Seconds of silence between two turns, when the source has times (plain text without end times: none)."""
    if before.end is None or after.start is None:
        return None
    return after.start - before.end


def long_gap(before: Turn, after: Turn, max_gap: float | None) -> bool:
    g = gap(before, after)
    return max_gap is not None and g is not None and g > max_gap
