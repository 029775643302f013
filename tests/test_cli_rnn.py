"""The command-line contract of `gradsim rnn`: help, tables, JSON keys, CSV, plots and errors."""

from __future__ import annotations

import csv
import io
import math
import shlex

import pytest

from gradsim import __version__


def _examples(run) -> list[list[str]]:
    out = run("rnn", "--help", env={"NO_COLOR": "1", "COLUMNS": "300"}).stdout
    return [shlex.split(line.split("Example:", 1)[1]) for line in out.splitlines() if "Example: gradsim rnn" in line]


def test_every_help_example_runs_as_pasted(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    examples = _examples(run)
    assert len(examples) >= 4
    for args in examples:
        assert args[0] == "gradsim"
        result = run(*args[1:])
        assert result.exit_code == 0, (args, result.stderr)
    assert (tmp_path / "cliff.png").stat().st_size > 10_000
    assert "rnn" in run("--help").stdout


def test_json_has_the_contract_keys(run):
    data = run.json("rnn")
    assert data["command"] == "rnn" and data["gradsim_version"] == __version__
    for key in ("activation", "cell", "units", "steps", "regime", "log10_factor_per_step", "time"):
        assert key in data, key
    assert data["regime"] == "vanishing" and data["cell"] == "rnn" and data["units"] == 1 and data["steps"] == 50
    first = data["time"][0]
    assert first["t"] == 1 and {"h", "log10_grad_h", "factor"} <= set(first)
    assert len(data["time"]) == 50


def test_json_beyond_float64_is_null_with_a_finite_log10(run):
    data = run.json("rnn", "--weight", "8", "--bias", "-4", "--h0", "0.5", "--input", "const:0", "--steps", "10000")
    assert data["regime"] == "exploding"
    assert all(math.isfinite(row["log10_grad_h"]) for row in data["time"])
    assert data["time"][0]["log10_grad_h"] == pytest.approx(math.log10(0.5) + 9999 * math.log10(2), abs=1e-8)
    assert data["log10_factor_per_step"] == pytest.approx(math.log10(2), abs=1e-12)


def test_surface_and_training_json(run):
    s = run.json("rnn", "--surface", "--grid", "21")
    assert set(s["surface"]) >= {"w", "b", "cost", "log10_grad_norm"}
    assert len(s["surface"]["cost"]) == 21 and len(s["surface"]["cost"][0]) == 21
    t = run.json("rnn", "--train", "--steps", "5", "--epochs", "3")
    modes = [m["mode"] for m in t["training"]]
    assert modes == ["none", "value", "norm", "global-norm", "adaptive"]
    for m in t["training"]:
        assert {"mode", "costs", "max_grad_norm", "clipped_steps", "diverged_at"} <= set(m)
        assert len(m["costs"]) == 4


def test_lstm_json_and_table(run):
    data = run.json("rnn", "--cell", "lstm", "--forget-bias", "40", "--steps", "1000")
    assert data["cell"] == "lstm" and data["regime"] == "stable"
    assert abs(data["time"][0]["log10_carousel"]) < 1e-12
    out = run("rnn", "--cell", "lstm").stdout
    assert "prod f (carousel)" in out and "Hochreiter & Schmidhuber 1997" in out


def test_vector_table_names_the_jacobian_and_pascanus_condition(run):
    out = run("rnn", "--units", "16", "--radius", "0.5", "--act", "tanh", "--input", "noise").stdout
    assert "||J_t||" in out and "vanishing is guaranteed" in out


def test_csv_is_the_time_table(run):
    rows = list(csv.reader(io.StringIO(run("rnn", "-f", "csv", "--steps", "7").stdout)))
    assert rows[0][:2] == ["t", "x"] and len(rows) == 8
    assert all(len(r) == len(rows[0]) for r in rows)


@pytest.mark.parametrize("args", [[], ["--surface", "--grid", "15"], ["--train", "--steps", "5", "--epochs", "2"],
                                  ["--cell", "lstm"], ["--units", "4"]])
def test_plot_writes_a_figure(run, tmp_path, args):
    path = tmp_path / "f.png"
    assert run("rnn", *args, "--plot", str(path)).exit_code == 0
    assert path.stat().st_size > 10_000


@pytest.mark.parametrize("args,option", [
    (["--steps", "0"], "--steps"),
    (["--input", "sine"], "--input"),
    (["--input", "const:nan"], "--input"),
    (["--cell", "gru"], "--cell"),
    (["--cost", "mean"], "--cost"),
    (["--init", "he"], "--init"),
    (["--radius", "0"], "--radius"),
    (["--weight", "1e300"], "--weight"),
    (["--units", "300"], "--units"),
    (["--units", "200", "--steps", "1000"], "--steps"),
    (["--cell", "lstm", "--units", "3"], "--units"),
    (["--surface", "--train"], "--train"),
    (["--surface", "--units", "3"], "--units"),
    (["--train", "--cell", "lstm"], "--cell"),
    (["--lr", "0.1"], "--lr"),
    (["--grid", "11"], "--grid"),
    (["--surface", "--clip-mode", "bogus"], "--clip-mode"),
    (["--surface", "--w-range", "3,1"], "--w-range"),
    (["--train", "--epochs", "0"], "--epochs"),
    (["--act", "nope"], "--act"),
    (["--act", "sigmoid", "--alpha", "0.1"], "--alpha"),
    # options the run would ignore
    (["--units", "4", "--weight", "5"], "--weight"),
    (["--train", "--weight", "2"], "--weight"),
    (["--radius", "2"], "--radius"),
    (["--init", "orthogonal"], "--init"),
    (["--train", "--units", "1", "--radius", "3"], "--radius"),
    (["--surface", "--init", "orthogonal"], "--init"),
    (["--cell", "lstm", "--radius", "2"], "--radius"),
    (["--cell", "lstm", "--init", "orthogonal"], "--init"),
    (["--forget-bias", "3"], "--forget-bias"),
    (["--gate-weight", "0.5"], "--gate-weight"),
    (["--surface", "--forget-bias", "3"], "--forget-bias"),
])
def test_bad_input_is_a_usage_error_naming_the_option(run, args, option, tmp_path):
    run.usage_error("rnn", *args, "--plot", str(tmp_path / "x.png"), option=option)
    assert list(tmp_path.iterdir()) == []


def test_table_sizes_states_and_factors_below_float64_with_their_signs(run):
    """gelu, b = -40: z_1 = -39, h_1 = -39 Phi(-39) ~ -2.1e-331 and w f'(z_1) ~ -2.4e-329 (mpmath), not 0."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    f = lambda z: z * mp.ncdf(z)  # noqa: E731
    h1, factor1 = f(mp.mpf(-39)), 3 * mp.diff(f, mp.mpf(-39))
    out = run("rnn", "--act", "gelu", "--bias", "-40", "--steps", "3", env={"NO_COLOR": "1", "COLUMNS": "100"}).stdout
    row = next(line.split() for line in out.splitlines() if line.split()[:2] == ["1", "1"])
    for shown, want in ((row[2], h1), (row[3], factor1)):  # mpf: float() of 1e-331 would be 0
        assert abs(mp.mpf(shown) / want - 1) < 1e-3, (shown, want)


def test_a_training_too_long_is_refused_before_the_forward_run(run, monkeypatch):
    """At 256 units the forward run takes seconds; the --epochs refusal must not wait for it."""
    import importlib

    core = importlib.import_module("gradsim.rnn")  # the module (gradsim.rnn as an attribute is the API function)

    def forward_run(*args, **kwargs):
        raise AssertionError("the forward run started before the training budget was checked")

    monkeypatch.setattr(core, "run_recurrent", forward_run)
    run.usage_error("rnn", "--train", "--units", "256", "--steps", "23", "--epochs", "400", "--clip-mode", "norm",
                    option="--epochs")
