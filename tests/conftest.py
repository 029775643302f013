"""Shared test helpers: run the CLI in-process and parse its JSON strictly."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from gradsim.cli import app


def _no_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def strict_json(text: str) -> dict:
    """json.loads that refuses NaN and Infinity (RFC 8259)."""
    return json.loads(text, parse_constant=_no_constant)


class Run:
    """The CLI run in-process, with stdout and stderr apart."""

    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args: str, env: dict | None = None):
        return self.runner.invoke(app, [str(a) for a in args], env=env or {"NO_COLOR": "1"}, catch_exceptions=False)

    def json(self, *args: str) -> dict:
        result = self(*args, "-f", "json")
        assert result.exit_code == 0, result.stderr
        return strict_json(result.stdout)

    def usage_error(self, *args: str, option: str) -> str:
        """Assert exit 2, nothing on stdout, typer's error naming `option` on stderr; return stderr."""
        result = self(*args)
        assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
        assert result.stdout == ""
        assert "Error" in result.stderr and option in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        return result.stderr


@pytest.fixture
def run() -> Run:
    return Run()


# Every hypothesis test is reproducible, here as in CI: the same examples on every run (derandomize), no example
# database to carry state between runs, and a failing example printed with its reproduce blob.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("gradsim", derandomize=True, database=None, print_blob=True)
_hypothesis_settings.load_profile("gradsim")


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every pyplot figure a test left open (tests that read a figure back keep it; matplotlib warns past 20)."""
    yield
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")
