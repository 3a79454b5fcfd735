"""The signal registry: every quality signal, looked up by name.

Each signal is computed once per record and cached by content (see
`curation.signals.compute`); flags come from the cached scores and the
thresholds in force, so moving a threshold never recomputes anything.
"""

from __future__ import annotations

from curation.errors import CurationError
from curation.signals import content, context, duplicates, hygiene, language, llm
from curation.signals.base import Signal

SIGNALS: dict[str, Signal] = {
    s.name: s
    for family in (content, llm, context, hygiene, language, duplicates)
    for s in family.SIGNALS
}


def get_signal(name: str) -> Signal:
    try:
        return SIGNALS[name]
    except KeyError:
        raise CurationError(f"unknown signal {name!r}: choose one of {', '.join(SIGNALS)}") from None


def by_reason(code: str) -> Signal:
    for s in SIGNALS.values():
        if s.reason == code or s.name == code:
            return s
    raise CurationError(f"unknown flag {code!r}: choose one of {', '.join(s.reason for s in SIGNALS.values())}")
