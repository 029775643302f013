"""Linear-region counting against hand-built nets whose regions are known by geometry."""

from __future__ import annotations

import numpy as np
import pytest

from gradsim import regions
from gradsim.playground import Window


def line_units(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z_i = w_i x + b_i for every point x (rows) and unit i (columns)."""
    return np.outer(x, w) + b


@pytest.mark.parametrize("seed", range(8))
def test_one_layer_on_a_line_has_one_piece_more_than_breakpoints_inside(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 12))
    breaks = np.round(rng.uniform(-9, 9, k), 1)  # on a 0.1 lattice: never on a grid point, often repeated
    breaks += 0.05
    w = rng.choice([-1.0, 1.0], k) * rng.uniform(0.5, 2, k)
    b = -w * breaks  # unit i switches at x = breaks_i
    x = np.linspace(-6, 6, 12001)  # step 0.001: every gap between breakpoints holds grid points
    inside = len({float(t) for t in breaks if -6 < t < 6})
    assert regions.count([line_units(x, w, b)], "relu") == regions.Regions((inside + 1,), inside + 1)


def test_a_unit_with_zero_weight_never_switches():
    x = np.linspace(-6, 6, 1001)
    z = line_units(x, np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.5, -1.0]))
    assert regions.count([z], "relu").total == 2


def plane_z(w: np.ndarray, b: np.ndarray, window: Window) -> np.ndarray:
    return window.points() @ np.asarray(w).T + b


def test_three_lines_in_general_position_make_7_regions():
    w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = np.array([-0.31, 0.73, -1.87])  # x1 = 0.31, x2 = -0.73, x1 + x2 = 1.87: three crossings inside the window
    assert regions.count([plane_z(w, b, Window())], "relu") == regions.Regions((7,), 7)


def test_three_parallel_lines_make_4_and_three_concurrent_lines_6():
    w = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    assert regions.count([plane_z(w, np.array([-1.01, 0.03, 2.07]), Window())], "relu").total == 4
    w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert regions.count([plane_z(w, np.zeros(3), Window(grid=200))], "relu").total == 6


def test_two_layers_count_joint_patterns_and_each_layer_alone():
    window = Window()
    z1 = plane_z(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0.013, 0.017]), window)  # 4 quadrants
    z2 = (np.maximum(z1, 0) @ np.array([[1.0, 1.0]]).T) - 2.0  # on where relu(x1) + relu(x2) > 2
    on = np.concatenate([z1 > 0, z2 > 0], axis=1)
    expected_total = len({tuple(r) for r in on})  # independent: a set of tuples
    got = regions.count([z1, z2], "relu")
    assert got == regions.Regions((4, 2), expected_total)
    ids = regions.pattern_ids([z1, z2])
    for i in range(0, len(on), 997):  # same id <=> same pattern
        np.testing.assert_array_equal(ids == ids[i], np.all(on == on[i], axis=1))


@pytest.mark.parametrize("seed", range(6))
def test_a_finer_grid_never_finds_fewer_patterns(seed):
    rng = np.random.default_rng(seed)
    ws = [rng.normal(0, 1, (6, 2)), rng.normal(0, 0.6, (5, 6))]
    bs = [rng.normal(0, 1, 6), rng.normal(0, 1, 5)]
    last = 0
    for grid in (11, 21, 41, 81, 161):  # nested: each grid holds every point of the one before
        x = Window(grid=grid).points()
        z1 = x @ ws[0].T + bs[0]
        z2 = np.maximum(z1, 0) @ ws[1].T + bs[1]
        total = regions.count([z1, z2], "leaky-relu").total
        assert total >= last
        last = total


def test_smooth_activations_have_no_regions_and_linear_has_one():
    z = [np.random.default_rng(0).normal(size=(50, 3))]
    for act in ("tanh", "sigmoid", "gelu", "elu", "softplus"):
        assert regions.count(z, act) is None
    assert regions.count(z * 2, "linear") == regions.Regions((1, 1), 1)


def test_more_than_40_units_are_folded_exactly():
    on = np.random.default_rng(3).random((3000, 100)) < 0.02
    on[::2] = on[1::2]  # every pattern twice
    assert regions.count([np.where(on, 1.0, -1.0)], "relu").total == len({tuple(r) for r in on})
