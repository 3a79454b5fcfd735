"""What every transcript reader produces: turns (speaker, text, time span, line) and the problems it met."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from curation.readers import Problem

# `NAME: text` at the start of a line or cue: a name of at most four words that starts with a letter.
SPEAKER_PREFIX = re.compile(r"^\s*(?:-\s*)?([A-Za-z][\w.'’()-]*(?: [\w.'’()-]+){0,3})\s*:\s+(.*)$", re.S)


@dataclass
class Turn:
    """One stretch of speech: who, what, when (seconds; None where the source has no times) and its first line."""

    speaker: str
    text: str
    start: float | None
    end: float | None
    line: int
    last_line: int | None = None


@dataclass
class Transcript:
    """The turns of one source file, in order, and the problems met reading it (the rest of the file still loads)."""

    file: str
    kind: str
    turns: list[Turn] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def split_prefix(text: str) -> tuple[str | None, str]:
    """(`NAME`, rest) for `NAME: rest`, else (None, text)."""
    m = SPEAKER_PREFIX.match(text)
    if not m:
        return None, text
    return m.group(1).strip(), m.group(2)


def blocks(text: str) -> list[tuple[int, list[str]]]:
    """The blank-line separated blocks of a text: (number of its first line, its lines)."""
    out: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 1
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            out.append((start, current))
            current = []
    if current:
        out.append((start, current))
    return out


def clock(h: str | None, m: str, s: str, frac: str | None) -> float:
    """Seconds of an h:mm:ss.fff clock reading (hours optional; fraction in , or . notation)."""
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + (int(frac.ljust(3, "0")[:3]) / 1000 if frac else 0.0)
