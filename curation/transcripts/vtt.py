"""WebVTT (.vtt): cues read with webvtt-py; the speaker from a `<v Name>` voice span, else a `NAME:` prefix.

Each cue block is checked and parsed on its own, so a malformed cue is one problem (file and line) and the other
cues load; webvtt-py alone would drop a bad cue without saying so.
"""

from __future__ import annotations

import re

from curation.readers import Problem
from curation.transcripts.model import Transcript, Turn, blocks, clock, split_prefix

TIME = r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})"
TIMING = re.compile(rf"^\s*{TIME}\s+-->\s+{TIME}(?:\s+.*)?$")
SKIPPED = ("NOTE", "STYLE", "REGION")
EXPECTED = "expected HH:MM:SS.mmm --> HH:MM:SS.mmm (minutes and seconds below 60)"


def read(name: str, text: str) -> Transcript:
    out = Transcript(name, "vtt")
    found = blocks(text)
    if not found or not found[0][1][0].lstrip("\ufeff").startswith("WEBVTT"):
        out.problems.append(Problem(name, 1, "not a WebVTT file: its first line must be WEBVTT; the cues were read anyway"))
    cues = []  # (first line, lines from the timing line on, seconds at start and end, number of lines)
    for start_line, lines in found:
        if lines[0].lstrip("\ufeff").startswith("WEBVTT") or lines[0].split(" ", 1)[0] in SKIPPED:
            continue
        at = next((i for i, line in enumerate(lines[:2]) if "-->" in line), None)
        raw = "\n".join(lines)
        if at is None:
            out.problems.append(Problem(name, start_line, "a cue without a timing line (HH:MM:SS.mmm --> HH:MM:SS.mmm)", raw))
            continue
        timing = TIMING.match(lines[at])
        if not timing:
            out.problems.append(Problem(name, start_line + at, f"malformed cue timing {lines[at].strip()!r}: {EXPECTED}", raw))
            continue
        g = timing.groups()
        begin, end = clock(*g[:4]), clock(*g[4:])
        if end < begin:
            out.problems.append(Problem(name, start_line + at, f"the cue ends ({end:.3f} s) before it starts ({begin:.3f} s)", raw))
            continue
        cues.append((start_line, lines[at:], begin, end, len(lines)))
    previous = None
    for (start_line, _lines, begin, end, count), caption in zip(cues, captions_of(name, cues, out)):
        if caption is None:
            continue
        speaker, said = caption.voice, caption.text
        if not speaker:
            speaker, said = split_prefix(said)
        speaker = (speaker or previous or "Speaker").strip()
        previous = speaker
        if said.strip():
            out.turns.append(Turn(speaker, said.strip(), begin, end, start_line, start_line + count - 1))
    return out


def captions_of(name: str, cues: list, out: Transcript) -> list:
    """webvtt-py's caption for each checked cue: all cues parsed at once, or one by one (a cue it cannot read is a
    problem) when the counts differ."""
    import webvtt

    try:
        captions = webvtt.from_string("WEBVTT\n\n" + "\n\n".join("\n".join(c[1]) for c in cues)).captions
        if len(captions) == len(cues):
            return captions
    except Exception:  # webvtt-py raises its own error types; read cue by cue to find the one
        pass
    found = []
    for start_line, lines, *_ in cues:
        try:
            captions = webvtt.from_string("WEBVTT\n\n" + "\n".join(lines)).captions
        except Exception as exc:  # webvtt-py raises its own error types for a block it cannot read
            captions, reason = [], f"unreadable cue ({exc})"
        else:
            reason = "unreadable cue"
        if not captions:
            out.problems.append(Problem(name, start_line, reason, "\n".join(lines)))
        found.append(captions[0] if captions else None)
    return found


def sniff(text: str) -> bool:
    return text.lstrip("\ufeff \t\r\n").startswith("WEBVTT")
