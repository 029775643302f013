"""The one exception the core raises."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GradsimError(ValueError):
    """Bad input to a core function; `option` names the command-line option it came from."""

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option


def suggestion(value: str, choices: Iterable[str]) -> str:
    """' Did you mean 'sigmoid'?' for the choice closest to `value` (difflib ratio >= 0.6), else ''."""
    close = difflib.get_close_matches(str(value).strip().lower(), list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def unknown(what: str, value: str, choices: Iterable[str], option: str) -> GradsimError:
    """The error for a name that is none of `choices`: the choices, and the closest one as a suggestion."""
    choices = tuple(choices)
    return GradsimError(f"unknown {what} {value!r}; choose from {', '.join(choices)}.{suggestion(value, choices)}",
                        option=option)


class OutputError(Exception):
    """Standard output cannot take the result (closed, a full disk, a reader that left); `broken_pipe` for the last."""

    def __init__(self, message: str, broken_pipe: bool = False):
        super().__init__(message)
        self.broken_pipe = broken_pipe
