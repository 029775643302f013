"""The plain ensemble's forward statistics (mean and variance of h_l and f(h_l), the length map's q_l) against
plain numpy loops rebuilt from the documented draws, mpmath, and numpy's own variance."""

from __future__ import annotations

import json
import math
import statistics

import mpmath as mp
import numpy as np
import pytest
from typer.testing import CliRunner

from gradsim import activations as A
from gradsim import meanfield, running
from gradsim.cli import app
from gradsim.ensemble import children, ensemble


# ---------------------------------------------------------------- merging parts
def test_merged_parts_give_the_exact_mean_and_variance():
    """Oracle: statistics.pvariance, which sums in exact fractions."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 3, 40)) * [[1.0], [1e-3], [50.0]] + [[0.0], [1e8], [-3.0]]
    n_a, stats = 0, None
    for chunk in x:  # 7 parts of 40 values per column
        part = np.array([running.part(row) for row in chunk]).T
        stats = part if stats is None else running.merge(n_a, stats, 40, part)
        n_a += 40
    whole = x.transpose(1, 0, 2).reshape(3, -1)
    exact = np.array([statistics.pvariance(row.tolist()) for row in whole])
    assert np.allclose(stats[0], [statistics.fmean(row.tolist()) for row in whole], rtol=1e-14, atol=1e-15)
    got = running.variance(n_a, stats)
    assert np.allclose(got[[0, 2]], exact[[0, 2]], rtol=1e-13)
    # mean 1e8, sd 1e-3: the parts' means carry 1e8's rounding, yet 5 digits stay, where E x^2 - (E x)^2 is < 0
    assert got[1] == pytest.approx(exact[1], rel=1e-5)
    assert np.mean(whole[1] ** 2) - np.mean(whole[1]) ** 2 < 0


# ---------------------------------------------------------------- the length map's trajectory
def test_q_trajectory_matches_mpmath_iteration():
    w2, b2, q = 1.7, 0.3, 1.2
    expected = [q]
    for _ in range(5):
        s = mp.sqrt(expected[-1])
        e = mp.quad(lambda z: mp.tanh(s * z) ** 2 * mp.npdf(z), [-mp.inf, -1, 0, 1, mp.inf])
        expected.append(float(w2 * e + b2))
    got = meanfield.q_trajectory(A.get("tanh"), 6, w2, b2, q)
    assert np.allclose(got, expected, rtol=1e-10, atol=0)


def test_q_trajectory_closed_forms():
    relu, linear = A.get("relu"), A.get("linear")
    assert np.allclose(meanfield.q_trajectory(relu, 40, 2.0, 0.0, 3.0), 3.0, rtol=1e-14)  # E relu(h)^2 = q/2
    geometric = meanfield.q_trajectory(linear, 30, 1.5, 0.25, 1.0)  # q' = 1.5 q + 0.25
    closed = 1.5 ** np.arange(30) * (1.0 + 0.5) - 0.5  # fixed point -0.5 of the affine map
    assert np.allclose(geometric, closed, rtol=1e-13)
    beyond = meanfield.q_trajectory(linear, 3000, 4.0, 0.0, 1.0)  # 4^l passes Q_MAX near l = 332
    assert np.isinf(beyond[-1]) and np.isfinite(beyond[300])


# ---------------------------------------------------------------- the numbers of a run, rebuilt
def _chain_values(depth, n, seed, act, sigma_w, sigma_b, x):
    """Width 1: h_l and f(h_l) of n chains from the chunk's generator (weights (depth, n), then biases by layer)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    w = rng.standard_normal((depth, n)) * sigma_w
    # the biases come layer by layer for all n chains at once, after every weight
    h = np.empty((depth, n))
    f = np.empty((depth, n))
    a = np.full(n, x)
    for layer in range(depth):
        b = rng.standard_normal(n) * sigma_b
        for t in range(n):
            h[layer, t] = b[t] + w[layer, t] * a[t]
            f[layer, t] = act.f(np.array([h[layer, t]]))[0]
        a = f[layer]
    return h, f


def test_width_one_forward_statistics_are_those_of_the_chains():
    act, depth, n = A.get("tanh"), 6, 5
    r = ensemble(depth=depth, act="tanh", trials=n, chunk=n, seed=3, sigma_w=1.3, sigma_b=0.4, input=0.7)
    h, f = _chain_values(depth, n, 3, act, 1.3, 0.4, 0.7)
    assert np.allclose(r.pre_mean, h.mean(axis=1), rtol=1e-12, atol=1e-15)
    assert np.allclose(r.pre_var, h.var(axis=1), rtol=1e-12)
    assert np.allclose(r.act_mean, f.mean(axis=1), rtol=1e-12, atol=1e-15)
    assert np.allclose(r.act_var, f.var(axis=1), rtol=1e-12)
    assert np.allclose(r.pre_q, np.mean(h * h, axis=1), rtol=1e-12)


def _wide_values(depth, width, trials, chunk, seed, act, sigma_w, sigma_b):
    """h_l and f(h_l) (depth, trials, width): chunk i from child i of the seed, x then (W_l, b_l) per layer."""
    root = np.random.SeedSequence(seed)
    hs, fs = [], []
    for i in range(-(-trials // chunk)):
        n = min(chunk, trials - i * chunk)
        seeds = children(np.random.SeedSequence(root.entropy, spawn_key=(i,)), depth + 1)
        x = np.random.default_rng(seeds[0]).standard_normal((n, width))
        for t in range(n):
            a, h_t, f_t = x[t], [], []
            for layer in range(depth):
                rng = np.random.default_rng(seeds[layer + 1])
                w = rng.standard_normal((n, width, width))[t] * sigma_w / math.sqrt(width)
                b = rng.standard_normal((n, width))[t] * sigma_b
                h = w @ a + b
                a = act.f(h)
                h_t.append(h)
                f_t.append(a)
            hs.append(h_t)
            fs.append(f_t)
    return np.transpose(hs, (1, 0, 2)), np.transpose(fs, (1, 0, 2))


@pytest.mark.parametrize("name", ["tanh", "relu", "softplus"])
def test_wide_forward_statistics_are_those_of_a_plain_loop_in_any_chunks_and_threads(name):
    act, depth, width, trials = A.get(name), 5, 4, 7
    h, f = _wide_values(depth, width, trials, 3, 9, act, 1.2, 0.3)
    for threads in (1, 3):
        r = ensemble(depth=depth, width=width, act=name, trials=trials, chunk=3, seed=9, sigma_w=1.2,
                     sigma_b=0.3, threads=threads)
        flat_h, flat_f = h.reshape(depth, -1), f.reshape(depth, -1)
        assert np.allclose(r.pre_mean, flat_h.mean(axis=1), rtol=1e-12, atol=1e-15)
        assert np.allclose(r.pre_var, flat_h.var(axis=1), rtol=1e-12)
        assert np.allclose(r.act_mean, flat_f.mean(axis=1), rtol=1e-12, atol=1e-15)
        assert np.allclose(r.act_var, flat_f.var(axis=1), rtol=1e-12)


def test_wide_forward_statistics_match_torch_trial_by_trial():
    torch = pytest.importorskip("torch")
    depth, width, trials = 4, 6, 3
    h, f = _wide_values(depth, width, trials, trials, 2, A.get("gelu"), 1.1, 0.2)
    root = np.random.SeedSequence(2)
    seeds = children(np.random.SeedSequence(root.entropy, spawn_key=(0,)), depth + 1)
    x = torch.tensor(np.random.default_rng(seeds[0]).standard_normal((trials, width)))
    hs, a = [], x
    for layer in range(depth):
        rng = np.random.default_rng(seeds[layer + 1])
        w = torch.tensor(rng.standard_normal((trials, width, width)) * 1.1 / math.sqrt(width))
        b = torch.tensor(rng.standard_normal((trials, width)) * 0.2)
        pre = torch.bmm(w, a[:, :, None])[:, :, 0] + b
        hs.append(pre.numpy())
        a = torch.nn.functional.gelu(pre)
    assert np.allclose(np.array(hs), h, rtol=1e-12, atol=1e-14)
    r = ensemble(depth=depth, width=width, act="gelu", trials=trials, seed=2, sigma_w=1.1, sigma_b=0.2)
    assert np.allclose(r.pre_var, np.array(hs).reshape(depth, -1).var(axis=1), rtol=1e-12)


def test_wide_tanh_forward_statistics_follow_the_length_map():
    """At width 256 the measured mean of h_l^2 is the length map's q_l within sampling error (200 trials: a
    trial's q_l scatters by about sqrt(2 l / N), so the mean by 1-2%)."""
    r = ensemble(depth=12, width=256, act="tanh", sigma_w2=1.5, sigma_b2=0.05, trials=200, seed=1)
    assert r.q_theory[0] == pytest.approx(1.55)
    assert np.allclose(r.pre_q, r.q_theory, rtol=0.03)
    assert np.all(np.abs(r.act_mean) < 0.01)  # tanh is odd and the biases are centred


def test_sigmoid_chain_mean_of_f_matches_the_length_maps_gaussian_only_roughly():
    """Width 1: the recursion E h_(l+1)^2 = sigma_w^2 E f(h_l)^2 + sigma_b^2 is exact, the Gaussian h is not."""
    r = ensemble(depth=8, act="sigmoid", trials=100_000, seed=0)
    assert r.q_theory[0] == 2.0 and abs(r.pre_q[0] - 2.0) < 0.03  # h_1 = w + b: Var 2 exactly
    assert np.allclose(r.pre_q, r.q_theory, rtol=0.05)


def test_overflowed_forward_passes_give_null_not_a_warning():
    result = CliRunner().invoke(app, ["ensemble", "--depth", "6", "--act", "linear", "--sigma-w", "1e80",
                                      "--trials", "50", "-f", "json"])
    assert result.exit_code == 0, result.output
    layer = json.loads(result.stdout)["layers"][-1]
    assert layer["pre_var"] is None and layer["q_theory"] is None


def test_json_and_csv_carry_the_contract_keys():
    runner = CliRunner()
    result = runner.invoke(app, ["ensemble", "--depth", "4", "--width", "8", "--trials", "20", "-f", "json"])
    data = json.loads(result.stdout)
    assert data["architecture"] == "plain MLP" and data["theory_factor"] is not None
    for key in ("pre_mean", "pre_var", "pre_q", "act_mean", "act_var", "q_theory"):
        assert all(math.isfinite(layer[key]) for layer in data["layers"])
    csv = runner.invoke(app, ["ensemble", "--depth", "4", "--trials", "20", "-f", "csv"]).stdout.splitlines()
    assert {"pre_mean", "act_var", "q_theory"} <= set(csv[0].split(","))


def test_per_layer_theory_factors_match_mpmath_along_q_and_are_fitted_as_measured():
    """grad_factor_theory_l = sigma_w^2 E f'(sqrt(q_l) z)^2 at the length map's q_l; theory_factor is the slope of their
    product, fitted over the same layers (1..L-1) as measured_factor."""
    r = ensemble(depth=8, width=32, act="tanh", sigma_w2=1.5, sigma_b2=0.05, trials=4, seed=0)
    for layer in (0, 3, 6):
        s = mp.sqrt(r.q_theory[layer])
        e = mp.quad(lambda z: (1 / mp.cosh(s * z)) ** 4 * mp.npdf(z), [-mp.inf, -1, 0, 1, mp.inf])
        assert r.grad_factor_theory[layer] == pytest.approx(float(1.5 * e), rel=1e-10)
    assert math.isnan(r.grad_factor_theory[-1])
    steps = np.append(np.cumsum(np.log10(r.grad_factor_theory[:-1])[::-1])[::-1], 0.0)[:-1]
    slope = np.polyfit(np.arange(1, 8), steps, 1)[0]
    assert r.theory_factor == pytest.approx(10 ** -slope, rel=1e-12)


def test_the_first_layers_q_is_not_clamped():
    r = ensemble(depth=2, act="relu", sigma_w=1e120, sigma_b=0.0, trials=50)
    assert r.q_theory[0] == pytest.approx(1e240) and math.isinf(r.q_theory[1])


def test_a_gap_in_a_relu_chain_is_put_down_to_rare_trials_not_to_the_theory():
    """relu's length map is exact in the mean at width 1 (E relu(h)^2 = E h^2 / 2 for symmetric h)."""
    result = CliRunner().invoke(app, ["ensemble", "--act", "relu", "--init", "he", "--depth", "50", "--trials",
                                      "20000"], env={"COLUMNS": "200"})
    text = " ".join(result.stdout.split())
    assert "exact in the mean here" in text and "rare trials" in text
    assert "the length map assumes wide layers" not in text
