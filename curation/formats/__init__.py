"""The format registry: every source format we read, looked up by name.

`detect` picks the format of a file from its rows; a row that fits another
format than the file's main one is converted with its own (mixed files load).
"""

from __future__ import annotations

from curation.errors import CurationError, UnknownFormat
from curation.formats.base import Format, RowError
from curation.formats.conversation import MESSAGES, SHAREGPT
from curation.formats.instruction import ALPACA, DOLLY, PROMPT_COMPLETION, mapped
from curation.formats.oasst import OASST
from curation.formats.self_instruct import SELF_INSTRUCT

# Order matters for detection: the most specific key sets first.
FORMATS: dict[str, Format] = {
    f.name: f for f in (OASST, SHAREGPT, MESSAGES, SELF_INSTRUCT, DOLLY, ALPACA, PROMPT_COMPLETION)
}

__all__ = ["FORMATS", "Format", "RowError", "detect", "get_format", "mapped", "detect_row"]


def get_format(name: str, mapping: dict | None = None) -> Format:
    if mapping:
        try:
            return mapped(mapping)
        except RowError as exc:
            raise CurationError(f"bad column mapping: {exc}") from None
    try:
        return FORMATS[name]
    except KeyError:
        raise CurationError(f"unknown format {name!r}: choose one of {', '.join(FORMATS)}") from None


def detect_row(row) -> Format | None:
    if not isinstance(row, dict):
        return None
    return next((f for f in FORMATS.values() if f.matches(row)), None)


def detect(rows: list[tuple[int, dict]]) -> Format:
    """The format most of the first rows match; `UnknownFormat` (with the columns seen) when none does."""
    votes: dict[str, int] = {}
    for _, row in rows[:200]:
        fmt = detect_row(row)
        if fmt is not None:
            votes[fmt.name] = votes.get(fmt.name, 0) + 1
    if not votes:
        columns = sorted({k for _, r in rows[:200] if isinstance(r, dict) for k in r})
        raise UnknownFormat(
            f"could not detect the format: columns are {columns}; "
            "name one with --format, or map columns with --map instruction=COLUMN output=COLUMN",
            columns,
            dashboard=f"could not detect the format: columns are {columns}; choose one in the Format box, or say which column "
                      "holds each field in the form below (Map the columns)",
        )
    return FORMATS[max(votes, key=votes.get)]
