"""The exception types the library raises for problems a user can fix."""


class CurationError(Exception):
    """A problem with the user's input or workspace, with a message that says the fix."""


class UnknownFormat(CurationError):
    """No format matches the rows of a source; `columns` are the columns its rows have, to map by hand."""

    def __init__(self, message: str, columns: list[str]):
        super().__init__(message)
        self.columns = columns
