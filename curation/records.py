"""The canonical record: one training example, whatever format it came from."""

from __future__ import annotations

import hashlib

import orjson

SOURCES = ("human", "synthetic", "external", "unknown")

# Columns of the records table, in display order. `messages` and `meta` are
# stored as JSON text so that Parquet keeps one flat, fast schema.
COLUMNS = (
    "record_id",
    "dataset",
    "file",
    "row",
    "where",
    "format",
    "source",
    "system",
    "instruction",
    "input",
    "output",
    "messages",
    "meta",
)


def record_id(dataset: str, file: str, row: int, sub: int, content: bytes) -> str:
    """A stable id: the same row of the same file in the same dataset gets the same id."""
    h = hashlib.blake2b(digest_size=8)
    h.update(f"{dataset}\x1f{file}\x1f{row}\x1f{sub}\x1f".encode())
    h.update(content)
    return h.hexdigest()


def canonical_json(value) -> bytes:
    """Key-sorted JSON bytes, used to hash a source row."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def dumps(value) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def loads(text):
    """Decode a JSON column value; missing values (None, NaN, "") decode to None."""
    if not isinstance(text, str) or text == "":
        return None
    return orjson.loads(text)


def check_source(kind: str) -> str:
    from curation.errors import CurationError

    if kind not in SOURCES:
        raise CurationError(f"unknown source {kind!r}: choose one of {', '.join(SOURCES)}")
    return kind
