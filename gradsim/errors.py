"""The one exception the core raises."""

from __future__ import annotations


class GradsimError(ValueError):
    """Bad input to a core function; `option` names the command-line option it came from."""

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option


class OutputError(Exception):
    """Standard output cannot take the result (closed, a full disk, a reader that left); `broken_pipe` for the last."""

    def __init__(self, message: str, broken_pipe: bool = False):
        super().__init__(message)
        self.broken_pipe = broken_pipe
