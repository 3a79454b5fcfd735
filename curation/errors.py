"""The exception types the library raises for problems a user can fix, and messages worded for each surface.

A message that names a command-line option (``--map``) says nothing to someone on the dashboard, where the same
fix is a form or a toggle. Such a message carries both wordings: ``str()`` is the command line's, ``.dashboard``
the dashboard's; `for_dashboard` picks the one a page shows. Errors take ``dashboard=``; warnings are `Phrased`.
"""

from __future__ import annotations


class CurationError(Exception):
    """A problem with the user's input or workspace, with a message that says the fix.

    `dashboard`: the same message for the dashboard where the command line's names an option (None: the same text)."""

    dashboard: str | None = None

    def __init__(self, *args, dashboard: str | None = None):
        super().__init__(*args)
        if dashboard is not None:
            self.dashboard = dashboard


class UnknownFormat(CurationError):
    """No format matches the rows of a source; `columns` are the columns its rows have, to map by hand."""

    def __init__(self, message: str, columns: list[str], *, dashboard: str | None = None):
        super().__init__(message, dashboard=dashboard)
        self.columns = columns


class Phrased(str):
    """A warning in two wordings: the string itself names command-line options (the CLI prints it, JSON holds it);
    `.dashboard` says where the dashboard does the same."""

    dashboard: str

    def __new__(cls, cli: str, dashboard: str):
        text = super().__new__(cls, cli)
        text.dashboard = dashboard
        return text

    def __reduce__(self):
        return Phrased, (str(self), self.dashboard)


def for_dashboard(message) -> str:
    """How a page words an error or warning: its dashboard wording where it has one, else its text."""
    return getattr(message, "dashboard", None) or str(message)
