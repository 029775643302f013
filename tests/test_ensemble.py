"""The ensemble against independent oracles: `vanish` trial by trial, central differences, closed forms,
numpy's own percentiles, and the mean-field chi1 at width 256."""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest

from gradsim import activations as A
from gradsim import chain, theory
from gradsim.ensemble import (BIN_LOG10, LN10, EnsembleResult, LogHistogram, Net, chain_pass, draw_weights,
                              ensemble, layer_source, merge_square_sums, square_sums, wide_pass)
from gradsim.errors import GradsimError


def make_net(name, depth, width, sigma_w, sigma_b, orthogonal=False, input=None, target=0.0) -> Net:
    act = A.get(name) if isinstance(name, str) else name
    return Net(act, depth, width, sigma_w, sigma_w**2, sigma_b, sigma_b**2, orthogonal, input, target)


def collect(depth: int):
    """A record callback for chain_pass / wide_pass and the (depth, trials) log10 ||delta|| it fills."""
    out = {}

    def record(first, ln):
        for i, row in enumerate(ln):
            out[first + i] = row / LN10

    return record, lambda: np.array([out[layer] for layer in range(depth)])


def vanish_runs(name: str, depth: int, seeds, **options):
    return [chain.vanish(depth=depth, act=name, seed=s, **options) for s in seeds]


# ---------------------------------------------------------------- width 1: the same numbers as vanish
# vanish takes ln gelu'(h) below h = -8 from a 4-term Mills series (off by up to 5e-8 in ln near -8.5, by
# mpmath); the ensemble takes ln |w gelu'(h)| of the direct product, good to 1e-15 there.
@pytest.mark.parametrize("name, atol", [("sigmoid", 1e-11), ("tanh", 1e-11), ("relu", 1e-11), ("gelu", 1e-7),
                                        ("elu", 1e-11)])
def test_chain_pass_equals_vanish_trial_by_trial(name, atol):
    depth, trials = 7, 60
    runs = vanish_runs(name, depth, range(trials), target=0.0 if name != "sigmoid" else 0.5)
    w = np.array([r.w for r in runs]).T.copy()
    b = np.array([r.b for r in runs]).T.copy()
    net = make_net(name, depth, 1, 1.0, 1.0, False, 1.0, runs[0].target)
    record, values = collect(depth)
    with np.errstate(all="ignore"):
        chain_pass(net, w, lambda layer, out: np.copyto(out, b[layer]), record)
    expected = np.array([r.log10_grad_b for r in runs]).T
    assert np.array_equal(np.isneginf(values()), np.isneginf(expected))  # relu: the same dead units
    finite = np.isfinite(expected)
    np.testing.assert_allclose(values()[finite], expected[finite], rtol=1e-12, atol=atol)


def test_chain_pass_is_exact_far_beyond_float64():
    """Depth 400 sigmoid: |dC/db_1| ~ 1e-300 or far less; vanish's log-space values are the oracle."""
    depth, trials = 400, 8
    runs = vanish_runs("sigmoid", depth, range(trials))
    w = np.array([r.w for r in runs]).T.copy()
    b = np.array([r.b for r in runs]).T.copy()
    record, values = collect(depth)
    with np.errstate(all="ignore"):
        chain_pass(make_net("sigmoid", depth, 1, 1.0, 1.0, False, 1.0, 0.0), w,
                   lambda layer, out: np.copyto(out, b[layer]), record)
    expected = np.array([r.log10_grad_b for r in runs]).T
    assert expected.min() < -300 and np.all(np.isfinite(values()))
    np.testing.assert_allclose(values(), expected, rtol=1e-11)


def test_underflowing_derivatives_take_the_log_route():
    """sigma_w = 2000: sigmoid'(h) underflows to 0 for |h| > 745, yet ln sigmoid'(h) = -|h| + ... is finite."""
    depth, trials = 5, 200
    rng = np.random.default_rng(1)
    w, b = 2000.0 * rng.standard_normal((depth, trials)), rng.standard_normal((depth, trials))
    record, values = collect(depth)
    with np.errstate(all="ignore"):
        chain_pass(make_net("sigmoid", depth, 1, 2000.0, 1.0, False, 1.0, 0.0), w.copy(),
                   lambda layer, out: np.copyto(out, b[layer]), record)
    for t in range(0, trials, 37):
        r = chain.run_chain(A.get("sigmoid"), w[:, t], b[:, t], 1.0, 0.0)
        np.testing.assert_allclose(values()[:, t], r.log10_grad_b, rtol=1e-12)
    assert np.any(np.isfinite(values()) & (values() < -400))  # far below the smallest float64


@pytest.mark.parametrize("name", ["sigmoid", "relu"])
def test_percentiles_and_mean_squares_agree_with_vanish_run_on_the_same_seeds(name):
    """Chunks of one trial: trial i draws from SeedSequence(seed).spawn(T)[i], as vanish(seed=that child) does."""
    depth, trials, seed = 6, 45, 11
    r = ensemble(depth=depth, act=name, trials=trials, seed=seed, chunk=1, threads=2)
    runs = vanish_runs(name, depth, np.random.SeedSequence(seed).spawn(trials))
    values = np.array([run.log10_grad_b for run in runs])  # (trials, depth)
    for p, got in zip((5, 50, 95), (r.log10_grad_p5, r.log10_grad_p50, r.log10_grad_p95)):
        exact = np.percentile(values, p, axis=0, method="inverted_cdf")
        assert np.array_equal(np.isneginf(got), np.isneginf(exact))
        ok = np.isfinite(exact)
        assert np.all(np.abs(got[ok] - exact[ok]) <= r.resolution + 1e-12), (p, got, exact)
    with np.errstate(divide="ignore"):
        mean_sq = np.log10(np.mean(10.0 ** (2 * values), axis=0))
    np.testing.assert_allclose(r.log10_mean_sq, mean_sq, rtol=1e-12)
    assert np.allclose(r.zero_fraction, np.mean(np.isneginf(values), axis=0))


def test_the_first_chunk_of_a_run_draws_what_vanish_draws():
    """A chunk of n trials draws standard_normal((2, depth, n)): weights of every layer, then the biases."""
    depth, n = 5, 3
    child = np.random.SeedSequence(4).spawn(1)[0]
    z = np.random.default_rng(child).standard_normal((2, depth, n))
    r = ensemble(depth=depth, trials=n, seed=4, chunk=n, act="tanh")
    runs = [chain.run_chain(A.get("tanh"), z[0][:, t], z[1][:, t], 1.0, 0.0) for t in range(n)]
    values = np.array([run.log10_grad_b for run in runs])
    assert np.all(np.abs(r.log10_grad_p50 - np.percentile(values, 50, axis=0, method="inverted_cdf"))
                  <= r.resolution + 1e-12)


# ---------------------------------------------------------------- wider nets
def numeric_bias_gradients(act, ws, bs, x, target, h=1e-6):
    """dC/db_l by central differences on a plain loop: the oracle."""

    def cost(bs_):
        a = x
        for w, b in zip(ws, bs_):
            a = act.f(w @ a + b)
        return 0.5 * float(np.sum((a - target) ** 2))

    grads = []
    for layer in range(len(bs)):
        g = np.empty_like(bs[layer])
        for i in range(len(g)):
            up = [b.copy() for b in bs]
            down = [b.copy() for b in bs]
            up[layer][i] += h
            down[layer][i] -= h
            g[i] = (cost(up) - cost(down)) / (2 * h)
        grads.append(g)
    return grads


@pytest.mark.parametrize("name, orthogonal", [("tanh", False), ("softplus", True), ("swish", False)])
def test_wide_pass_matches_central_differences(name, orthogonal):
    act, depth, width, n = A.get(name), 4, 3, 5
    net = make_net(act, depth, width, 1.3, 0.4, orthogonal, None, 0.1)
    seeds = np.random.SeedSequence(7).spawn(depth)
    source = layer_source(net, seeds, n)
    x = np.random.default_rng(8).standard_normal((n, width))
    record, values = collect(depth)
    wide_pass(net, x, source, record)
    layers = [source(layer, True) for layer in range(depth)]
    for t in range(n):
        grads = numeric_bias_gradients(act, [w[t] for w, _ in layers], [b[t] for _, b in layers], x[t], 0.1)
        np.testing.assert_allclose(values()[:, t], [math.log10(np.linalg.norm(g)) for g in grads], atol=2e-6)


@pytest.mark.parametrize("name, torch_f", [("tanh", "tanh"), ("sigmoid", "sigmoid"), ("relu", "relu")])
def test_wide_pass_matches_torch_autograd(name, torch_f):
    torch = pytest.importorskip("torch")
    depth, width, n = 6, 8, 4
    net = make_net(name, depth, width, 1.5, 0.3, target=0.2)
    source = layer_source(net, np.random.SeedSequence(12).spawn(depth), n)
    x = np.random.default_rng(13).standard_normal((n, width))
    record, values = collect(depth)
    wide_pass(net, x, source, record)
    layers = [source(layer, True) for layer in range(depth)]
    f = getattr(torch, torch_f)
    biases = [torch.tensor(b, requires_grad=True) for _, b in layers]
    a = torch.tensor(x)
    for (w, _), b in zip(layers, biases):
        a = f(torch.einsum("tij,tj->ti", torch.tensor(w), a) + b)
    (0.5 * ((a - 0.2) ** 2).sum()).backward()  # trials are independent: one sum gives every trial's gradient
    expected = np.array([np.log10(np.linalg.norm(b.grad.numpy(), axis=1)) for b in biases])
    np.testing.assert_allclose(values(), expected, rtol=1e-12, atol=1e-12)


def test_drawing_weights_again_gives_the_same_result_as_keeping_them():
    net = make_net("relu", 6, 4, math.sqrt(2), 0.1, False, None, 0.0)
    seeds = np.random.SeedSequence(3).spawn(6)
    x = np.random.default_rng(0).standard_normal((7, 4))
    kept, kept_values = collect(6)
    again, again_values = collect(6)
    wide_pass(net, x, layer_source(net, seeds, 7), kept, keep=True)
    wide_pass(net, x, layer_source(net, seeds, 7), again, keep=False)
    assert np.array_equal(kept_values(), again_values())


def test_wide_pass_at_width_one_equals_the_chain():
    depth, n = 9, 20
    rng = np.random.default_rng(2)
    w, b = rng.standard_normal((depth, n)), rng.standard_normal((depth, n))
    net = make_net("elu", depth, 1, 1.0, 1.0, False, 1.0, 0.0)
    chained, chain_values = collect(depth)
    wide, wide_values = collect(depth)
    chain_pass(net, w.copy(), lambda layer, out: np.copyto(out, b[layer]), chained)
    wide_pass(net, np.ones((n, 1)), lambda layer, _: (w[layer][:, None, None], b[layer][:, None]), wide)
    np.testing.assert_allclose(wide_values(), chain_values(), rtol=1e-12)


def test_orthogonal_weights_are_gain_times_orthogonal():
    net = make_net("tanh", 1, 6, 5 / 3, 0.0, True, None, 0.0)
    w = draw_weights(net, np.random.default_rng(0), 4)
    for m in w:
        np.testing.assert_allclose(m.T @ m, (5 / 3) ** 2 * np.eye(6), atol=1e-12)


def test_linear_orthogonal_net_keeps_norms_exactly():
    """f = x, W = g Q, b = 0: delta_l = g^(L-l) Q^T ... delta_L, so ln ||delta_l|| - ln ||delta_L|| = (L - l) ln g."""
    depth, gain = 12, 1.7
    net = make_net("linear", depth, 5, gain, 0.0, True, None, 0.0)
    record, values = collect(depth)
    wide_pass(net, np.random.default_rng(5).standard_normal((9, 5)),
              layer_source(net, np.random.SeedSequence(5).spawn(depth), 9), record)
    steps = np.arange(depth - 1, -1, -1)[:, None]
    np.testing.assert_allclose(values() - values()[-1], steps * math.log10(gain) * np.ones((1, 9)), atol=1e-12)


def test_width_256_tanh_measured_factor_is_within_3_percent_of_chi1():
    r = ensemble(width=256, depth=30, act="tanh", sigma_w2=1.5, sigma_b2=0.05, trials=30, seed=0)
    chi = theory.chi1("tanh", 1.5, 0.05)
    assert r.chi1 == pytest.approx(chi, rel=1e-6)
    assert r.measured_factor == pytest.approx(chi, rel=0.03)
    assert r.sigma_w2 == pytest.approx(1.5) and r.sigma_b2 == pytest.approx(0.05)


def test_relu_he_is_critical_by_theory():
    r = ensemble(width=64, depth=10, act="relu", init="he", trials=40, seed=1)
    assert r.chi1 == pytest.approx(1.0) and r.theory_verdict == "critical" and math.isinf(r.depth_scale)
    assert r.verdict == "critical"


# ---------------------------------------------------------------- the histogram
def test_histogram_percentiles_match_numpy_within_the_resolution():
    rng = np.random.default_rng(0)
    hist = LogHistogram(3, 256)  # few bins: forces coarser levels and moving windows
    parts = [rng.standard_normal((3, 500)) * [[0.1], [5.0], [40.0]] + [[-700.0], [0.0], [300.0]] for _ in range(6)]
    for part in parts:
        hist.add(0, part * LN10)
    values = np.concatenate(parts, axis=1)
    got = hist.percentiles((1, 5, 50, 95, 100))
    exact = np.percentile(values, (1, 5, 50, 95, 100), axis=1, method="inverted_cdf")
    assert hist.level > 0
    assert np.all(np.abs(got - exact) <= hist.width / 2 + 1e-9)


def test_histograms_merged_in_any_order_give_the_same_counts():
    rng = np.random.default_rng(1)
    parts = [rng.standard_normal((2, 300)) * s + c for s, c in ((1, 0), (30, -50), (0.01, 400), (3, 9))]

    def filled(order):
        hists = []
        for i in order:
            h = LogHistogram(2, 512)
            h.add(0, parts[i])
            hists.append(h)
        for h in hists[1:]:
            hists[0].merge(h)
        return hists[0]

    a, b = filled([0, 1, 2, 3]), filled([3, 1, 0, 2])
    assert a.level == b.level
    assert np.array_equal(a.percentiles((0, 5, 50, 95, 100)), b.percentiles((0, 5, 50, 95, 100)))
    for h in (a, b):
        assert h.counts.sum() == 4 * 2 * 300


def test_histogram_counts_zeros_and_overflows_apart():
    hist = LogHistogram(1, 64)
    hist.add(0, np.array([[-np.inf, -1e300, 0.0, 1.0, 1e300, np.nan, 2.0, 3.0, 4.0, 5.0]]))
    assert hist.zeros[0] == 2 and hist.overflows[0] == 2 and hist.counts.sum() == 6
    p = hist.percentiles((10, 20, 50, 90, 100))[:, 0]
    assert p[0] == -np.inf and p[1] == -np.inf and p[3] == np.inf and p[4] == np.inf
    assert abs(p[2] - 2.0 / LN10) <= hist.width / 2


def test_astronomical_inputs_are_results_not_errors():
    """input 1e300: h_1 ~ 1e300, ln sigmoid'(h_1) ~ -1e300, far beyond any bin: a zero gradient at layer 1."""
    r = ensemble(depth=3, input=1e300, trials=200, seed=2)
    assert r.log10_grad_p50[0] == -np.inf and r.zero_fraction[0] > 0.9
    assert np.all(np.isfinite(r.log10_grad_p50[1:]))


def test_mean_squares_merge_in_log_space():
    rng = np.random.default_rng(3)
    parts = [rng.standard_normal((1, 50)) * 3 - 400 for _ in range(3)]  # ||delta||^2 ~ e^-800: underflows
    total = None
    for part in parts:
        top = part.max(axis=1)
        pair = np.array([top, square_sums(part, top)])
        total = pair if total is None else merge_square_sums(total, pair)
    values = np.concatenate(parts, axis=1)[0]
    exact = values.max() + 0.5 * math.log(math.fsum(math.exp(2 * (v - values.max())) for v in values))
    assert total[0, 0] + 0.5 * math.log(total[1, 0]) == pytest.approx(exact, rel=1e-13)


# ---------------------------------------------------------------- runs
def result_json(r: EnsembleResult) -> str:
    from gradsim.commands.ensemble import report
    from gradsim.render import to_json

    return to_json("ensemble", report(r).data)


def test_threads_do_not_change_the_output():
    runs = [ensemble(depth=8, trials=5000, chunk=300, seed=9, threads=t, act="relu") for t in (1, 2, 5)]
    assert result_json(runs[0]) == result_json(runs[1]) == result_json(runs[2])
    wide = [ensemble(depth=5, width=8, trials=40, chunk=3, seed=9, threads=t) for t in (1, 3)]
    assert result_json(wide[0]) == result_json(wide[1])


def test_seeds_and_chunks_are_what_the_output_depends_on():
    a = ensemble(depth=5, trials=2000, seed=1)
    assert result_json(a) == result_json(ensemble(depth=5, trials=2000, seed=1))
    assert result_json(a) != result_json(ensemble(depth=5, trials=2000, seed=2))
    assert json.loads(result_json(a))["chunk"] == a.chunk


def test_memory_stays_flat_as_trials_grow():
    peaks = []
    for trials in (20_000, 200_000):
        tracemalloc.start()
        ensemble(depth=20, trials=trials, threads=1, chunk=4096)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.2 * peaks[0] + 2**20, peaks


def test_progress_is_reported_up_to_every_trial():
    seen = []
    ensemble(depth=4, trials=3000, chunk=500, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (3000, 3000)
    assert all(d1 <= d2 for (d1, _), (d2, _) in zip(seen, seen[1:]))


def test_defaults_are_nielsens_chain_and_xavier_when_wider():
    r = ensemble(depth=3, trials=100)
    assert (r.activation, r.init, r.sigma_w, r.sigma_b, r.input, r.target) == ("sigmoid", "normal", 1, 1, 1, 0)
    wide = ensemble(depth=3, width=4, trials=100)
    assert (wide.init, wide.sigma_w, wide.sigma_b, wide.input) == ("xavier", 1, 0, None)
    assert ensemble(depth=3, width=4, init="he", act="leaky-relu", trials=100).sigma_w2 == pytest.approx(
        2 / (1 + 0.01**2))
    given = ensemble(depth=3, width=4, init="he", sigma_w2=1.5, trials=100)
    assert (given.init, given.sigma_w2) == ("given", 1.5)
    gain = ensemble(depth=3, width=4, init="orthogonal", sigma_w=1.2, trials=100)
    assert (gain.init, gain.sigma_w) == ("orthogonal", 1.2)


@pytest.mark.parametrize("kwargs, option", [
    (dict(depth=0), "--depth"), (dict(width=0), "--width"), (dict(trials=0), "--trials"),
    (dict(threads=0), "--threads"), (dict(act="nope"), "--act"), (dict(init="glorot"), "--init"),
    (dict(init="glorot", sigma_w=1.0), "--init"),
    (dict(sigma_w=-1.0), "--sigma-w"), (dict(sigma_b2=math.nan), "--sigma-b2"),
    (dict(sigma_w=1.0, sigma_w2=1.0), "--sigma-w"), (dict(width=2, input=1.0), "--input"),
    (dict(input=math.inf), "--input"), (dict(target=2.0), "--target"), (dict(seed=-1), "--seed"),
])
def test_bad_input_names_the_option(kwargs, option):
    with pytest.raises(GradsimError) as e:
        ensemble(**{"trials": 10, **kwargs})
    assert e.value.option == option


def test_bin_width_is_the_documented_resolution():
    r = ensemble(depth=3, trials=1000)
    assert r.resolution >= BIN_LOG10 / 2 and math.log2(r.resolution / BIN_LOG10 * 2).is_integer()
