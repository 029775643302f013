"""What a person sees in a real terminal: narrow widths, odd environments, a stdout that fails."""

from __future__ import annotations

import math
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
    assert_whole(run, (command,), width)


def assert_whole(run, args, width: int) -> None:
    wide = run(*args, env={"NO_COLOR": "1", "COLUMNS": "1000"}).stdout
    narrow = run(*args, env={"NO_COLOR": "1", "COLUMNS": str(width)}).stdout
    assert max(len(line) for line in narrow.splitlines()) <= width, narrow
    # a number of the wide view is a whole token of the narrow one (not cut into two tokens)
    missing = {n for n in numbers(wide) if n not in numbers(narrow)}
    assert not missing, (missing, narrow)


#: The option-heavy tables of issues 12, 13, 15 and 16 (the defaults above do not reach them).
OPTION_RUNS = [
    ("train", "--act", "sigmoid,relu,elu", "--data", "synthetic", "--epochs", "3"),
    ("train", "--optimizer", "adam", "--dropout", "0.2", "--data", "synthetic", "--epochs", "2"),
    ("ensemble", "--width", "64", "--depth", "20", "--norm", "batch", "--batch", "32", "--trials", "4"),
    ("ensemble", "--width", "32", "--depth", "12", "--residual", "0.5", "--branch", "2", "--trials", "4"),
    ("ensemble", "--width", "32", "--depth", "12", "--inputs", "2", "--correlation", "0.5", "--trials", "4"),
    ("ensemble", "--width", "32", "--depth", "12", "--forward", "--trials", "4"),
    ("phase", "--act", "swish"),
    ("acts", "--act", "all"),
    ("rnn", "--surface"),
    ("rnn", "--train", "--steps", "10", "--epochs", "5"),
    ("rnn", "--cell", "lstm"),
    ("rnn", "--units", "8", "--steps", "20"),
]


@pytest.mark.parametrize("args", OPTION_RUNS, ids=" ".join)
@pytest.mark.parametrize("width", [60, 80])
def test_every_number_is_whole_with_the_new_options(run, args, width):
    assert_whole(run, args, width)


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


def _reopen_read_only_as_stderr() -> None:
    """Close descriptor 2 and let a read-only file take it, as a launcher script can (pyenv's shims)."""
    os.close(2)
    os.open(sys.executable, os.O_RDONLY)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file descriptors")
@pytest.mark.parametrize("closing", [lambda: os.close(2), _reopen_read_only_as_stderr], ids=["closed", "read-only"])
@pytest.mark.parametrize("args, code", [(("vanish", "--depth", "x"), 2), (("vanish", "--depth", "3"), 0),
                                        (("ensemble", "--trials", "0"), 2)])
def test_without_a_usable_stderr_the_exit_codes_hold(args, code, closing):
    result = subprocess.run([sys.executable, "-m", "gradsim", *args], stdout=subprocess.PIPE, text=True,
                            env=os.environ, preexec_fn=closing)
    assert result.returncode == code
    assert (result.stdout != "") == (code == 0)


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


def test_a_progress_bar_says_what_it_counts_how_far_and_the_time_elapsed(monkeypatch):
    import io

    from gradsim import options

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    monkeypatch.setenv("COLUMNS", "100")
    with options.progress("epochs", after=0.0) as tick:
        tick(45, 300)
    assert "epochs 45/300" in screen.getvalue() and "elapsed" in screen.getvalue()
    assert options.count_text("trials", 1_200_000, 3_000_000) == "trials 1.2M/3M"


def test_train_marks_the_epochs_and_layers_it_leaves_out(run):
    """--epochs 20 with 7 hidden layers: the table shows 16 of 21 epochs and 6 of 7 layers; '...' marks each gap."""
    out = run("train", "--epochs", "20", "--hidden", "5,5,5,5,5,5,5", "--data", "synthetic",
              env={"NO_COLOR": "1", "COLUMNS": "300"}).stdout
    lines = out.splitlines()
    header = next(ln for ln in lines if ln.lstrip().startswith("epoch"))
    assert header.split().count("...") == 1 and "speed 4" not in header
    epochs = [int(ln.split()[0]) for ln in lines if ln.strip()[:1].isdigit() and len(ln.split()) > 5]
    body = [ln.split()[0] for ln in lines[lines.index(header) + 2:] if ln.strip()[:1].isdigit() or ln.strip() == "..."]
    gaps = sum(1 for a, b in zip(epochs, epochs[1:]) if b > a + 1)
    assert epochs[0] == 0 and epochs[-1] == 20 and body.count("...") == gaps > 0


def test_a_long_softmax_gives_its_values_without_the_n_squared_jacobian(run):
    d = run.json("acts", "--softmax", ",".join(["1"] * 20_000))["softmax"]
    assert d["jacobian"] is None and len(d["output"]) == 20_000
    assert all(abs(v - 1 / 20_000) < 1e-18 for v in d["output"])  # the oracle: equal inputs, equal shares
    small = run.json("acts", "--softmax", "3,1,-3")["softmax"]
    import math

    e = [math.exp(3), math.exp(1), math.exp(-3)]
    s = [v / sum(e) for v in e]
    for i in range(3):
        for j in range(3):
            assert small["jacobian"][i][j] == pytest.approx(s[i] * ((i == j) - s[j]), rel=1e-12, abs=1e-17)


def test_a_terminal_width_that_is_not_a_number_is_ignored_by_the_error_panel_too():
    result = _python("vanish", "--depth", "x", env={"TERMINAL_WIDTH": "abc"})
    assert result.returncode == 2 and "Traceback" not in result.stderr and "--depth" in result.stderr


def test_long_softmax_and_values_tables_show_head_and_tail_with_a_marker(run):
    """100 softmax values: rows 1-20 and 81-100 with '...' between (the table of 65,000 took 51 s); JSON has all."""
    xs = ",".join(str(i) for i in range(100))
    out = run("acts", "--act", "sigmoid", "--softmax", xs, env={"NO_COLOR": "1", "COLUMNS": "1000"}).stdout
    lines = out[out.index("softmax s_i"):].splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("x_i")) + 2  # past the headers and the rule
    firsts = [ln.split()[0] for ln in lines[start:start + 41]]
    assert firsts[:20] == [str(i) for i in range(20)] and firsts[20] == "..."
    assert firsts[21:41] == [str(i) for i in range(80, 100)]
    assert len(run.json("acts", "--softmax", xs)["softmax"]["output"]) == 100


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_on_a_real_terminal_of_60_columns_no_line_is_longer():
    from test_cli import _on_a_terminal

    out = _on_a_terminal("acts", env={"COLUMNS": "60", "NO_COLOR": "1", "TERM": "xterm"}).decode()
    lines = out.replace("\r", "").splitlines()
    assert "sigmoid" in out and max(len(ln) for ln in lines) <= 60


@pytest.mark.parametrize("act, opens", [("sigmoid", 4.0), ("tanh", 1.0), ("softsign", 1.0)])
def test_the_window_at_its_opening_is_the_single_point_of_the_peak(act, opens):
    """With max |f'| exact (sigmoid's 1/4, not 0.25000000000000006) the first row is |w| = 4 itself: one point,
    width 0 (Nielsen's closed form: (2/|w|) ln(|w|(1 + sqrt(1 - 4/|w|))/2 - 1) = 0 at |w| = 4)."""
    from gradsim.window import window_intervals, window_width

    assert window_intervals(act, opens) == [(0.0, 0.0)] and window_width(act, opens) == 0.0
    assert 2 / 4 * math.log(4 * (1 + math.sqrt(1 - 4 / 4)) / 2 - 1) == 0.0


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("value", ["abc", "1e3", "99999999999999999999999999999"])
def test_on_a_real_terminal_any_columns_value_works(value):
    from test_cli import _on_a_terminal_both

    out = _on_a_terminal_both("vanish", env={"COLUMNS": value, "NO_COLOR": "1", "TERM": "xterm"}).decode()
    assert "Traceback" not in out and "Nielsen's chain" in out and "dC/db" in out
