"""A big JSON Lines file read as a stream of rows (issue 18): bytes a block at a time, each line parsed as it comes.

`readers.read_file` holds the whole file as one text and every row in one list: a 1 GB file of a million rows took
over 9 GB. A `RowStream` holds one block of bytes and the rows its reader has not taken yet; ingest takes them a
slice at a time and stores each slice before reading on.

It reads a file exactly as `readers.read_jsonl` reads its decoded text, with the same guarantees:
- a line that is not valid UTF-8, not valid JSON or not an object is a `Problem` with its line number and raw
  text (undecodable bytes shown as \\xff escapes), and the other lines load; the Latin-1 warning when no line has
  UTF-8 accents, as `readers.decode` gives it;
- a byte-order mark at the start is skipped; line numbers count every "\\n", blank lines included;
- duplicate keys within a line are warned with the line number;
- `rows()` yields (line number, row) in the file's order; `problems` and `warnings` are complete once it is done.

Which files are streamed (`open_stream`): at least `STREAM_ABOVE` bytes, not CSV/TSV/Parquet, not UTF-16, whose
first non-blank line is one JSON object and which has more after it (JSON Lines by content, whatever the suffix).
Anything else (a JSON array, one pretty-printed object, a file whose first line is bad) takes the whole-file path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import orjson

from curation.errors import CurationError
from curation.readers import (
    BOM,
    TABLE_SUFFIXES,
    TOO_DEEP,
    Problem,
    count_keys,
    duplicate_keys,
    key_marks,
    latin1_warning,
    shown,
    unreadable,
    utf8_reason,
    utf16_encoding,
    warn_duplicates,
)

STREAM_ABOVE = 32 * 2**20  # bytes: a JSON Lines file this big or bigger is streamed (a whole-file read takes ~10x its size)
BLOCK = 4 * 2**20  # bytes read at a time
FIRST_LINE_LIMIT = 16 * 2**20  # content detection reads at most this far for the first row and what follows it
KEY_END = re.compile(rb'"[ \t\r\n]*:')  # readers.KEY_END on bytes: the same count (no UTF-8 sequence holds " or :)
NOT_STREAMED = {".parquet", *TABLE_SUFFIXES}


class RowStream:
    """The rows of one JSON Lines file, read as they are taken: the `Rows` of a file too big to hold (see module)."""

    unit = "line"

    def __init__(self, path: Path, name: str, start: int):
        self.path, self.name, self.start = path, name, start  # start: the first byte after a byte-order mark
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.lines_read = 0
        self.bytes_read = start  # for progress: how far into the file the reading is

    def rows(self) -> Iterator[tuple[int, dict]]:
        """(line number, row) of every line that holds a JSON object; the others become `problems`."""
        not_utf8, accented = 0, False
        duplicates: list[tuple[str, list[str]]] = []
        for number, line in enumerate(self.lines(), 1):
            self.lines_read = number
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)  # checks the UTF-8 too
            except orjson.JSONDecodeError:
                reason, text = self.why_unreadable(line)
                if reason is None:  # blank to str.strip (e.g. a no-break space), as readers.read_jsonl skips it
                    accented = accented or not line.isascii()
                    continue
                if reason.startswith("not valid UTF-8"):
                    not_utf8 += 1
                else:
                    accented = accented or not line.isascii()
                self.problems.append(Problem(self.name, number, reason, text))
                continue
            accented = accented or not line.isascii()
            if type(value) is not dict:
                self.problems.append(Problem(self.name, number, f"line is {type(value).__name__}, expected an object",
                                             line.decode("utf-8")))
                continue
            marks = len(KEY_END.findall(line))
            if marks > len(value):
                repeated = repeated_keys(line.decode("utf-8"), value, marks)
                if repeated:
                    duplicates.append((f"line {number}", repeated))
            yield number, value
        if not_utf8 and not accented:
            self.warnings.append(latin1_warning(self.name, not_utf8))
        warn_duplicates(self.name, duplicates, self.warnings)

    def why_unreadable(self, line: bytes) -> tuple[str | None, str]:
        """Why a line orjson refused is not a row, and its text for the rejects file; (None, text) for a blank line."""
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return utf8_reason(line, exc), shown(line.decode("utf-8", "surrogateescape"))
        if not text.strip():
            return None, text
        try:
            orjson.loads(text)  # again from the text, for the very message the whole-file reader gives
        except orjson.JSONDecodeError as exc:
            return (TOO_DEEP if "depth limit" in str(exc) else f"invalid JSON: {exc}"), text
        return "invalid JSON", text  # not reached: bytes and text parse alike

    def lines(self) -> Iterator[bytes]:
        """The file's lines after `start`, as `bytes.split(b"\\n")` gives them, a block at a time."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.start)
                yield from split_blocks(self.counted(iter(lambda: fh.read(BLOCK), b"")))
        except OSError as exc:
            raise CurationError(unreadable(str(self.path), exc)) from None


    def counted(self, blocks: Iterator[bytes]) -> Iterator[bytes]:
        for block in blocks:
            self.bytes_read += len(block)
            yield block

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def split_blocks(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """Lines of the concatenated blocks, split at b"\\n" (the last one too, even when empty)."""
    pending: list[bytes] = []  # pieces of a line that runs over block ends
    for block in blocks:
        lines = block.split(b"\n")
        if len(lines) == 1:
            pending.append(block)
            continue
        if pending:
            pending.append(lines[0])
            lines[0] = b"".join(pending)
            pending = []
        pending.append(lines.pop())
        yield from lines
    yield b"".join(pending)


def repeated_keys(text: str, value: dict, marks: int) -> list[str]:
    """The keys that repeat in the one-line object `text` (parsed as `value`), as readers.read_jsonl finds them."""
    if not key_marks(text, 0, len(text), count_keys([value]), marks):
        return []
    return duplicate_keys(text)


def open_stream(p: Path, name: str, stream_above: int) -> RowStream | None:
    """A `RowStream` of a file that is JSON Lines and at least `stream_above` bytes; None for any other file."""
    if p.suffix.lower() in NOT_STREAMED:
        return None
    try:
        if p.stat().st_size < max(stream_above, 1):
            return None
        with open(p, "rb") as fh:
            head = fh.read(FIRST_LINE_LIMIT)
    except OSError as exc:
        raise CurationError(unreadable(str(p), exc)) from None
    if utf16_encoding(head):
        return None  # the whole-file reader says how to convert it
    start = len(BOM) if head.startswith(BOM) else 0
    return RowStream(p, name, start) if is_json_lines(head[start:], len(head) < FIRST_LINE_LIMIT) else None


def is_json_lines(head: bytes, whole: bool) -> bool:
    """Whether `head`, the first bytes of a file (`whole`: all of it), starts with a line holding one JSON object and
    has more than blanks after it (then the file is not one JSON value: readers.read_json_text reads it as lines)."""
    pieces = head.split(b"\n")
    found = False
    for i, line in enumerate(pieces):
        if not line.strip():
            continue
        if found:
            return True
        if i == len(pieces) - 1 and not whole:
            return False  # the first row runs on past `head`
        try:
            found = type(orjson.loads(line)) is dict
        except orjson.JSONDecodeError:
            return False
        if not found:
            return False
    return False
