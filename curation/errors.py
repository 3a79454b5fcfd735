"""The one exception type the library raises for problems a user can fix."""


class CurationError(Exception):
    """A problem with the user's input or workspace, with a message that says the fix."""
