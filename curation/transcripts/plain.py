"""Speaker-labelled plain text (.txt): `Agent: …` / `Customer: …`, `[00:01:02] Speaker 1: …`, `00:01:02 Name: …`.

A line without a label continues the turn before it. A label seen once in a file whose speakers otherwise speak
several times (`Step 2: restart the router`) is read as a continuation too. A bracketed timestamp that is not a
clock reading (`[00:61:02]`) is a problem with its line; the line is not loaded.
"""

from __future__ import annotations

import re
from collections import Counter

from curation.readers import Problem
from curation.transcripts.model import Transcript, Turn, clock, split_prefix

STAMP = re.compile(r"^\s*[\[(]?((?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?)[\])]?\s+(.*)$")
CLOCK = re.compile(r"(?:(\d{1,2}):)?([0-5]?\d):([0-5]\d)(?:[.,](\d{1,3}))?")
# Bracketed digits and colons that fail CLOCK: a malformed timestamp, not speech.
LOOKS_STAMPED = re.compile(r"^\s*[\[(](?=[^\])]*:)([\d:.,]*\d[\d:.,a-zA-Z]*)[\])]\s")


def labelled(line: str) -> tuple[float | None, str | None, str, str | None]:
    """(seconds, speaker, text, problem) of one line. A bare (unbracketed) time counts only before a speaker label,
    so that `3:30 works for me` stays speech."""
    m = STAMP.match(line)
    if m and (line.lstrip()[0] in "[(" or split_prefix(m.group(2))[0]):
        c = CLOCK.fullmatch(m.group(1))
        if not c:
            return None, None, line, f"malformed timestamp {m.group(1)!r}: expected [HH:MM:SS] or [MM:SS] (below 60)"
        speaker, text = split_prefix(m.group(2))
        return clock(*c.groups()), speaker, text, None
    bad = LOOKS_STAMPED.match(line)
    if bad:
        return None, None, line, f"malformed timestamp {bad.group(1)!r}: expected [HH:MM:SS] or [MM:SS] (below 60)"
    speaker, text = split_prefix(line)
    return None, speaker, text, None


def read(name: str, text: str) -> Transcript:
    out = Transcript(name, "text")
    parsed = []
    for number, line in enumerate(text.lstrip("\ufeff").split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        seconds, speaker, said, problem = labelled(line)
        if problem:
            out.problems.append(Problem(name, number, problem, line))
            continue
        parsed.append((number, seconds, speaker, said))
    counts = Counter(s for _, _, s, _ in parsed if s)
    regulars = sum(1 for c in counts.values() if c >= 2)
    for number, seconds, speaker, said in parsed:
        if speaker and counts[speaker] == 1 and regulars >= 2 and out.turns and seconds is None:
            speaker, said = None, f"{speaker}: {said}"
        if speaker is None:
            if out.turns:  # a continuation line
                turn = out.turns[-1]
                turn.text = f"{turn.text}\n{said.strip()}"
                turn.last_line = number
                continue
            speaker = "Speaker"
        out.turns.append(Turn(speaker, said.strip(), seconds, None, number, number))
    for turn, following in zip(out.turns, out.turns[1:]):  # a turn lasts until the next one starts
        if turn.start is not None and following.start is not None and following.start >= turn.start:
            turn.end = following.start
    if not out.turns and not out.problems:
        out.problems.append(Problem(name, None, "no speaker-labelled lines (write `Name: text`, one turn a line)"))
    return out


def sniff(text: str) -> bool:
    """Whether a .txt file is a speaker-labelled transcript: not JSON, not tab-separated, and at least two speakers
    labelling a third or more of its first 40 lines."""
    head = [line for line in text[:8192].lstrip("\ufeff").split("\n")[:40] if line.strip()]
    if not head or head[0].lstrip().startswith(("{", "[")) and not STAMP.match(head[0]) or "\t" in head[0]:
        return False  # JSON, or a tab-separated table (read as TSV)
    speakers = [labelled(line)[1] for line in head]
    named = [s for s in speakers if s]
    return len(set(named)) >= 2 and len(named) >= max(2, len(head) // 3)
