"""What a signal found, as data: where it is, what it is, and how a person reads it.

Every signal returns, per record, a list of `Evidence`:

- `field`: the record field it was found in (`system`, `instruction`, `input`,
  `output`, or `messages`, the conversation as stored JSON), or None when the
  evidence is about the record as a whole (a language code, a similarity, a
  word count, the id of the first copy);
- `start`, `end`: where in that field, so that `record[field][start:end] == value`;
- `value`: the matched text, or the measured value when there is no field;
- `note`: how it reads, a template of ours over `{value}` (`"email {value}"`,
  `"refers to {value!r}"`, `"line repeated × 4: {value:.80}"`); record text only
  ever enters it as `{value}`.

The signals cache keeps the list as JSON (`found__<signal>`) next to the line
`describe` renders from it (`evidence__<signal>`: what tables and captions show).
The Quality page marks the spans; nothing parses the line back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

MAX_SHOWN = 200  # characters of the rendered line


@dataclass(frozen=True)
class Evidence:
    value: str
    field: str | None = None
    start: int | None = None
    end: int | None = None
    note: str = "{value}"

    def text(self) -> str:
        """This piece of evidence as a person reads it."""
        return self.note.format(value=self.value)


def describe(found: list[Evidence] | None) -> str | None:
    """The one line people read for a record's evidence: each distinct piece once, joined by " | " (None: nothing found)."""
    if not found:
        return None
    return " | ".join(dict.fromkeys(e.text() for e in found))[:MAX_SHOWN]


def dumps(found: list[Evidence] | None) -> str | None:
    """The evidence as JSON for the signals cache: a list of {value, field, start, end, note} (None: nothing found)."""
    if not found:
        return None
    # The fields by hand (as `dataclasses.asdict` would give them, without its deep copies: the cache writes 100k+ of these).
    return json.dumps([{"value": e.value, "field": e.field, "start": e.start, "end": e.end, "note": e.note} for e in found],
                      ensure_ascii=False)


def loads(text: str | None) -> list[Evidence]:
    """The evidence back from the signals cache (an empty list for none)."""
    if not isinstance(text, str) or not text:
        return []
    return [Evidence(**item) for item in json.loads(text)]


def spans_in(found: list[Evidence], field: str) -> list[tuple[int, int]]:
    """The (start, end) spans of the evidence found in one field."""
    return [(e.start, e.end) for e in found if e.field == field and e.start is not None and e.end is not None]
