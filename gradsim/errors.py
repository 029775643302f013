"""The one exception the core raises."""

from __future__ import annotations


class GradsimError(ValueError):
    """Bad input to a core function; `option` names the command-line option it came from."""

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option
