"""Help that renders as written, examples that run, choices and defaults shown, typos answered.

Every check reads the commands from the app itself (gradsim.cli.COMMANDS), so a new command joins it.
"""

from __future__ import annotations

import inspect
import re
import shlex
import subprocess
import typing

import pytest

from gradsim import activations, chain, clipping, datasets, init, training
from gradsim.rnn import CELLS as RNN_CELLS, COSTS as RNN_COSTS, INITS as RNN_INITS
from gradsim.cli import COMMANDS, command
from gradsim.errors import GradsimError

#: Options that are off unless given, so they have no default to show.
NO_DEFAULT = {"--help", "--plot", "--grad", "--at", "--softmax", "--trace", "--error-if-nonfinite", "--steps",
              ("vanish", "--lr"), ("vanish", "--preset"), ("clip", "--weights"),
              ("ensemble", "--forward"), ("ensemble", "--correlation"), ("rnn", "--surface"), ("rnn", "--train")}
#: Each option that takes a name, with every name it accepts.
CHOICES = {"--act": activations.NAMES, "--preset": tuple(chain.PRESETS), "--cost": training.COSTS,
           "--data": datasets.SOURCES, "--clip-mode": training.CLIP_MODES, "--mode": (*clipping.MODES, "all"),
           ("train", "--init"): training.INITS, ("ensemble", "--init"): init.INITS,
           ("rnn", "--cost"): RNN_COSTS, ("rnn", "--init"): RNN_INITS, ("rnn", "--cell"): RNN_CELLS,
           ("rnn", "--clip-mode"): (*clipping.MODES, "all")}


def help_text(run, *args: str, width: int = 400) -> str:
    result = run(*args, "--help", env={"NO_COLOR": "1", "COLUMNS": str(width), "TERMINAL_WIDTH": str(width)})
    assert result.exit_code == 0, result.stderr
    return result.stdout


def option_rows(text: str) -> dict[str, str]:
    """--option -> its whole row in the Options panel (continuation lines joined)."""
    rows: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if not line.startswith("│"):
            continue
        cell = line.strip("│ ").strip()
        if cell.startswith("--"):
            current = cell.split()[0]
            rows[current] = cell
        elif current is not None:
            rows[current] += " " + cell
    return {k: " ".join(v.split()) for k, v in rows.items()}


def source_texts(name: str) -> list[str]:
    """The command's docstring and every option's help, as written in gradsim/commands/NAME.py."""
    fn = command(name).callback
    texts = [inspect.cleandoc(fn.__doc__)]
    for hint in typing.get_type_hints(fn, include_extras=True).values():
        texts += [m.help for m in getattr(hint, "__metadata__", ()) if getattr(m, "help", None)]
    return texts


def key(name: str, opt: str, table: dict):
    return (name, opt) if (name, opt) in table else opt


# ---------------------------------------------------------------- rich markup
@pytest.mark.parametrize("name", COMMANDS)
def test_every_bracketed_expression_survives_the_rendering(run, name):
    """rich markup ate `[digits]` in `pip install 'gradsim[digits]'` and E[f(sqrt(q) z)^2]."""
    shown = " ".join(help_text(run, name).replace("│", " ").split())
    brackets = [b for text in source_texts(name) for b in re.findall(r"\S*\[[^\]\n]*\]\S*", text)]
    for b in brackets:
        assert " ".join(b.split()) in shown, b
    if name in ("train", "phase", "ensemble"):
        assert brackets  # the commands of the issue have some


def test_the_named_brackets_survive(run):
    assert "pip install 'gradsim[digits]'" in " ".join(help_text(run, "train").split())
    for name in ("phase", "ensemble"):
        shown = " ".join(help_text(run, name).split())
        assert "E[f(sqrt(q) z)^2]" in shown or "E[f'(sqrt(q*) z)^2]" in shown, name
        assert "sigma_w^2 E + sigma_b^2" not in shown


@pytest.mark.parametrize("name", COMMANDS)
def test_no_sentence_is_broken_across_lines(run, name):
    """Each paragraph of a docstring is one line on a wide terminal (the terminal wraps it, not the source)."""
    lines = {" ".join(line.split()) for line in help_text(run, name).splitlines()}
    for paragraph in inspect.cleandoc(command(name).callback.__doc__).split("\n\n"):
        assert " ".join(paragraph.split()) in lines, paragraph


# ---------------------------------------------------------------- examples
def examples(run) -> list[str]:
    found = []
    for args in [()] + [(name,) for name in COMMANDS]:
        found += re.findall(r"Example: (gradsim .*?)\s*$", help_text(run, *args), re.M)
    return found


def test_every_command_has_an_example(run):
    for name in COMMANDS:
        assert "Example: gradsim " + name in help_text(run, name)


def test_every_example_pastes_into_bash_and_runs(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = examples(run)
    assert len(found) >= len(COMMANDS) + 1
    for line in found:
        syntax = subprocess.run(["bash", "-n", "-c", line], capture_output=True, text=True)
        assert syntax.returncode == 0, (line, syntax.stderr)
        words = shlex.split(line)
        assert words[0] == "gradsim" and not any(w in ("|", ";", "&&", ">") for w in words), line
        result = run(*words[1:])
        assert result.exit_code == 0, (line, result.stderr)
        assert result.stdout.strip(), line


# ---------------------------------------------------------------- choices and defaults
@pytest.mark.parametrize("name", COMMANDS)
def test_no_option_shows_a_bare_type_for_a_name(run, name):
    assert "<str>" not in help_text(run, name)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_that_takes_a_name_lists_its_choices(run, name):
    rows = option_rows(help_text(run, name))
    checked = 0
    for opt, row in rows.items():
        choices = CHOICES.get(key(name, opt, CHOICES))
        if choices is None:
            continue
        checked += 1
        missing = [c for c in choices if not re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", row)]
        assert not missing, (opt, missing, row)
    assert checked >= 1


@pytest.mark.parametrize("name", COMMANDS)
def test_every_default_is_shown_exactly_once(run, name):
    rows = option_rows(help_text(run, name))
    assert rows
    for opt, row in rows.items():
        shown = len(re.findall(r"\bdefault\b", row, re.I))
        if opt in NO_DEFAULT or (name, opt) in NO_DEFAULT:
            assert shown == 0, (opt, row)
        else:
            assert shown == 1, (opt, row)


# ---------------------------------------------------------------- suggestions
@pytest.mark.parametrize("args, option, meant", [
    (["vanish", "--act", "sigmod"], "--act", "sigmoid"),
    (["steps", "--act", "sigmoid,rleu"], "--act", "relu"),
    (["vanish", "--preset", "nielsen-explod"], "--preset", "nielsen-explode"),
    (["vanish", "--weights", "normall"], "--weights", "normal"),
    (["vanish", "--biases", "zero"], "--biases", "zero-z"),
    (["vanish", "-f", "jsno"], "--format", "json"),
    (["clip", "--mode", "nrom"], "--mode", "norm"),
    (["train", "--init", "hee"], "--init", "he"),
    (["train", "--cost", "quadratc"], "--cost", "quadratic"),
    (["train", "--data", "digit"], "--data", "digits"),
    (["train", "--clip-mode", "global-nrom", "--clip-threshold", "1"], "--clip-mode", "global-norm"),
    (["ensemble", "--init", "xavir"], "--init", "xavier"),
    (["phase", "--act", "tahn"], "--act", "tanh"),
])
def test_a_mistyped_value_gets_a_suggestion(run, args, option, meant):
    stderr = " ".join(run.usage_error(*args, option=option).replace("│", " ").split())
    assert f"Did you mean '{meant}'?" in stderr, stderr


def test_a_value_like_nothing_gets_no_suggestion(run):
    stderr = run.usage_error("vanish", "--act", "qqqqqq", option="--act")
    assert "Did you mean" not in stderr


@pytest.mark.parametrize("resolve, meant", [
    (lambda: activations.get("Sigmod"), "sigmoid"),
    (lambda: init.init_sigma_w2("lecn", "tanh"), "lecun"),
    (lambda: chain.resolve_preset("nielsen-vansh"), "nielsen-vanish"),
    (lambda: clipping.clip(mode="globalnorm"), "global-norm"),
    (lambda: datasets.resolve_source("synthetc"), "synthetic"),
])
def test_the_core_suggests_the_closest_name(resolve, meant):
    with pytest.raises(GradsimError, match=f"Did you mean '{meant}'"):
        resolve()


@pytest.mark.parametrize("name", COMMANDS)
def test_a_mistyped_option_suggests_only_the_closest(run, name):
    opts = [max(p.opts, key=len) for p in command(name).params if p.opts[0].startswith("--")]
    target = "--depth" if "--depth" in opts else "--alpha"
    stderr = " ".join(run.usage_error(name, target[:-1], "3", option=target[:-1]).replace("│", " ").split())
    assert f"Did you mean '{target}'?" in stderr, stderr
    others = [o for o in opts if o != target and o in stderr.split("Did you mean", 1)[1]]
    assert not others and "Possible options" not in stderr, stderr


# ---------------------------------------------------------------- shell completion
def complete(words: str) -> list[str]:
    """What bash completion offers for the last of `words` (click's protocol, as the installed script asks)."""
    import os
    import sys

    env = {**os.environ, "_GRADSIM_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - 1)}
    code = "from gradsim.cli import app; app(prog_name='gradsim')"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_shell_completion_of_commands_options_and_names():
    assert complete("gradsim van") == ["vanish"]
    assert complete("gradsim vanish --dep") == ["--depth"]
    assert complete("gradsim vanish --act s") == [n for n in activations.NAMES if n.startswith("s")]
    assert "all" in complete("gradsim steps --act a")


def test_the_completion_options_are_offered(run, monkeypatch):
    text = help_text(run)
    assert "--install-completion" in text and "--show-completion" in text
    # typer reads `--show-completion` as a flag and asks shellingham for the parent shell, which fails where there
    # is none (CI, a background job: "Shell  not supported", exit 1); typer's own switch takes the shell as a value
    # (read when the command is built, before CliRunner's env applies)
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    script = run("--show-completion", "bash").stdout
    assert "_gradsim_completion" in script or "complete" in script
