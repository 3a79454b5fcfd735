"""What every format shares: the row-level error, field coercion, the Format shape.

A format converts source rows (dicts) into partial records: dicts with the
text fields, `messages`, `meta`, and optionally `source`. `to_source` turns the
records of one source row back into that row, so nothing is lost either way.
"""

from __future__ import annotations

from dataclasses import dataclass


class RowError(ValueError):
    """A source row that cannot become a record; the message says why."""


def as_text(row: dict, key: str, *, required: bool = True) -> str:
    """The field as text: numbers become text, null/missing are errors when required."""
    if key not in row or row[key] is None:
        if required:
            raise RowError(f"missing required field {key!r}" if key not in row else f"field {key!r} is null")
        return ""
    value = row[key]
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    kind = "a list" if isinstance(value, list) else "a nested object"
    raise RowError(f"field {key!r} is {kind}, expected text")


def rest(row: dict, used: tuple[str, ...]) -> dict:
    """Every field of the row not consumed by the format: kept untouched as meta."""
    return {k: v for k, v in row.items() if k not in used}


def last_exchange(messages: list[dict]) -> dict:
    """Fill the tuple fields from a conversation: its system prompt and last exchange."""
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    last_assistant = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last_assistant is None:
        users = [m["content"] for m in messages if m["role"] == "user"]
        return {"system": system, "instruction": users[-1] if users else "", "input": "", "output": ""}
    before = [m["content"] for m in messages[:last_assistant] if m["role"] == "user"]
    return {
        "system": system,
        "instruction": before[-1] if before else "",
        "input": "",
        "output": messages[last_assistant]["content"],
    }


@dataclass(frozen=True)
class Format:
    """A source format: how to recognise a row and convert it both ways."""

    name: str
    description: str
    # Keys whose presence in a row identifies the format (all must be present).
    keys: tuple[str, ...]

    def matches(self, row: dict) -> bool:
        return all(k in row for k in self.keys)

    def to_records(self, row: dict) -> list[dict]:
        raise NotImplementedError

    def to_source(self, records: list[dict]) -> list[dict]:
        """The source rows that the given records came from (one per record by default)."""
        return [self.record_to_row(r) for r in records]

    def record_to_row(self, record: dict) -> dict:
        raise NotImplementedError

    def convert(self, rows: list[tuple[int, dict]]):
        """Yield (row_number, sub_index, partial_record) and collect RowErrors per row."""
        for number, row in rows:
            try:
                records = self.to_records(row)
            except RowError as exc:
                yield number, None, exc
                continue
            for sub, rec in enumerate(records):
                yield number, sub, rec
