"""The command-line contract for vanish and acts: formats, errors, plots, help."""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys

import pytest

from gradsim import __version__


def test_version_and_help(run):
    assert run("--version").stdout.strip() == f"gradsim {__version__}"
    for flag in ("--help", "-h"):
        out = run(flag).stdout
        assert "vanish" in out and "acts" in out
    for cmd in ("vanish", "acts"):
        assert "Example:" in run(cmd, "--help").stdout


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "gradsim", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("gradsim ")


def test_importing_the_cli_does_not_import_matplotlib():
    code = "import sys, gradsim.cli; assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_command_loads_only_its_own_core():
    code = ("import sys\nfrom gradsim.cli import main\nsys.argv = ['gradsim', 'vanish']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "loaded = {m for m in sys.modules if m.startswith('gradsim.')}\n"
            "assert not loaded & {'gradsim.ensemble', 'gradsim.training', 'gradsim.theory', 'gradsim.clipping',"
            " 'gradsim.commands.train', 'matplotlib'}, loaded\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def _on_a_terminal(*args: str, env: dict, stderr: bool = False) -> bytes:
    """stdout of `python -m gradsim ARGS` written to a pseudo-terminal (a real tty, unlike CliRunner)."""
    import os
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "gradsim", *args], stdout=follower,
                            stderr=follower if stderr else subprocess.DEVNULL,
                            env={**os.environ, "COLUMNS": "120", **env})
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    proc.wait()
    os.close(leader)
    return out


def _on_a_terminal_both(*args: str, env: dict) -> bytes:
    """stdout and stderr of `python -m gradsim ARGS`, both on one pseudo-terminal."""
    return _on_a_terminal(*args, env=env, stderr=True)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_no_color_on_a_terminal_gives_plain_tables():
    styled = _on_a_terminal("steps", env={"NO_COLOR": "", "TERM": "xterm-256color"})
    assert b"\x1b[" in styled  # a terminal gets styles...
    plain = _on_a_terminal("steps", env={"NO_COLOR": "1", "TERM": "xterm-256color"})
    assert b"\x1b[" not in plain and b"sigmoid" in plain  # ...and NO_COLOR takes every one away, bold included


def test_a_typo_in_the_command_suggests_the_command(run):
    result = run("vanis")
    assert result.exit_code == 2 and result.stdout == ""
    assert "No such command 'vanis'" in result.stderr and "Did you mean 'vanish'?" in result.stderr


def test_public_functions_win_over_submodules_of_the_same_name():
    code = ("import gradsim.ensemble, gradsim.chain\nfrom gradsim.ensemble import Net\nimport gradsim\n"
            "assert callable(gradsim.ensemble) and gradsim.ensemble.__name__ == 'ensemble', gradsim.ensemble\n"
            "assert gradsim.vanish.__module__ == 'gradsim.chain'\n"
            "import types\nassert isinstance(gradsim.chain, types.ModuleType)\n"
            "ns = {}\nexec('from gradsim import *', ns)\nassert {'vanish', 'steps', 'chi1', 'GradsimError'} <= set(ns)\n"
            "from gradsim.cli import COMMANDS\nassert all(callable(getattr(gradsim, c)) for c in COMMANDS)\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_attribute_is_an_attribute_error():
    import gradsim
    with pytest.raises(AttributeError, match="nope"):
        gradsim.nope  # noqa: B018


def test_vanish_table_shows_the_story(run):
    result = run("vanish")
    assert result.exit_code == 0
    out = result.stdout
    assert "Nielsen's chain" in out and "vanishing" in out and "per layer" in out and "Why:" in out
    assert "\x1b[" not in out  # no colour when stdout is not a terminal


def test_vanish_table_fits_100_columns(run):
    result = run("vanish", env={"COLUMNS": "100", "NO_COLOR": "1"})
    table_lines = [ln for ln in result.stdout.splitlines() if ln.strip()[:1].isdigit() or ln.startswith("layer")]
    assert table_lines and max(len(ln.rstrip()) for ln in table_lines) <= 100


def test_the_activation_catalogue_fits_100_columns(run):
    result = run("acts", env={"COLUMNS": "100", "NO_COLOR": "1"})
    lines = result.stdout.splitlines()
    table = lines[lines.index(next(ln for ln in lines if ln.startswith("activation"))):][:15]
    assert len(table) == 15 and max(len(ln) for ln in table) <= 100, table


def test_vanish_json_has_the_contract_keys(run):
    d = run.json("vanish")
    assert d["command"] == "vanish" and d["gradsim_version"] == __version__
    for key in ("activation", "depth", "input", "target", "cost", "regime", "layers"):
        assert key in d
    assert d["regime"] == "vanishing" and len(d["layers"]) == 4
    first = d["layers"][0]
    for key in ("layer", "w", "b", "z", "a", "dact", "gain", "grad_b", "grad_w", "log10_grad_b"):
        assert key in first
    assert first["layer"] == 1
    assert d["cost"] == pytest.approx(0.5 * (d["layers"][-1]["a"] - d["target"]) ** 2)


def test_vanish_json_overflow_is_null_with_a_finite_log(run):
    d = run.json("vanish", "--preset", "nielsen-explode", "--depth", "400")
    first = d["layers"][0]
    assert first["grad_b"] is None
    assert first["log10_grad_b"] == pytest.approx(math.log10(0.25) + 399 * math.log10(25) + math.log10(0.5))


def test_vanish_table_prints_numbers_beyond_float64(run):
    out = run("vanish", "--preset", "nielsen-explode", "--depth", "400").stdout
    assert "7.4" in out and "e+556" in out and "exploding" in out


def test_vanish_csv_is_the_layer_table(run):
    rows = list(csv.reader(io.StringIO(run("vanish", "-f", "csv").stdout)))
    assert rows[0][:3] == ["layer", "w", "b"]
    assert len(rows) == 5 and all(len(r) == len(rows[0]) for r in rows)
    assert float(rows[1][rows[0].index("gain")]) == pytest.approx(
        float(rows[1][rows[0].index("w")]) * float(rows[1][rows[0].index("dact")]))


def test_vanish_lr_adds_the_speed_of_learning(run):
    d = run.json("vanish", "--lr", "0.5")
    assert all(layer["delta_b"] == pytest.approx(-0.5 * layer["grad_b"]) for layer in d["layers"])
    assert "-lr dC/db" in run("vanish", "--lr", "0.5").stdout


def test_vanish_same_seed_same_bytes(run):
    assert run("vanish", "--seed", "7", "-f", "json").stdout == run("vanish", "--seed", "7", "-f", "json").stdout


@pytest.mark.parametrize("args,option", [
    (["--depth", "0"], "--depth"),
    (["--weights", "1,2"], "--weights"),
    (["--act", "nope"], "--act"),
    (["--weights", "normal:0,-1"], "--weights"),
    (["--input", "nan"], "--input"),
    (["--target", "inf"], "--target"),
    (["--lr", "0"], "--lr"),
    (["--lr", "-1"], "--lr"),
    (["--preset", "nope"], "--preset"),
    (["--biases", "uniform:1"], "--biases"),
    (["--act", "relu", "--target", "-0.1"], "--target"),
    (["--alpha", "0.1"], "--alpha"),
    (["--plot", "missing-folder/x.png"], "--plot"),
    (["--plot", "figure.bmp"], "--plot"),
    (["-f", "xml"], "--format"),
])
def test_vanish_bad_input_is_a_usage_error(run, tmp_path, monkeypatch, args, option):
    monkeypatch.chdir(tmp_path)
    run.usage_error("vanish", *args, option=option)
    assert list(tmp_path.iterdir()) == []


def test_vanish_plot_writes_a_png(run, tmp_path):
    path = tmp_path / "chain.png"
    result = run("vanish", "--plot", str(path))
    assert result.exit_code == 0 and "vanishing" in result.stdout
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["chain.png"]


def test_vanish_plot_svg_for_a_deep_exploding_chain(run, tmp_path):
    path = tmp_path / "deep.svg"
    assert run("vanish", "--preset", "nielsen-explode", "--depth", "400", "--plot", str(path)).exit_code == 0
    assert b"<svg" in path.read_bytes()[:400]


def test_acts_catalogue_lists_every_activation(run):
    d = run.json("acts")
    names = [a["activation"] for a in d["activations"]]
    assert "sigmoid" in names and "gelu-tanh" in names and len(names) == 13
    sig = d["activations"][names.index("sigmoid")]
    assert sig["max_abs_dact"] == pytest.approx(0.25) and sig["max_at"] == 0 and sig["keeps_gradient"] is False


def test_acts_at_points_reproduces_the_tensorflow_print_out(run):
    d = run.json("acts", "--act", "sigmoid", "--at", "4,5,10,1")
    got = [v["f"] for v in d["values"]]
    assert got == pytest.approx([0.98201376, 0.9933072, 0.9999546, 0.7310586], rel=2e-7)


def test_acts_softmax(run):
    d = run.json("acts", "--act", "sigmoid", "--softmax", "3,1,-3")
    assert [round(v, 2) for v in d["softmax"]["output"]] == [0.88, 0.12, 0.0]
    assert "0.8789" in run("acts", "--softmax", "3,1,-3").stdout


def test_acts_csv_and_plot(run, tmp_path):
    rows = list(csv.reader(io.StringIO(run("acts", "-f", "csv").stdout)))
    assert rows[0][0] == "activation" and len(rows) == 14
    path = tmp_path / "acts.pdf"
    assert run("acts", "--act", "sigmoid,relu,gelu", "--plot", str(path)).exit_code == 0
    assert path.read_bytes()[:4] == b"%PDF"


@pytest.mark.parametrize("args,option", [
    (["--act", "sigmoid", "--alpha", "0.2"], "--alpha"),
    (["--at", "1,x"], "--at"),
    (["--at", "nan"], "--at"),
    (["--softmax", ""], "--softmax"),
    (["--act", "bogus"], "--act"),
])
def test_acts_bad_input(run, args, option):
    run.usage_error("acts", *args, option=option)
