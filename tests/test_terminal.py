"""What a person sees in a real terminal: narrow widths, odd environments, a stdout that fails."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from gradsim import render
from gradsim.cli import COMMANDS

NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?%?")


def numbers(text: str) -> set[str]:
    """Every number token printed, as written (1.4e+4, -0.5357, 139, 10%)."""
    return set(NUMBER.findall(text))


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("width", [60, 80, 100])
def test_every_number_is_whole_in_a_narrow_terminal(run, command, width):
    """Each line fits the terminal (so the terminal never wraps a number) and every number of the wide view is there."""
    wide = run(command, env={"NO_COLOR": "1", "COLUMNS": "1000"}).stdout
    narrow = run(command, env={"NO_COLOR": "1", "COLUMNS": str(width)}).stdout
    assert max(len(line) for line in narrow.splitlines()) <= width, narrow
    # a number of the wide view is a whole token of the narrow one (not cut into two tokens)
    missing = {n for n in numbers(wide) if n not in numbers(narrow)}
    assert not missing, (missing, narrow)


def test_fold_keeps_the_first_column_in_every_part_and_every_cell_once():
    t = render.Table(["layer"] + [f"col{i}" for i in range(9)],
                     [[str(j)] + [f"{j}.{i}23456789" for i in range(9)] for j in range(3)])
    parts = render.fold(t, 40)
    assert len(parts) > 1 and all(p.headers[0] == "layer" for p in parts)
    assert [h for p in parts for h in p.headers[1:]] == t.headers[1:]  # every column once, in order
    assert all(render._natural_width(p) <= 40 for p in parts)


def test_a_table_too_narrow_for_two_columns_goes_vertical():
    t = render.Table(["component", "a-very-long-header"], [["dC/dw1", "123456789.123456"]])
    assert render.fold(t, 20) == []
    assert "a-very-long-header: 123456789.123456" in render.vertical(t)


@pytest.mark.parametrize("value", ["abc", "1e3", "-5", "0", "99999999999999999999999999999", " 80 "])
def test_any_columns_value_is_a_width_or_ignored(run, value):
    result = run("vanish", env={"NO_COLOR": "1", "COLUMNS": value})
    assert result.exit_code == 0 and "Nielsen's chain" in result.stdout


def _python(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gradsim", *args], capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1", **(env or {})}, **kw)


def test_an_ascii_only_stdout_gets_ascii_separators():
    result = subprocess.run([sys.executable, "-m", "gradsim", "vanish"], capture_output=True,
                            env={**os.environ, "PYTHONIOENCODING": "ascii"})
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode("ascii")  # every byte is ASCII
    assert "Nielsen's chain - sigmoid - depth 4" in out and "-----" in out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file descriptors")
def test_a_closed_stdout_is_one_line_on_stderr():
    result = subprocess.run([sys.executable, "-m", "gradsim", "vanish"], stdout=None, capture_output=False,
                            stderr=subprocess.PIPE, text=True, env=os.environ,
                            preexec_fn=lambda: os.close(1))
    assert result.returncode == 2
    assert result.stderr.strip() == "Error: standard output is closed"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_a_full_disk_on_stdout_is_one_line_on_stderr(fmt):
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "gradsim", "vanish", "-f", fmt], stdout=full,
                                stderr=subprocess.PIPE, text=True, env=os.environ)
    assert result.returncode == 2
    assert result.stderr.strip() == "Error: cannot write to standard output: No space left on device"


def test_a_reader_that_stops_early_ends_the_run_quietly():
    with subprocess.Popen([sys.executable, "-m", "gradsim", "vanish", "--depth", "20000", "-f", "csv"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ) as proc:
        proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        proc.wait()
    assert proc.returncode == 1 and err == b""


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_no_color_on_a_terminal_gives_plain_usage_errors():
    from test_cli import _on_a_terminal_both

    styled = _on_a_terminal_both("vanish", "--depth", "x", env={"NO_COLOR": "", "TERM": "xterm-256color"})
    assert b"\x1b[" in styled
    plain = _on_a_terminal_both("vanish", "--depth", "x", env={"NO_COLOR": "1", "TERM": "xterm-256color"})
    assert b"\x1b[" not in plain and b"--depth" in plain
