"""The command-line contract of `gradsim ensemble` with --forward, --norm, --residual, --inputs 2."""

from __future__ import annotations

import csv
import io

import pytest

from gradsim import __version__
from gradsim.layers import bn_relu_factor

SMALL = ("--width", "16", "--depth", "5", "--trials", "3")


def test_forward_json_has_the_contract_keys(run):
    d = run.json("ensemble", *SMALL, "--act", "tanh", "--forward")
    assert d["command"] == "ensemble" and d["gradsim_version"] == __version__
    assert "measured_factor" in d and "theory_factor" in d
    for row in d["layers"]:
        for key in ("pre_mean", "pre_var", "act_mean", "act_var", "q_theory", "log10_grad_rms"):
            assert isinstance(row[key], float), key
    assert d["layers"][0]["q_theory"] == pytest.approx(1.0)


def test_batchnorm_json_gives_the_closed_form_rate(run):
    d = run.json("ensemble", *SMALL, "--act", "relu", "--init", "he", "--norm", "batch", "--batch", "8")
    assert d["theory_factor"] == pytest.approx(bn_relu_factor(8), rel=1e-12)
    assert d["norm"] == "batch" and d["batch"] == 8 and "chan_sq_mean" in d["layers"][0]


def test_two_inputs_give_correlation_and_its_theory(run):
    d = run.json("ensemble", *SMALL, "--act", "tanh", "--inputs", "2", "--correlation", "0.5")
    assert d["layers"][0]["correlation_theory"] == pytest.approx(0.5)
    assert all(-1 <= row["correlation"] <= 1 for row in d["layers"])


def test_residual_json_and_table(run):
    d = run.json("ensemble", *SMALL, "--act", "relu", "--init", "he", "--residual", "0.5", "--branch", "2")
    assert d["residual"] == 0.5 and d["branch"] == 2 and d["theory_factor"] > 1
    assert d["measured_factor"] is not None and "beta" in d["layers"][0]
    out = run("ensemble", *SMALL, "--residual", "0.5", "--residual-beta", "1").stdout
    assert "residual: s + 0.5 branch(s / 1)" in out and "RMS ||delta||" in out


def test_same_seed_same_bytes_and_csv(run):
    args = ("ensemble", *SMALL, "--norm", "layer", "-f", "csv")
    first, second = run(*args).stdout, run(*args).stdout
    assert first == second
    rows = list(csv.reader(io.StringIO(first)))
    assert rows[0][:3] == ["layer", "pre_mean", "pre_var"] and len(rows) == 6


@pytest.mark.parametrize("args,option", [
    (("--norm", "group"), "--norm"),
    (("--norm", "batch", "--batch", "1"), "--batch"),
    (("--inputs", "2"), "--correlation"),
    (("--correlation", "0.5"), "--correlation"),
    (("--inputs", "2", "--correlation", "1.5"), "--correlation"),
    (("--norm", "batch", "--inputs", "2", "--correlation", "0.1"), "--inputs"),
    (("--residual", "0.5", "--norm", "layer", "--residual-beta", "2"), "--residual-beta"),
    (("--residual-beta", "2"), "--residual-beta"),
    (("--norm-position", "post"), "--norm-position"),
    (("--branch", "2"), "--branch"),
    (("--forward", "--branch", "2"), "--branch"),
    (("--residual", "-1"), "--residual"),
    (("--norm-position", "middle", "--norm", "layer"), "--norm-position"),
    (("--forward", "--input", "2"), "--input"),
    (("--forward", "--sigma-w", "2"), "--sigma-w"),
    (("--forward", "--init", "orthogonal"), "--init"),
    (("--forward", "--threads", "4"), "--threads"),  # one thread: the option would be ignored
])
def test_bad_signal_options_are_usage_errors(run, args, option):
    run.usage_error("ensemble", *SMALL, *args, option=option)


def test_width_one_is_refused_with_signal_options(run):
    run.usage_error("ensemble", "--depth", "3", "--forward", option="--width")


def test_plot_has_forward_and_backward_panels(run, tmp_path):
    path = tmp_path / "spp.png"
    result = run("ensemble", *SMALL, "--inputs", "2", "--correlation", "0.3", "--plot", str(path))
    assert result.exit_code == 0 and path.stat().st_size > 1000


@pytest.mark.parametrize("args,option", [
    # the forward mean square q_l grows past what float64 squares hold (q_l^2 overflows): refused up front
    (("--forward", "--act", "linear", "--sigma-w2", "1e6", "--depth", "60"), "--sigma-w2"),
    (("--residual", "1000", "--act", "linear", "--sigma-w2", "1e6", "--residual-beta", "1", "--depth", "30"),
     "--residual"),
    (("--inputs", "2", "--correlation", "-1", "--act", "linear", "--sigma-w2", "1e6", "--depth", "60"), "--sigma-w2"),
    # beta^2 underflows to 0 (q / beta^2 = inf): refused, not a ZeroDivisionError or a RuntimeWarning
    (("--residual", "1", "--residual-beta", "1e-320"), "--residual-beta"),
])
def test_a_forward_signal_beyond_float64_is_a_usage_error(run, args, option):
    run.usage_error("ensemble", "--width", "8", "--trials", "2", *args, option=option)


@pytest.mark.parametrize("position", ["pre", "post"])
def test_layernorm_with_zero_weights_and_biases_passes_no_gradient(run, position):
    """sigma_w2 = 0: W = 0, so delta_(l-1) = W^T (...) = 0; the theory's factor is 0, not 0/0."""
    data = run.json("ensemble", "--width", "4", "--depth", "5", "--trials", "2", "--norm", "layer",
                    "--norm-position", position, "--sigma-w2", "0", "--sigma-b2", "0")
    factors = [layer["grad_factor_theory"] for layer in data["layers"]][:-1]
    assert factors == [0.0] * 4


@pytest.mark.parametrize("options", [{}, {"residual": 0.5}, {"inputs": 2, "correlation": 0.3}])
def test_the_layer_axes_have_whole_layer_ticks(options):
    """Layers are whole numbers: no tick at layer 1.5 (a depth-4 net drew 1.0, 1.5, ..., 4.0)."""
    from gradsim.signal_plots import signal_figure
    from gradsim.signalprop import signal

    fig = signal_figure(signal(depth=4, width=8, trials=2, **options))
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert fig.axes[0].get_xlabel() == ("residual block l" if "residual" in options else "layer l")
