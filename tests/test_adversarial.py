"""Every command against a corpus of bad and extreme invocations, generated from the CLI itself.

The options of each command are read from the typer app, so a new command joins the
suite without edits here. Each invocation must end with exit 0 or 2 within seconds:
exit 2 with typer's error naming an option on stderr and nothing on stdout; exit 0 with
strict JSON (or rectangular CSV). Warnings are errors (pytest's filterwarnings), and
exceptions are not caught, so a traceback or a numpy warning fails the test.
"""

from __future__ import annotations

import csv
import io
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradsim.cli import COMMANDS
from gradsim.cli import command as click_command

from conftest import Run, strict_json

SKIP = {"help", "format", "plot"}  # help prints help; format and plot have their own tests

NUMBERS = ["0", "-1", "-0.0", "nan", "inf", "-inf", "1e308", "-1e308", "1e-308", "1e-300", "1e300", "abc", ""]
INTEGERS = ["0", "-1", "1", "2", "1000000000", "99999999999999999999999", "1.5", "abc", "", "nan"]
TEXTS = ["", ",", "1,,2", "nan", "inf,1", "zzz", "1e308", "1e-308,1e308", "all", "normal:0,-1", "uniform:",
         "1," * 50, "sigmoid,nope", " ", "-1"]

TIME_LIMIT = 10.0  # seconds for one invocation; most take milliseconds


def options(command: str) -> list:
    """The value-taking options of a command (flags and the shared ones left out)."""
    return [p for p in click_command(command).params
            if p.param_type_name == "option" and not p.is_flag and p.name not in SKIP]


def corpus(option) -> list[str]:
    """Values to try for an option, by its type (typer vendors click, so go by the type's name)."""
    kind = option.type.name.lower()
    if "integer" in kind:
        return INTEGERS
    if "float" in kind:
        return NUMBERS
    return TEXTS + NUMBERS[:6]


def invocations() -> list[tuple[str, ...]]:
    cases = []
    for command in COMMANDS:
        for option in options(command):
            flag = max(option.opts, key=len)
            cases += [(command, flag, value) for value in corpus(option)]
        cases += [(command, "--no-such-option", "1"), (command, "extra-argument")]
    return cases


CASES = invocations()

#: Options that a command's defaults never reach (the generated corpus above runs them alone, so e.g. ensemble's
#: --residual at width 1 stops at --width): the corpus again on top of a small run that switches each path on.
#: Every option named must exist, so a renamed one fails here rather than silently leaving the corpus.
CONTEXTS = [
    ("ensemble", ("--width", "8", "--depth", "4", "--trials", "2", "--forward"), "*"),
    ("ensemble", ("--width", "8", "--depth", "4", "--trials", "2", "--norm", "batch", "--batch", "4"),
     ("norm_position", "batch", "sigma_w2", "sigma_b2", "act", "depth", "width")),
    ("ensemble", ("--width", "8", "--depth", "4", "--trials", "2", "--norm", "layer"),
     ("norm_position", "sigma_w2", "sigma_b2", "act")),
    ("ensemble", ("--width", "8", "--depth", "4", "--trials", "2", "--residual", "0.5"),
     ("residual", "residual_beta", "branch", "sigma_w2", "sigma_b2", "act", "depth")),
    ("ensemble", ("--width", "8", "--depth", "4", "--trials", "2", "--inputs", "2"), ("correlation",)),
    ("ensemble", ("--width", "8", "--depth", "4", "--trials", "2", "--residual", "1", "--norm", "batch", "--batch", "8"),
     ("norm_position", "branch", "residual", "batch", "sigma_b2")),
    ("train", ("--data", "synthetic", "--epochs", "1", "--hidden", "5"), "*"),
    ("train", ("--data", "synthetic", "--epochs", "1", "--hidden", "5", "--optimizer", "adam"),
     ("beta1", "beta2", "adam_eps", "lr", "dropout", "act")),
    ("train", ("--data", "synthetic", "--epochs", "1", "--hidden", "5", "--optimizer", "momentum"), ("momentum", "lr")),
    ("train", ("--data", "synthetic", "--epochs", "1", "--hidden", "5", "--act", "selu"), ("dropout", "lr")),
    ("rnn", ("--cell", "lstm", "--steps", "20"), ("forget_bias", "gate_weight", "steps", "act", "h0", "target")),
    ("rnn", ("--units", "4", "--steps", "5"), ("radius", "init", "input_weight", "bias", "act", "steps", "input")),
    ("rnn", ("--surface", "--grid", "5", "--epochs", "3"),
     ("w_range", "b_range", "grid", "clip_mode", "clip_threshold", "lr", "epochs", "weight", "bias", "target",
      "steps", "act")),
    ("rnn", ("--train", "--steps", "5", "--epochs", "2"),
     ("clip_mode", "clip_threshold", "lr", "epochs", "units", "radius", "steps", "act")),
]


def context_invocations() -> list[tuple[str, ...]]:
    cases = []
    for command, base, names in CONTEXTS:
        known = {o.name: o for o in options(command)}
        assert names == "*" or set(names) <= set(known), set(names) - set(known)
        for name in known if names == "*" else names:
            option = known[name]
            cases += [(command, *base, max(option.opts, key=len), value) for value in corpus(option)]
    return cases


CONTEXT_CASES = context_invocations()


def check(run: Run, args: tuple[str, ...], fmt: str = "json") -> int:
    """Run once; assert the contract for exit 0 and exit 2; return the exit code."""
    start = time.perf_counter()
    result = run(*args, "-f", fmt)
    elapsed = time.perf_counter() - start
    assert elapsed < TIME_LIMIT, f"{args} took {elapsed:.1f} s"
    assert result.exit_code in (0, 2), (args, result.exit_code, result.stdout[-500:], result.stderr[-500:])
    assert "Traceback" not in result.stderr
    if result.exit_code == 2:
        assert result.stdout == "", (args, result.stdout[:300])
        assert "Error" in result.stderr, (args, result.stderr)
        error = result.stderr.split("Error", 1)[1]  # the message itself, not typer's "Usage: ... [OPTIONS]" line
        assert "--" in error or "argument" in error, (args, result.stderr)
    elif fmt == "json":
        data = strict_json(result.stdout)
        assert data["command"] == args[0] and "gradsim_version" in data
    else:
        rows = list(csv.reader(io.StringIO(result.stdout)))
        assert rows and rows[0], args
        assert all(len(r) == len(rows[0]) for r in rows), args
    return result.exit_code


#: --alpha reaches an activation that takes it only with --act: hand-picked, as the generated corpus runs the
#: default activation (sigmoid refuses --alpha). Valid ones run, with the commands' defaults.
ALPHA_CASES = [(command, "--act", act, "--alpha", value)
               for command in COMMANDS if {"act", "alpha"} <= {p.name for p in click_command(command).params}
               for act in ("leaky-relu", "elu")
               for value in ("0", "1e-300", "1000", "1000.5", "1e300", "-1e-300")]


@pytest.mark.parametrize("args", ALPHA_CASES, ids=lambda a: " ".join(a)[:60])
def test_alpha_at_its_limits(run, args):
    check(run, args)


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 150


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a)[:60])
def test_bad_or_extreme_invocation(run, args):
    check(run, args)


@pytest.mark.parametrize("args", CONTEXT_CASES, ids=lambda a: " ".join(a)[:80])
def test_bad_or_extreme_value_where_the_option_is_used(run, args):
    check(run, args)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_with_defaults_gives_strict_json_and_rectangular_csv(run, command):
    assert check(run, (command,), "json") == 0
    assert check(run, (command,), "csv") == 0


@pytest.mark.parametrize("command", COMMANDS)
def test_same_arguments_same_bytes(run, command):
    assert run(command, "--seed", "3").stdout == run(command, "--seed", "3").stdout if any(
        o.name == "seed" for o in options(command)) else run(command).stdout == run(command).stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_plain_tables_without_colour(run, command):
    for env in ({"NO_COLOR": "1"}, {}):
        out = run(command, env=env).stdout
        assert "\x1b[" not in out  # not a terminal, so no colour whatever NO_COLOR says


@pytest.mark.parametrize("command", COMMANDS)
def test_narrow_terminal_does_not_cut_numbers(run, command):
    """With COLUMNS=60 every table line holds the same cells as at full width (lines may be long, never cut)."""
    wide = run(command, env={"NO_COLOR": "1", "COLUMNS": "200"}).stdout.split()
    narrow = run(command, env={"NO_COLOR": "1", "COLUMNS": "60"}).stdout.split()
    cells = [c for c in wide if any(ch.isdigit() for ch in c)]
    assert cells and all(c in narrow for c in cells)


@pytest.mark.parametrize("command", COMMANDS)
def test_plot_path_errors_come_before_any_computation(run, command, tmp_path):
    if "plot" not in [p.name for p in click_command(command).params]:
        pytest.skip("no --plot")
    run.usage_error(command, "--plot", str(tmp_path / "missing" / "x.png"), option="--plot")
    run.usage_error(command, "--plot", str(tmp_path / "x.jpg"), option="--plot")
    run.usage_error(command, "--plot", str(tmp_path), option="--plot")
    assert list(tmp_path.iterdir()) == []


numeric = st.sampled_from(["0", "-1", "nan", "inf", "1e308", "1e-308", "-1e-308", "0.5", "3", "1e-300", "x", ""])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_combinations_of_options(run, data):
    """Several options at once, some repeated, values from the numeric corpus."""
    command = data.draw(st.sampled_from(COMMANDS))
    opts = options(command)
    if not opts:
        return
    args: list[str] = [command]
    for option in data.draw(st.lists(st.sampled_from(opts), min_size=1, max_size=4)):
        args += [max(option.opts, key=len), data.draw(numeric)]
    check(run, tuple(args))


# ---------------------------------------------------------------- paths, huge sigmas, resources, warnings
LONG_NAME = "a" * 300 + ".png"  # over NAME_MAX (255): ENAMETOOLONG
LONG_PATH = "d/" * 2100 + "x.png"  # over PATH_MAX (4096)
#: Paths that cannot be written: a file as a folder, read-only and virtual file systems, names too long.
BAD_PLOTS = ["/dev/null/x.png", "/proc/x.png", "/sys/x.png", LONG_NAME, LONG_PATH]
#: The --plot errors trust-plots (issue 11, the plots part) turns into usage errors; pending that branch here.
PENDING_PLOT_FIX = {LONG_NAME, LONG_PATH}

PLOT_CASES = [(command, path) for command in COMMANDS
              if "plot" in [p.name for p in click_command(command).params] for path in BAD_PLOTS]


@pytest.mark.parametrize("command, path", PLOT_CASES, ids=lambda a: str(a)[:30])
def test_an_unwritable_or_over_long_plot_path_is_a_usage_error(run, command, path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        assert check(run, (command, "--plot", path)) == 2
    except OSError:
        if path not in PENDING_PLOT_FIX:
            raise
        pytest.xfail("ENAMETOOLONG on --plot: a usage error once the trust-plots branch is merged")


#: Options at the edge of float64 and the runs the issue found: each ends with exit 0 or 2, no traceback,
#: no warning (warnings are errors here), in well under TIME_LIMIT (the cost guard refuses the long ones).
EXTREME_CASES = [
    ("ensemble", "--sigma-w2", "1e30"), ("ensemble", "--sigma-b2", "1e30"), ("ensemble", "--sigma-w", "1e15"),
    ("ensemble", "--sigma-b", "1e154"), ("ensemble", "--sigma-w2", "1e30", "--width", "4", "--trials", "200"),
    ("phase", "--sigma-w2-max", "1e30"), ("phase", "--sigma-b2", "1e30"),
    ("acts", "--act", "leaky-relu", "--alpha", "1000", "--at", "-1e308"),
    ("acts", "--act", "prelu", "--alpha", "1000", "--at", "-1e308,1e308"),
    ("phase", "--act", "softplus", "--grid", "3", "--sigma-w2-max", "4.4594", "--sigma-b2-max", "0.4592",
     "--sigma-b2", "0.5521,0.9494"),
    ("ensemble", "--width", "2000"), ("ensemble", "--trials", "1000000000"), ("ensemble", "--width", "1000"),
    ("train", "--epochs", "10000", "--hidden", "300,300,300"), ("clip", "--depth", "1000000"),
    ("vanish", "--depth", "1000000"), ("ensemble", "--width", "4096", "--depth", "10000", "--threads", "256"),
    ("acts", "--softmax", ",".join(["1"] * 5000)), ("clip", "--steps", "100000"),
    ("clip", "--grad", "5e-324", "--eps", "0", "-t", "0.5", "--mode", "norm"),
]


@pytest.mark.parametrize("args", EXTREME_CASES, ids=lambda a: " ".join(a)[:60])
def test_extreme_values_and_expensive_runs(run, args):
    check(run, args)


def test_a_huge_step_draws_a_figure_without_matplotlib_warnings(run, tmp_path):
    """steps --act linear --lr 1e308: f(x_1) = -1e308 made matplotlib's tick locator overflow."""
    assert check(run, ("steps", "--act", "linear", "--lr", "1e308", "--plot", str(tmp_path / "p.png"))) == 0
    assert (tmp_path / "p.png").stat().st_size > 0
