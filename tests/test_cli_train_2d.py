"""`gradsim train` on TensorFlow Playground's 2-D sets: JSON contract, zeros and scaled inits, plots, errors."""

from __future__ import annotations

import numpy as np
import pytest

from gradsim import training

QUICK = ("train", "--data", "circle", "--samples", "100", "--epochs", "2", "--hidden", "6,5")


def test_json_has_the_2d_contract(run):
    d = run.json(*QUICK, "--act", "relu", "--init", "he")
    assert d["data"] == "circle" and d["n_train"] == 80 and d["n_test"] == 20 and d["n_features"] == 2
    assert d["window"] == {"x1": [-6.0, 6.0], "x2": [-6.0, 6.0], "grid": 201}
    assert d["distinct_units"] == [6, 5] and d["features"] == ["x1", "x2"] and d["samples"] == 100
    for e in d["epochs"]:
        assert isinstance(e["regions"], int) and e["regions"] >= max(e["regions_per_layer"]) >= 1


def test_csv_ends_with_the_regions_of_each_epoch(run):
    import csv
    import io

    d = run.json(*QUICK, "--act", "relu")
    rows = list(csv.reader(io.StringIO(run(*QUICK, "--act", "relu", "-f", "csv").stdout)))
    assert rows[0][-1] == "regions" and [int(r[-1]) for r in rows[1:]] == [e["regions"] for e in d["epochs"]]
    assert "regions" not in run(*QUICK, "--act", "tanh", "-f", "csv").stdout.splitlines()[0]


def test_smooth_activations_report_null_regions_and_say_why(run):
    d = run.json(*QUICK, "--act", "tanh")
    assert all(e["regions"] is None for e in d["epochs"])
    assert "not defined for tanh" in run(*QUICK, "--act", "tanh", env={"NO_COLOR": "1", "COLUMNS": "200"}).stdout


def test_other_data_have_null_windows_and_regions(run):
    d = run.json("train", "--data", "synthetic", "--epochs", "1", "--act", "relu", "--hidden", "5,4")
    assert d["window"] is None and all(e["regions"] is None for e in d["epochs"])
    assert d["distinct_units"] == [5, 4]


@pytest.mark.parametrize("act", ["sigmoid", "relu", "tanh"])
def test_zeros_init_never_breaks_symmetry_and_stays_at_the_majority_share(act):
    r = training.train(data="circle", samples=200, hidden="7,4,3", act=act, init="zeros", epochs=15, lr=0.3)
    for w, b in zip(r.weights[:-1], r.biases[:-1]):
        assert (w == w[0]).all() and (b == b[0]).all()  # every unit's incoming weights identical, exactly
    assert r.distinct_units == (1, 1, 1)
    majority = np.bincount(r.dataset.y_train, minlength=2).argmax()
    assert r.epochs[-1].accuracy == np.mean(r.dataset.y_test == majority)


def test_init_scale_multiplies_the_weights_and_keeps_relu_patterns():
    options = dict(data="spiral", samples=100, hidden="8,8", act="relu", init="he", epochs=1, frames=2)
    one, ten = training.train(**options), training.train(**options, init_scale=10)
    (epoch_one, ws_one, bs_one), (epoch_ten, ws_ten, bs_ten) = one.snapshots[0], ten.snapshots[0]
    assert epoch_one == epoch_ten == 0
    for w1, w10 in zip(ws_one, ws_ten):
        np.testing.assert_array_equal(w10, 10 * w1)
    assert all((b == 0).all() for b in (*bs_one, *bs_ten))
    # zero biases and relu(K z) = K relu(z): a positive K cannot move any unit's kink, so the regions are the same
    assert one.epochs[0].regions == ten.epochs[0].regions
    assert ten.epochs[0].loss > one.epochs[0].loss


def test_gif_and_png_plots_through_the_cli(run, tmp_path):
    from PIL import Image

    gif = tmp_path / "b.gif"
    result = run(*QUICK, "--act", "relu", "--frames", "2", "--plot", gif)
    assert result.exit_code == 0
    with Image.open(gif) as im:
        assert im.n_frames == 2
    png = tmp_path / "b.png"
    assert run(*QUICK, "--plot", png).exit_code == 0 and png.stat().st_size > 0


@pytest.mark.parametrize("args, option", [
    (("--samples", "3"), "--samples"),
    (("--noise", "-0.1"), "--noise"),
    (("--noise", "nan"), "--noise"),
    (("--features", "x3"), "--features"),
    (("--init-scale", "0"), "--init-scale"),
    (("--init-scale", "inf"), "--init-scale"),
    (("--init", "zero"), "--init"),
    (("--frames", "3"), "--frames"),
    (("--frames", "0", "--plot", "x.gif"), "--frames"),
    (("--frames", "101", "--plot", "x.gif"), "--frames"),
    (("--data", "cirle"), "--data"),
])
def test_bad_2d_options_are_usage_errors(run, args, option, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run.usage_error(*QUICK, *args, option=option)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, option", [
    (("--data", "synthetic", "--samples", "100"), "--samples"),
    (("--data", "synthetic", "--plot", "x.gif"), "--plot"),
    (("--data", "synthetic", "--plot", "x.jpg"), "--plot"),
])
def test_2d_only_options_refuse_other_data(run, args, option, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run.usage_error("train", "--epochs", "1", *args, option=option)
    assert list(tmp_path.iterdir()) == []


def test_a_diverged_relu_net_has_no_regions_from_then_on(run):
    args = ("train", "--data", "spiral", "--samples", "60", "--hidden", "4,4", "--act", "relu", "--epochs", "3")
    d = run.json(*args, "--init-scale", "1e300")
    assert d["diverged_at"] == 1 and isinstance(d["epochs"][0]["regions"], int) and d["epochs"][1]["regions"] is None
    out = run(*args, "--init-scale", "1e300", env={"NO_COLOR": "1", "COLUMNS": "200"}).stdout
    assert "diverged" in out and "not defined" not in out
    out = run(*args, "--init-scale", "1e308").stdout  # inf weights from the start
    assert "not counted" in out
