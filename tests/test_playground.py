"""TensorFlow Playground's 2-D sets against their definitions in tensorflow/playground src/dataset.ts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradsim import playground
from gradsim.errors import GradsimError


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.mark.parametrize("name", playground.NAMES)
@pytest.mark.parametrize("n", [4, 7, 500])
def test_every_set_has_n_points_in_two_classes(name, n):
    points, labels = playground.GENERATORS[name](n, 0.0, rng())
    assert points.shape == (n, 2) and labels.shape == (n,) and set(np.unique(labels)) <= {0, 1}


@pytest.mark.parametrize("name", ["circle", "gauss", "spiral", "moons"])
def test_noise_free_sets_are_balanced(name):
    _, labels = playground.GENERATORS[name](500, 0.0, rng())
    assert labels.sum() == 250


def test_circle_noise_0_is_a_disc_of_radius_2_5_in_a_ring_from_3_5_to_5():
    points, labels = playground.circle(4000, 0.0, rng())
    r = np.hypot(points[:, 0], points[:, 1])
    assert labels.sum() == 2000
    assert r[labels == 1].max() < 2.5 and r[labels == 1].min() >= 0
    assert r[labels == 0].min() >= 3.5 and r[labels == 0].max() <= 5.0
    # radius uniform: r ~ U(0, 2.5) inside, U(3.5, 5) outside (mean 1.25 and 4.25, sd 0.72 and 0.43)
    assert abs(r[labels == 1].mean() - 1.25) < 4 * 0.72 / math.sqrt(2000)
    assert abs(r[labels == 0].mean() - 4.25) < 4 * 0.43 / math.sqrt(2000)


def test_circle_noise_flips_labels_but_not_points():
    clean, clean_labels = playground.circle(4000, 0.0, rng(1))
    noisy, noisy_labels = playground.circle(4000, 0.5, rng(1))
    np.testing.assert_array_equal(clean, noisy)  # the same draws place the points; noise moves where labels are read
    assert 0 < np.mean(clean_labels != noisy_labels) < 0.5


def test_xor_noise_0_pads_the_axes_and_labels_by_quadrant():
    points, labels = playground.xor(4000, 0.0, rng())
    a = np.abs(points)
    assert a.min() >= 0.3 and a.max() <= 5.3
    np.testing.assert_array_equal(labels, (points[:, 0] * points[:, 1] >= 0).astype(int))
    assert abs(labels.mean() - 0.5) < 4 * 0.5 / math.sqrt(4000)  # each quadrant is equally likely


@pytest.mark.parametrize("noise, variance", [(0.0, 0.5), (0.5, 4.0), (0.25, 2.25)])
def test_gauss_clouds_sit_at_plus_minus_2_with_playgrounds_variance(noise, variance):
    n = 20000
    points, labels = playground.gauss(n, noise, rng())
    for label, centre in ((1, 2.0), (0, -2.0)):
        cloud = points[labels == label]
        assert np.all(np.abs(cloud.mean(axis=0) - centre) < 5 * math.sqrt(variance / (n / 2)))
        # sample variance: relative sd sqrt(2 / (n/2)) = 0.02
        assert np.all(np.abs(cloud.var(axis=0) / variance - 1) < 5 * math.sqrt(2 / (n / 2)))


def test_spiral_noise_0_is_exactly_dataset_ts():
    n = 500
    points, labels = playground.spiral(n, 0.0, rng())
    expected = []
    for delta_t, label in ((0.0, 1), (math.pi, 0)):  # genSpiral(0, 1) then genSpiral(Math.PI, -1)
        for i in range(n // 2):
            r = i / (n / 2) * 5
            t = 1.75 * i / (n / 2) * 2 * math.pi + delta_t
            expected.append((r * math.sin(t), r * math.cos(t), label))
    expected = np.array(expected)
    np.testing.assert_allclose(points, expected[:, :2], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(labels, expected[:, 2])


def test_spiral_noise_is_uniform_within_noise_on_each_coordinate():
    clean, _ = playground.spiral(500, 0.0, rng())
    noisy, _ = playground.spiral(500, 0.3, rng())
    shift = noisy - clean
    assert np.abs(shift).max() <= 0.3 and np.abs(shift).max() > 0.25


def test_moons_noise_0_lie_on_two_circles_of_radius_3():
    points, labels = playground.moons(1000, 0.0, rng())
    centre = np.array([0.5, 0.25])
    upper = points[labels == 0] - 3 * (np.zeros(2) - centre)       # 3 ((cos t, sin t) - c)
    lower = points[labels == 1] - 3 * (np.array([1.0, 0.5]) - centre)  # 3 ((1 - cos t, 1/2 - sin t) - c)
    np.testing.assert_allclose(np.hypot(*upper.T), 3.0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(*lower.T), 3.0, atol=1e-12)
    assert upper[:, 1].min() > -1e-12 and lower[:, 1].max() < 1e-12  # upper arc above its centre, lower below
    assert np.abs(points).max() <= 6  # inside Playground's window


def test_features_are_playgrounds_inputs():
    p = np.array([[1.5, -2.0], [0.3, 4.0]])
    x = playground.featurize(p, playground.parse_features("all"))
    expected = [[x1, x2, x1 * x1, x2 * x2, x1 * x2, math.sin(x1), math.sin(x2)] for x1, x2 in p]
    np.testing.assert_allclose(x, expected, rtol=1e-15)
    assert playground.parse_features("x1x2, x1") == ("x1", "x1x2")  # Playground's order
    assert playground.parse_features(None) == ("x1", "x2")


@pytest.mark.parametrize("spec", ["x3", "", "x1,x1", "x1,,x2"])
def test_bad_features_name_the_option(spec):
    with pytest.raises(GradsimError) as e:
        playground.parse_features(spec)
    assert e.value.option == "--features"


@pytest.mark.parametrize("samples, noise, option", [(3, 0.0, "--samples"), (100_001, 0.0, "--samples"),
                                                    (500, -0.1, "--noise"), (500, 0.9, "--noise"),
                                                    (500, float("nan"), "--noise")])
def test_bad_sizes_and_noise_name_the_option(samples, noise, option):
    with pytest.raises(GradsimError) as e:
        playground.load("circle", rng(), samples, noise)
    assert e.value.option == option


def test_load_splits_80_20_and_keeps_points_beside_features():
    d = playground.load("xor", rng(), 250, 0.1, "all")
    assert (d.n_train, d.n_test, d.n_features, d.n_classes) == (200, 50, 7, 2)
    np.testing.assert_array_equal(d.x_train[:, :2], d.points_train)
    np.testing.assert_array_equal(d.inputs(d.points_test), d.x_test)
    again = playground.load("xor", rng(), 250, 0.1, "all")
    np.testing.assert_array_equal(d.x_train, again.x_train)


def test_window_is_playgrounds_domain_and_points_run_x1_fastest():
    w = playground.Window()
    assert (w.x1, w.x2) == ((-6.0, 6.0), (-6.0, 6.0))
    a1, a2 = w.axes()
    pts = w.points()
    assert pts.shape == (w.grid**2, 2)
    i, j = 7, 123
    assert tuple(pts[i * w.grid + j]) == (a1[j], a2[i])
