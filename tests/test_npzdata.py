"""--data PATH.npz: both layouts through the CLI, and every malformed file a usage error naming the key."""

from __future__ import annotations

import numpy as np

from gradsim import npzdata


def pair(tmp_path, name="pair.npz", n=200, **override):
    rng = np.random.default_rng(1)
    arrays = dict(x=rng.normal(0, 1, (n, 6)), y=rng.integers(0, 3, n))
    arrays.update(override)
    path = tmp_path / name
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def mnist_like(tmp_path, name="mnist.npz", **override):
    """The mnist.npz layout: uint8 28x28 images (here 5x5) and integer labels."""
    rng = np.random.default_rng(2)
    arrays = dict(x_train=rng.integers(0, 256, (120, 5, 5)).astype(np.uint8), y_train=rng.integers(0, 10, 120),
                  x_test=rng.integers(0, 256, (30, 5, 5)).astype(np.uint8), y_test=rng.integers(0, 10, 30))
    arrays.update(override)
    path = tmp_path / name
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def test_x_y_layout_is_split_by_the_seed(run, tmp_path):
    path = pair(tmp_path)
    d = run.json("train", "--data", str(path), "--epochs", "1", "--hidden", "4")
    assert d["n_train"] == 160 and d["n_test"] == 40 and d["n_features"] == 6 and d["n_classes"] == 3
    assert d["data"] == "pair.npz" and "pair.npz" in d["data_description"]


def test_mnist_layout_uses_its_split_flattened_and_scaled(tmp_path):
    path = mnist_like(tmp_path)
    data = npzdata.load_npz(str(path), np.random.default_rng(0))
    raw = np.load(path)
    assert data.n_train == 120 and data.n_test == 30 and data.n_features == 25
    np.testing.assert_array_equal(data.x_train, raw["x_train"].reshape(120, 25) / 255.0)  # order kept
    np.testing.assert_array_equal(data.y_test, raw["y_test"])
    assert data.x_train.min() >= 0 and data.x_train.max() <= 1


def test_mnist_layout_through_the_cli_with_two_activations(run, tmp_path):
    d = run.json("train", "--data", str(mnist_like(tmp_path)), "--epochs", "1", "--hidden", "4", "--act",
                 "relu,tanh")
    assert [r["n_train"] for r in d["runs"]] == [120, 120] and d["runs"][0]["n_features"] == 25


def test_float_features_outside_0_1_are_min_max_scaled_by_the_training_set(tmp_path):
    rng = np.random.default_rng(3)
    x_train, x_test = rng.normal(5, 2, (40, 3)), rng.normal(5, 2, (10, 3))
    path = mnist_like(tmp_path, x_train=x_train, x_test=x_test, y_train=rng.integers(0, 2, 40),
                      y_test=rng.integers(0, 2, 10))
    data = npzdata.load_npz(str(path), np.random.default_rng(0))
    lo, hi = x_train.min(), x_train.max()
    np.testing.assert_allclose(data.x_test, (x_test - lo) / (hi - lo), rtol=1e-15)


def bad_files(tmp_path):
    """(path, the key or word the error must name) for every malformed case."""
    n = 50
    rng = np.random.default_rng(4)
    not_npz = tmp_path / "text.npz"
    not_npz.write_text("hello")
    return [
        (pair(tmp_path, "no_y.npz", y=None), "'y'"),
        (pair(tmp_path, "no_x.npz", x=None), "'x'"),
        (mnist_like(tmp_path, "no_y_test.npz", y_test=None), "'y_test'"),
        (mnist_like(tmp_path, "no_x_train.npz", x_train=None), "'x_train'"),
        (pair(tmp_path, "lengths.npz", y=rng.integers(0, 3, n - 1), n=n), "'y'"),
        (mnist_like(tmp_path, "lengths_test.npz", y_test=rng.integers(0, 10, 29)), "'y_test'"),
        (pair(tmp_path, "text_x.npz", x=np.array([["a"] * 6] * n), n=n), "'x'"),
        (pair(tmp_path, "object_x.npz", x=np.array([{"a": 1}] * n, dtype=object), n=n), "'x'"),
        (pair(tmp_path, "nan_x.npz", x=np.where(np.eye(n, 6) > 0, np.nan, 1.0), n=n), "'x'"),
        (pair(tmp_path, "inf_y.npz", y=np.full(n, np.inf), n=n), "'y'"),
        (pair(tmp_path, "float_y.npz", y=rng.random(n), n=n), "'y'"),
        (pair(tmp_path, "negative_y.npz", y=-np.ones(n, dtype=int), n=n), "'y'"),
        (pair(tmp_path, "one_class.npz", y=np.full(n, 2), n=n), "'y'"),
        (mnist_like(tmp_path, "one_class_train.npz", y_train=np.zeros(120, dtype=int)), "'y_train'"),
        (mnist_like(tmp_path, "features.npz", x_test=np.zeros((30, 4), dtype=np.uint8)), "'x_test'"),
        (pair(tmp_path, "empty.npz", x=np.zeros((0, 6)), y=np.zeros(0, dtype=int)), "'x'"),
        (pair(tmp_path, "labels_2d.npz", y=np.zeros((n, 2), dtype=int), n=n), "'y'"),
        (not_npz, "npz"),
        (tmp_path / "missing.npz", "no such file"),
    ]


def test_every_malformed_file_exits_2_naming_the_key(run, tmp_path):
    cases = bad_files(tmp_path)
    for path, key in cases:
        plot = tmp_path / "never.png"
        err = run.usage_error("train", "--data", str(path), "--epochs", "1", "--plot", str(plot), option="--data")
        flat = " ".join(err.replace("│", " ").split())
        assert key in flat, (path.name, err)
        assert not plot.exists()
