"""Whisper-style JSON (.json): `{"segments": [{"start", "end", "text", "speaker"?}, …]}` (openai-whisper, WhisperX,
faster-whisper dumps). Without a `speaker` field, a `NAME:` prefix of the text names the speaker.

Each segment's line in the file is found, so a segment with a bad time is one problem with its line.
"""

from __future__ import annotations

import json
import re

import orjson

from curation.readers import LineCounter, Problem, dumps_raw
from curation.transcripts.model import Transcript, Turn, split_prefix

SEGMENTS = re.compile(r'(?<!\\)"segments"\s*:\s*\[')


def segment_lines(text: str, count: int) -> list[int | None]:
    """The line on which each segment of the top-level `segments` list starts."""
    line_of = LineCounter(text)
    decoder = json.JSONDecoder()
    m = SEGMENTS.search(text)
    lines: list[int | None] = []
    pos = m.end() if m else len(text)
    while m and len(lines) < count:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        lines.append(line_of(pos))
        try:
            _, pos = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError):
            break
    return lines + [None] * (count - len(lines))


def seconds(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        return None
    return float(value)


def read(name: str, text: str) -> Transcript:
    out = Transcript(name, "whisper")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        pos = getattr(exc, "pos", 0) or 0
        out.problems.append(Problem(name, text.count("\n", 0, pos) + 1, f"invalid JSON: {exc}"))
        return out
    segments = value.get("segments") if isinstance(value, dict) else None
    if not isinstance(segments, list):
        out.problems.append(Problem(name, None, 'not a Whisper transcript: expected an object with a "segments" list'))
        return out
    lines = segment_lines(text, len(segments))
    previous = None
    for i, (segment, line) in enumerate(zip(segments, lines), 1):
        raw = dumps_raw(segment)
        if not isinstance(segment, dict):
            out.problems.append(Problem(name, line, f"segment {i} is {type(segment).__name__}, expected an object", raw))
            continue
        begin, end = seconds(segment.get("start")), seconds(segment.get("end"))
        if begin is None or end is None:
            bad = "start" if begin is None else "end"
            out.problems.append(Problem(name, line, f"segment {i}: malformed timestamp {bad}={segment.get(bad)!r} "
                                                    "(expected seconds, a number ≥ 0)", raw))
            continue
        if end < begin:
            out.problems.append(Problem(name, line, f"segment {i} ends ({end:.3f} s) before it starts ({begin:.3f} s)", raw))
            continue
        said = segment.get("text")
        if not isinstance(said, str):
            out.problems.append(Problem(name, line, f"segment {i}: missing text", raw))
            continue
        speaker = segment.get("speaker")
        if not isinstance(speaker, str) or not speaker.strip():
            speaker, said = split_prefix(said.strip())
        speaker = (speaker or previous or "Speaker").strip()
        previous = speaker
        if said.strip():
            out.turns.append(Turn(speaker, said.strip(), begin, end, line or 1, line))
    if out.turns and len({t.speaker for t in out.turns}) == 1 and out.turns[0].speaker == "Speaker":
        out.warnings.append(f"{name}: no speaker labels (no \"speaker\" field, no `Name:` prefix): the whole file is one "
                            "speaker; diarize it first (e.g. WhisperX) to get conversations")
    return out


def sniff(text: str) -> bool:
    """A JSON object with a `segments` list of objects that have start, end and text."""
    if not text.lstrip("\ufeff \t\r\n").startswith("{") or not SEGMENTS.search(text):
        return False
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    segments = value.get("segments") if isinstance(value, dict) else None
    return (isinstance(segments, list) and bool(segments)
            and all(isinstance(s, dict) and {"start", "end", "text"} <= set(s) for s in segments[:20]))
