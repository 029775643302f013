"""The boundary figures draw the network's own predictions; the GIF has a frame per recorded epoch, written atomically."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from gradsim import training

SMALL = dict(data="circle", samples=120, epochs=4, lr=0.05, hidden="6,5", init="he", seed=2)


@pytest.fixture(scope="module")
def bp():
    from gradsim import boundary_plots

    return boundary_plots


def softmax_class_1(ws, bs, act, x1: float, x2: float, all_features: bool = False) -> float:
    """An independent forward pass, one point at a time, in plain Python loops (Playground's 7 inputs if asked)."""
    a = [x1, x2, x1 * x1, x2 * x2, x1 * x2, math.sin(x1), math.sin(x2)] if all_features else [x1, x2]
    for layer, (w, b) in enumerate(zip(ws, bs)):
        z = [sum(w[i][j] * a[j] for j in range(len(a))) + b[i] for i in range(len(b))]
        a = z if layer == len(ws) - 1 else [act(v) for v in z]
    top = max(a)
    e = [math.exp(v - top) for v in a]
    return e[1] / sum(e)


@pytest.mark.parametrize("act, f, features", [("relu", lambda v: max(v, 0.0), None), ("tanh", math.tanh, None),
                                               ("relu", lambda v: max(v, 0.0), "all")])
def test_heat_map_values_are_the_networks_predictions(bp, act, f, features):
    r = training.train(act=act, features=features, **SMALL)
    fig = bp.boundary_figure([r])
    image = fig.axes[0].images[0].get_array()
    a1, a2 = r.dataset.window.axes()
    rng = np.random.default_rng(0)
    for i, j in rng.integers(0, len(a1), (25, 2)):  # row i is x2 = a2[i], column j is x1 = a1[j]
        expected = softmax_class_1(r.weights, r.biases, f, a1[j], a2[i], features == "all")
        assert image[i, j] == pytest.approx(expected, abs=1e-12)
    assert fig.axes[0].images[0].origin == "lower"
    assert fig.axes[0].images[0].get_extent() == [-6.0, 6.0, -6.0, 6.0]


def test_region_edges_separate_different_patterns(bp):
    ids = np.array([[0, 0, 1], [0, 0, 1], [2, 2, 2]])
    np.testing.assert_array_equal(bp.region_edges(ids), [[False, True, False], [True, True, True],
                                                          [False, False, False]])


def test_region_edges_are_drawn_for_relu_only(bp):
    for act, drawn in (("relu", True), ("tanh", False)):
        fig = bp.boundary_figure([training.train(act=act, **SMALL)])
        assert (fig.axes[0].images[1].get_array()[..., 3] > 0).any() == drawn


def test_gif_has_one_frame_per_recorded_epoch(bp, tmp_path):
    from PIL import Image

    r = training.train(act="relu", frames=4, **{**SMALL, "epochs": 6})
    assert [s[0] for s in r.snapshots] == [0, 2, 4, 6]
    path = bp.save([r], tmp_path / "b.gif")
    with Image.open(path) as im:
        assert im.format == "GIF" and im.n_frames == 4
    assert os.listdir(tmp_path) == ["b.gif"]


def test_gif_crash_mid_write_leaves_the_old_file_and_no_temporary(bp, tmp_path, monkeypatch):
    from matplotlib.animation import PillowWriter

    r = training.train(act="relu", frames=2, **SMALL)
    target = tmp_path / "b.gif"
    target.write_bytes(b"old")

    def crash(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(PillowWriter, "finish", crash)
    with pytest.raises(KeyboardInterrupt):
        bp.save([r], target)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["b.gif"]


def test_snapshots_are_copies_not_the_trained_arrays():
    r = training.train(act="relu", frames=2, **SMALL)
    first, last = r.snapshots
    assert first[0] == 0 and last[0] == SMALL["epochs"]
    assert all(np.array_equal(a, b) for a, b in zip(last[1], r.weights))
    assert not all(np.array_equal(a, b) for a, b in zip(first[1], r.weights))


def test_several_activations_side_by_side_share_one_loss_panel(bp, run, tmp_path):
    results = training.train_many(acts="tanh,relu", frames=3, **SMALL)
    fig = bp.boundary_figure(results)
    heat = [ax for ax in fig.axes if ax.images]
    assert len(heat) == 2 and len(fig.axes) == 3
    assert "tanh" in heat[0].get_title() and "n/a" in heat[0].get_title()
    assert "relu" in heat[1].get_title() and "linear region" in heat[1].get_title()
    gif = tmp_path / "two.gif"
    assert run("train", "--data", "circle", "--samples", "120", "--epochs", "2", "--hidden", "6,5", "--act",
               "tanh,relu", "--frames", "2", "--plot", gif).exit_code == 0
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames == 2
