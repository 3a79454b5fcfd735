"""Call and meeting transcripts into conversations and training records (issue 16).

`READERS` is the registry of transcript formats (name -> reader with its description, suffix, `read` and
`sniff`); `SHAPES` the registry of record shapes. Light on purpose: webvtt-py and srt are imported only when a
file of theirs is read, so the command line's --help stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from curation.transcripts import plain, subrip, vtt, whisper
from curation.transcripts.collect import Options, collect, inspect, is_transcript_source, make_options, read_transcripts
from curation.transcripts.model import Transcript, Turn
from curation.transcripts.roles import ROLES
from curation.transcripts.shapes import SHAPES

FORMAT = "transcript"  # the name `ingest --format` takes for every transcript format (each file's by its suffix)


@dataclass(frozen=True)
class Reader:
    name: str
    description: str
    suffix: str
    read: Callable[[str, str], Transcript]
    sniff: Callable[[str], bool]


READERS: dict[str, Reader] = {r.name: r for r in (
    Reader("vtt", "WebVTT captions (.vtt); speaker from <v Name> or a Name: prefix", ".vtt", vtt.read, vtt.sniff),
    Reader("srt", "SubRip subtitles (.srt); speaker from a Name: prefix", ".srt", subrip.read, subrip.sniff),
    Reader("text", "speaker-labelled plain text (.txt): Agent: …, [00:01:02] Speaker 1: …, continuation lines",
           ".txt", plain.read, plain.sniff),
    Reader("whisper", "Whisper-style JSON (.json): segments with start, end, text and an optional speaker",
           ".json", whisper.read, whisper.sniff),
)}

__all__ = ["FORMAT", "READERS", "ROLES", "SHAPES", "Options", "Reader", "Transcript", "Turn", "collect", "inspect",
           "is_transcript_source", "make_options", "read_transcripts"]
