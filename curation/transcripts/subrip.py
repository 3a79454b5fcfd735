"""SubRip (.srt): cues read with the `srt` package; the speaker from a `NAME:` prefix (SRT has no speaker field).

A cue without a prefix continues the previous speaker (captions often name a speaker only when it changes).
Each cue block is parsed on its own, so a malformed cue is one problem (file and line) and the rest loads.
"""

from __future__ import annotations

import re

from curation.readers import Problem
from curation.transcripts.model import Transcript, Turn, blocks, split_prefix

TIME = r"\d{1,2}:[0-5]\d:[0-5]\d[,.]\d{1,3}"
TIMING = re.compile(rf"^\s*{TIME}\s*-->\s*{TIME}(?:\s+.*)?$")
EXPECTED = "expected HH:MM:SS,mmm --> HH:MM:SS,mmm (minutes and seconds below 60)"


def read(name: str, text: str) -> Transcript:
    import srt

    out = Transcript(name, "srt")
    previous = None
    for start_line, lines in blocks(text.lstrip("\ufeff")):
        raw = "\n".join(lines)
        at = next((i for i, line in enumerate(lines[:2]) if "-->" in line), None)
        if at is None:
            out.problems.append(Problem(name, start_line, "a cue without a timing line (HH:MM:SS,mmm --> HH:MM:SS,mmm)", raw))
            continue
        if not TIMING.match(lines[at]):
            out.problems.append(Problem(name, start_line + at, f"malformed cue timing {lines[at].strip()!r}: {EXPECTED}", raw))
            continue
        block = ("\n".join(lines) if at == 1 else "0\n" + "\n".join(lines)) + "\n"
        try:
            subtitles = list(srt.parse(block))
        except (srt.SRTParseError, ValueError) as exc:
            out.problems.append(Problem(name, start_line, f"unreadable cue ({type(exc).__name__})", raw))
            continue
        if not subtitles:
            continue
        sub = subtitles[0]
        begin, end = sub.start.total_seconds(), sub.end.total_seconds()
        if end < begin:
            out.problems.append(Problem(name, start_line + at, f"the cue ends ({end:.3f} s) before it starts ({begin:.3f} s)", raw))
            continue
        speaker, said = split_prefix(sub.content)
        speaker = speaker or previous or "Speaker"
        previous = speaker
        said = re.sub(r"</?[a-zA-Z][^>]*>", "", said).strip()  # <i>, <b>, <font …> styling
        if said:
            out.turns.append(Turn(speaker, said, begin, end, start_line, start_line + len(lines) - 1))
    return out


def sniff(text: str) -> bool:
    head = [b for _, b in blocks(text[:4096].lstrip("\ufeff"))[:3]]
    return bool(head) and all(len(b) >= 2 and b[0].strip().isdigit() and "-->" in b[1] for b in head)
