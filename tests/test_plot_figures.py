"""What every figure draws, read back from the Figure object: the numbers, the ticks, the legend, the colours."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

#: Cheap runs of every command that plots (train: the synthetic data, 2 epochs).
COMMANDS = {
    "vanish": ("vanish",),
    "explode": ("vanish", "--preset", "nielsen-explode", "--depth", "12"),
    "acts": ("acts", "--act", "all"),
    "steps": ("steps",),
    "steps-long": ("steps", "--lr", "0.001"),
    "clip-plane": ("clip", "--grad", "3,4"),
    "clip-train": ("clip", "--steps", "50"),
    "clip-zero": ("clip", "--grad", "3,4", "--grad", "1,0"),
    "phase": ("phase", "--act", "tanh", "--grid", "9"),
    "window": ("window",),
    "window-relu": ("window", "--act", "relu"),
    "ensemble": ("ensemble", "--width", "32", "--depth", "12", "--act", "tanh", "--sigma-w2", "1.5",
                 "--sigma-b2", "0.05", "--trials", "20"),
    "train": ("train", "--data", "synthetic", "--epochs", "2"),
}


@pytest.fixture
def drawn(run, monkeypatch, tmp_path):
    """drawn(*args): run the command with --plot and return the Figure it saved (drawn, still open)."""
    from gradsim import plots

    figures = []

    def keep(fig, path):
        fig.canvas.draw()
        figures.append(fig)
        return path

    monkeypatch.setattr(plots, "save", keep)

    def draw(*args):
        result = run(*args, "--plot", str(tmp_path / "f.png"))
        assert result.exit_code == 0, result.stderr
        return figures[-1]

    yield draw
    import matplotlib.pyplot as plt

    for fig in figures:
        plt.close(fig)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_vanish_gain_labels_are_the_ratio_of_the_points_they_sit_between(drawn):
    w, b, x, target = [0.5, -2.0, 3.0, 1.5, 0.8], [0.1, -0.3, 0.2, 0.0, -0.5], 1.0, 0.0
    fig = drawn("vanish", "--depth", "5", "--weights", ",".join(map(str, w)), "--biases", ",".join(map(str, b)),
                "--input", str(x), "--target", str(target))
    # independent oracle: a plain forward and backward loop (Nielsen ch. 5)
    z, a = [], x
    for wj, bj in zip(w, b):
        z.append(wj * a + bj)
        a = _sigmoid(z[-1])
    ds = [_sigmoid(v) * (1 - _sigmoid(v)) for v in z]
    delta = [0.0] * len(w)
    delta[-1] = ds[-1] * (a - target)
    for j in range(len(w) - 2, -1, -1):
        delta[j] = ds[j] * w[j + 1] * delta[j + 1]
    ax = fig.axes[0]
    labels = sorted((t.xy[0], t.get_text()) for t in ax.texts if t.get_text().startswith("×"))
    assert [pos for pos, _ in labels] == [j + 1.5 for j in range(len(w) - 1)]
    for j, (_, text) in enumerate(labels):
        ratio = abs(delta[j] / delta[j + 1])
        assert float(text[1:]) == pytest.approx(ratio, rel=5e-3), (j + 1, text, ratio)
    points = ax.lines[0].get_ydata()  # log10 |dC/db_j|
    np.testing.assert_allclose(points, np.log10(np.abs(delta)), rtol=1e-12)


def test_phase_colour_scale_is_centred_on_one_and_fitted_to_the_data(drawn):
    from gradsim import meanfield

    fig = drawn("phase", "--act", "tanh", "--grid", "9")
    mesh = fig.axes[0].collections[0]
    chi = meanfield.phase("tanh", grid=9).chi1
    assert mesh.norm.vcenter == 0.0  # log10 chi1 = 0: chi1 = 1 is white
    assert mesh.norm.vmin == pytest.approx(math.log10(chi.min()))
    assert mesh.norm.vmax == pytest.approx(math.log10(chi.max()))
    assert 1.5 < 10 ** mesh.norm.vmax < 1.7  # tanh's chi1 peaks near 1.58 on this grid: the bar ends there
    # where nothing was computed (left of the first column) is grey and named, never white (= critical)
    ax = fig.axes[0]
    assert to_rgba(ax.get_facecolor()) != to_rgba("white")
    assert "not computed" in [t.get_text() for t in ax.get_legend().get_texts()]
    bar_labels = [t.get_text() for t in fig.axes[1].get_yticklabels() if t.get_text()]
    assert "1" in bar_labels and any(float(v) > 1 for v in bar_labels if re.fullmatch(r"[\d.]+", v))


def test_acts_draws_every_activation_in_its_own_colour_and_line_style(drawn):
    from gradsim.activations import NAMES

    fig = drawn("acts", "--act", "all")
    for ax in fig.axes:
        curves = [line for line in ax.lines if line.get_label() in NAMES]
        assert sorted(c.get_label() for c in curves) == sorted(NAMES)
        colours = [to_rgba(c.get_color()) for c in curves]
        assert len(set(colours)) == len(NAMES)
        assert len({(c, line.get_linestyle()) for c, line in zip(colours, curves)}) == len(NAMES)
        # neighbours in the legend never share a line style
        styles = [line.get_linestyle() for line in curves]
        assert all(s != t for s, t in zip(styles, styles[1:]))


def test_window_relu_draws_the_unbounded_half_line(drawn):
    import importlib

    fig = drawn("window", "--act", "relu")
    ax = fig.axes[0]
    rows = importlib.import_module("gradsim.window").window("relu").rows
    unbounded = [line for line in ax.lines if line.get_label().startswith("unbounded")]
    assert len(unbounded) == 1
    np.testing.assert_array_equal(unbounded[0].get_xdata(), [r.abs_w for r in rows if math.isinf(r.width_numerical)])
    assert any("half line" in t.get_text() for t in ax.texts)


def _legend_clear_of_axes(fig) -> None:
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None:
            box = legend.get_window_extent()
            assert not box.overlaps(ax.get_window_extent()), (ax.get_title(), "legend over the data")


@pytest.mark.parametrize("name", ["vanish", "explode", "acts", "steps", "steps-long", "clip-plane", "clip-train",
                                  "clip-zero", "phase", "window", "window-relu", "ensemble", "train"])
def test_no_legend_sits_over_the_data(drawn, name):
    _legend_clear_of_axes(drawn(*COMMANDS[name]))


def test_steps_has_integer_step_ticks_and_no_end_labels(drawn):
    ax = drawn("steps", "--act", "sigmoid,relu,softsign").axes[0]
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert len(ticks) >= 3 and all(float(t).is_integer() for t in ticks)
    assert [t.get_text() for t in ax.texts] == []  # the counts are in the legend, whole
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "sigmoid: 67 steps" in legend and "relu: 2 steps" in legend


def test_steps_says_when_the_step_axis_is_symlog(drawn):
    ax = drawn(*COMMANDS["steps-long"]).axes[0]
    assert ax.get_xscale() == "symlog" and "symlog" in ax.get_xlabel()
    ax = drawn(*COMMANDS["steps"]).axes[0]
    assert ax.get_xscale() == "linear" and "symlog" not in ax.get_xlabel()


def _visible_ticks(axis) -> list[tuple[float, str]]:
    lo, hi = sorted(axis.get_view_interval())
    return [(t.get_loc(), t.label1.get_text()) for t in axis.get_major_ticks() if lo <= t.get_loc() <= hi]


def _round(value: float) -> bool:
    """A tick a teacher reads at a glance: at most two significant digits (1, 2, 5, 0.2, 1.5, 20 ...)."""
    return float(f"{value:.2g}") == pytest.approx(value, rel=1e-9)


@pytest.mark.parametrize("name, axis, log10_values", [
    ("vanish", "y", True), ("explode", "y", True), ("ensemble", "y", True), ("clip-train", "y2", False),
    ("window", "x", False), ("train", "y", False)])
def test_log_axes_have_at_least_three_ticks_at_round_values(drawn, name, axis, log10_values):
    fig = drawn(*COMMANDS[name])
    ax = fig.axes[1] if axis == "y2" or name == "ensemble" else fig.axes[0]  # ensemble: the backward panel
    ticks = _visible_ticks(ax.xaxis if axis == "x" else ax.yaxis)
    assert len(ticks) >= 3, ticks
    for loc, text in ticks:
        exponent = loc if log10_values else math.log10(loc)
        assert _round(10 ** (exponent - math.floor(exponent + 1e-9))), (loc, text)
        assert not re.search(r"10\^\{-?\d+\.\d", text), text  # never 10^0.2


def test_log10_ticks_decades_then_one_two_five_then_plain():
    from gradsim.plots import log10_ticks

    np.testing.assert_array_equal(log10_ticks(-5, -0.5), [-5, -4, -3, -2, -1])
    np.testing.assert_allclose(10 ** log10_ticks(-0.1, 0.8), [1, 2, 5])
    short = 10 ** log10_ticks(0.2, 0.35)  # docs/ensemble-tanh.png's range: 1.58 .. 2.24
    assert len(short) >= 3 and all(_round(v) for v in short)
    far = log10_ticks(380.2, 380.3)  # beyond float64: computed from the exponents
    assert len(far) >= 3 and np.all((far >= 380.2) & (far <= 380.3))


def test_a_zero_component_is_drawn_and_labelled_zero(drawn):
    ax = drawn(*COMMANDS["clip-zero"]).axes[0]
    zero_tick = [loc for loc, text in _visible_ticks(ax.yaxis) if text == "0"]
    assert len(zero_tick) == 1
    # the gradient (black) has its 4th component, g2[2] = 0, on the 0 row
    black = [line for line in ax.lines if to_rgba(line.get_color()) == to_rgba("black")
             and line.get_marker() == "o"]
    at_zero = [(x, y) for line in black for x, y in zip(line.get_xdata(), line.get_ydata())
               if np.isfinite(y) and y == zero_tick[0]]
    assert at_zero == [(4, zero_tick[0])]


def test_clip_plane_names_its_axes(drawn):
    ax = drawn(*COMMANDS["clip-plane"]).axes[0]
    assert ax.get_xlabel() == "$g_1$" and ax.get_ylabel() == "$g_2$"


def test_a_value_beyond_matplotlibs_range_is_marked_not_a_warning(drawn):
    ax = drawn("steps", "--act", "linear", "--lr", "1e308").axes[0]
    assert any("off the chart" in t.get_text() for t in ax.texts)


def test_every_line_is_a_line2d_with_data(drawn):
    """No figure is left empty: every axes draws at least one line with a finite point."""
    for name in COMMANDS:
        fig = drawn(*COMMANDS[name])
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                continue
            finite = [line for line in ax.lines if isinstance(line, Line2D)
                      and np.isfinite(np.asarray(line.get_ydata(), dtype=float)).any()]
            assert finite, (name, ax.get_title())


# ---------------------------------------------------------------- gradsim rnn's figures
RNN_RUNS = {
    "vanish": ("rnn",),
    "explode": ("rnn", "--weight", "8", "--bias", "-4", "--h0", "0.5", "--input", "const:0", "--steps", "200"),
    "units": ("rnn", "--units", "4", "--act", "tanh", "--radius", "1.5"),
    "train": ("rnn", "--train", "--steps", "5", "--epochs", "3"),
    "lstm": ("rnn", "--cell", "lstm", "--forget-bias", "40", "--steps", "200"),
    "cliff": ("rnn", "--surface", "--grid", "15"),
}


@pytest.mark.parametrize("name", sorted(RNN_RUNS))
def test_every_rnn_log_axis_has_gradsims_labels_not_matplotlibs(drawn, name):
    fig = drawn(*RNN_RUNS[name])
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            labels = [t.label1.get_text() for t in axis.get_major_ticks() if lo <= t.get_loc() <= hi]
            # matplotlib's LogFormatterSciNotation writes $\mathdefault{2\times10^{0}}$
            assert not any("mathdefault" in s and "10^" in s for s in labels), (name, ax.get_title(), labels)
            if axis.get_scale() == "log" or any("10^" in s for s in labels):
                assert len([s for s in labels if s]) >= 2, (name, ax.get_title(), labels)


@pytest.mark.parametrize("name", ["vanish", "explode", "units", "train", "lstm", "cliff"])
def test_no_rnn_legend_sits_over_the_data(drawn, name):
    fig = drawn(*RNN_RUNS[name])
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None:
            assert not legend.get_window_extent().overlaps(ax.get_window_extent()), (name, ax.get_title())
