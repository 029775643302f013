"""Clipping against independent oracles: plain-math loops, mpmath beyond float64, torch when installed."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradsim import clipping as C
from gradsim.errors import GradsimError

components = st.floats(-1e6, 1e6, allow_nan=False)
vectors = st.lists(components, min_size=1, max_size=12)
thresholds = st.floats(1e-3, 1e3)


def norm(values) -> float:
    """||v||_2 by a plain sum (the oracle: no numpy)."""
    return math.sqrt(math.fsum(v * v for v in values))


def cos(a, b) -> float:
    return math.fsum(x * y for x, y in zip(a, b)) / (norm(a) * norm(b))


# ---------------------------------------------------------------- properties
@settings(max_examples=200, deadline=None)
@given(g=vectors, t=thresholds)
def test_norm_output_has_norm_at_most_t_and_keeps_the_direction(g, t):
    out = C.clip_by_norm(np.array(g), t)
    n = norm(g)
    assert norm(out) <= t * (1 + 1e-12)
    if n > 0:
        assert cos(g, out) == pytest.approx(1.0, abs=1e-12)
    if n + C.NORM_EPS <= t:
        assert list(out) == g  # small enough: untouched


@settings(max_examples=200, deadline=None)
@given(g=vectors, t=thresholds)
def test_value_output_is_each_component_clamped_to_t(g, t):
    out = C.clip_by_value(np.array(g), t)
    assert all(-t <= o <= t for o in out)
    assert list(out) == [min(max(v, -t), t) for v in g]


@settings(max_examples=100, deadline=None)
@given(gs=st.lists(vectors, min_size=1, max_size=5), t=thresholds, eps=st.sampled_from([0.0, 1e-6, 0.1]))
def test_global_norm_equals_norm_on_the_concatenation(gs, t, eps):
    tensors = [np.array(g) for g in gs]
    together = np.concatenate(C.clip_by_global_norm(tensors, t, eps))
    np.testing.assert_allclose(together, C.clip_by_norm(np.concatenate(tensors), t, eps), rtol=1e-12, atol=0)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), lam=st.floats(1e-3, 1.0))
def test_adaptive_clips_each_row_to_lambda_times_its_weight_norm(data, lam):
    rows, cols = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    g = np.array(data.draw(st.lists(st.lists(components, min_size=cols, max_size=cols), min_size=rows,
                                    max_size=rows)))
    w = np.array(data.draw(st.lists(st.lists(st.floats(-10, 10), min_size=cols, max_size=cols), min_size=rows,
                                    max_size=rows)))
    out = C.clip_adaptive([g], [w], lam)[0]
    for i in range(rows):
        bound = lam * max(norm(w[i]), 1e-3)
        gn = norm(g[i])
        expected = [v * bound / gn for v in g[i]] if gn > bound else list(g[i])
        # subnormal results keep fewer digits: compared to within a few of their 5e-324 steps
        np.testing.assert_allclose(out[i], expected, rtol=1e-12, atol=1e-320)


def test_adaptive_treats_a_vector_as_one_unit():
    out = C.clip_adaptive([np.array([3.0, 4.0])], [np.array([0.0, 10.0])], lam=0.1)[0]
    np.testing.assert_allclose(out, [0.6, 0.8], rtol=1e-15)  # |G| = 5 > 0.1 x 10 = 1: scaled to norm 1


# ---------------------------------------------------------------- the examples
def test_the_3_4_example():
    g = np.array([3.0, 4.0])
    assert list(C.clip_by_value(g, 0.5)) == [0.5, 0.5]
    np.testing.assert_allclose(C.clip_by_norm(g, 0.5), [3 * 0.5 / (5 + 1e-6), 4 * 0.5 / (5 + 1e-6)], rtol=1e-15)
    np.testing.assert_allclose(C.clip_by_norm(g, 0.5, eps=0.0), [0.3, 0.4], rtol=1e-15)  # TensorFlow's clip_by_norm


@pytest.mark.parametrize("eps", [0.0, 1e-6])
def test_a_zero_vector_stays_zero(eps):
    z = np.zeros(3)
    assert list(C.clip_by_norm(z, 0.5, eps)) == [0, 0, 0]
    assert [list(v) for v in C.clip_by_global_norm([z, np.zeros(2)], 0.5, eps)] == [[0, 0, 0], [0, 0]]
    assert list(C.clip_adaptive([z], [np.zeros(3)], 0.01)[0]) == [0, 0, 0]
    assert list(C.clip_by_value(z, 0.5)) == [0, 0, 0]
    r = C.clip(grads=["0,0,0"], eps=eps)
    assert all(list(m.clipped) == [0, 0, 0] and m.norm_after == 0 and math.isnan(m.cosine) for m in r.results)


@pytest.mark.parametrize("g, t", [((3.0, 4.0), 0.5), ((5.0, 12.0), 1.0), ((8.0, 15.0), 0.7), ((1e308, 1e308), 2.0)])
def test_eps_zero_is_tensorflows_clip_by_norm_digit_for_digit(g, t):
    """TensorFlow: t * g / max(||g||, t), in that order (g t overflowing at 1e308 is scaled first)."""
    norm = math.hypot(*g)
    want = [x * t / max(norm, t) if math.isfinite(x * t) else x * (t / max(norm, t)) for x in g]
    assert C.clip_by_norm(np.array(g), t, eps=0.0).tolist() == want
    grad = C.Gradient((np.array([g]),), (C.LogArray.of(np.array([g])),), None, ("a", "b"))
    assert C.clip_gradient("norm", grad, t, eps=0.0)[0].value().ravel().tolist() == want


def test_huge_finite_components_do_not_overflow_the_norm():
    g = np.array([3e300, 4e300])
    np.testing.assert_allclose(C.clip_by_norm(g, 0.5), [0.3, 0.4], rtol=1e-12)
    assert C.l2_norm(g) == pytest.approx(5e300, rel=1e-15)


@pytest.mark.parametrize("bad", [0.0, -0.5, math.inf, math.nan])
def test_a_threshold_that_is_not_positive_and_finite_is_refused(bad):
    for fn in (lambda: C.clip_by_value(np.ones(2), bad), lambda: C.clip_by_norm(np.ones(2), bad),
               lambda: C.clip_by_global_norm([np.ones(2)], bad), lambda: C.clip(threshold=bad)):
        with pytest.raises(GradsimError) as e:
            fn()
        assert e.value.option == "--threshold"
    with pytest.raises(GradsimError) as e:
        C.clip_adaptive([np.ones(2)], [np.ones(2)], bad)
    assert e.value.option == "--lam"


def test_mismatched_weights_are_refused():
    with pytest.raises(GradsimError, match="shape"):
        C.clip_adaptive([np.ones(2)], [np.ones(3)], 0.1)
    with pytest.raises(GradsimError, match="one weight tensor per gradient"):
        C.clip_adaptive([np.ones(2), np.ones(2)], [np.ones(2)], 0.1)


# ---------------------------------------------------------------- Hansen's chain
def explode_gradient(depth: int) -> list[tuple[str, float]]:
    """Nielsen's chain with w_j = 100, z_j = 0, input 1, target 0, by hand: s'(0) = 1/4, a_j = 1/2."""
    s = 1 / (1 + math.exp(0.0))
    ds = s * (1 - s)
    a = [1.0] + [s] * depth
    err = a[-1] - 0.0
    out = []
    for j in range(1, depth + 1):
        grad_b = ds * (100 * ds) ** (depth - j) * err
        out += [(f"dC/dw{j}", grad_b * a[j - 1]), (f"dC/db{j}", grad_b)]
    return out


def test_the_chain_gradient_is_nielsens():
    r = C.clip()
    expected = explode_gradient(4)
    assert r.gradient.labels == tuple(name for name, _ in expected)
    np.testing.assert_allclose(r.input, [v for _, v in expected], rtol=1e-14)


def test_the_seeds_update_of_b1():
    """b1 = 1.56, lr 0.5: one step without clipping and with each mode, computed here by hand."""
    g = explode_gradient(4)
    values = [v for _, v in g]
    g_b1 = dict(g)["dC/db1"]
    assert g_b1 == 0.25 * 25**3 * 0.5 == 1953.125
    expected = {
        "none": 1.56 - 0.5 * g_b1,  # -975.0025: the explosion
        "value": 1.56 - 0.5 * 0.5,  # 1.31
        "norm": 1.56 - 0.5 * g_b1 * 0.5 / (norm(values) + 1e-6),
        "global-norm": 1.56 - 0.5 * g_b1 * 0.5 / (norm(values) + 1e-6),
        "adaptive": 1.56 - 0.5 * 0.01 * 1.56,  # the unit's weight is b1 itself: |G| <= 0.01 x 1.56
    }
    steps = {s.mode: s for s in C.clip().update.steps}
    assert steps.keys() == expected.keys()
    for mode, value in expected.items():
        assert steps[mode].new_param == pytest.approx(value, rel=1e-13), mode
    assert steps["none"].new_param == pytest.approx(-975.0025, rel=1e-15)
    assert steps["value"].new_param == pytest.approx(1.31, rel=1e-15)


def test_norm_keeps_the_chains_direction_and_value_turns_it():
    r = C.clip()
    by = {m.mode: m for m in r.results}
    g = [v for _, v in explode_gradient(4)]
    assert by["norm"].cosine == pytest.approx(1.0, abs=1e-14)
    assert by["value"].cosine == pytest.approx(cos(g, [min(max(v, -0.5), 0.5) for v in g]), rel=1e-12)
    assert by["value"].cosine < 0.6
    assert by["norm"].norm_after == pytest.approx(0.5 * norm(g) / (norm(g) + 1e-6), rel=1e-14)
    # per-layer clipping: layer j's pair (dC/dw_j, dC/db_j) on its own
    per_layer = []
    for j in range(4):
        pair = g[2 * j:2 * j + 2]
        per_layer += [v * min(1.0, 0.5 / (norm(pair) + 1e-6)) for v in pair]
    np.testing.assert_allclose(by["global-norm"].per_tensor, per_layer, rtol=1e-14)
    assert by["global-norm"].per_tensor_cosine == pytest.approx(cos(g, per_layer), rel=1e-12)


def test_beyond_float64_the_clipped_vector_is_finite_and_exact():
    """Depth 300: |dC/db1| ~ 1e417. mpmath holds the exact vector; naive float64 gives nan and zeros."""
    depth, t = 300, 0.5
    r = C.clip(depth=depth, threshold=t)
    assert r.rescued
    mpmath.mp.dps = 40
    s = mpmath.mpf(1) / 2
    exact = []
    for j in range(1, depth + 1):
        grad_b = s / 2 * (100 * s / 2) ** (depth - j) * s
        exact += [grad_b * (1 if j == 1 else s), grad_b]
    n = mpmath.sqrt(mpmath.fsum(v * v for v in exact))
    # the input is inf exactly where the exact value is beyond float64 (156 of 600; 2 more fit just below the top)
    beyond = [abs(v) > mpmath.mpf(np.finfo(float).max) for v in exact]
    assert list(np.isinf(r.input)) == beyond
    clipped = [float(v * t / (n + mpmath.mpf("1e-6"))) for v in exact]
    by = {m.mode: m for m in r.results}
    for mode in ("norm", "global-norm"):
        m = by[mode]
        assert np.all(np.isfinite(m.clipped))
        np.testing.assert_allclose(m.clipped, clipped, rtol=1e-10, atol=1e-300)
        assert m.log10_norm_before == pytest.approx(float(mpmath.log10(n)), rel=1e-13)
        assert m.norm_after == pytest.approx(t, rel=1e-10)
        # naive float64: inf / inf = nan where the input overflowed, finite / inf = 0 elsewhere
        assert list(np.isnan(m.naive)) == beyond and (m.naive == 0).sum() == len(beyond) - sum(beyond)
    assert list(by["value"].clipped[:4]) == [0.5] * 4
    assert by["adaptive"].clipped[0] == pytest.approx(0.01 * 100, rel=1e-10)  # |dC/dw1| -> lam |w1|
    assert np.all(np.isfinite(by["adaptive"].clipped))


@settings(max_examples=60, deadline=None)
@given(gs=st.lists(st.lists(st.floats(-1e3, 1e3).filter(lambda v: v == 0 or abs(v) > 1e-6), min_size=2,
                            max_size=2), min_size=1, max_size=4), t=thresholds,
       mode=st.sampled_from(C.MODES + ("per-tensor",)))
def test_log_space_clipping_agrees_with_float64_where_both_work(gs, t, mode):
    blocks = [np.array(g)[None] for g in gs] + [np.array(gs)[:, :, None]]  # alone, and stacked with rows = units
    weights = [np.full(b.shape, 3.0) for b in blocks]
    floats = C.clip_blocks(mode, blocks, t, C.NORM_EPS, 0.05, weights)
    logs = C.log_clip(mode, [C.LogArray.of(b) for b in blocks], t, C.NORM_EPS, 0.05, weights)
    for f, x in zip(floats, logs):
        np.testing.assert_allclose(x.value(), f, rtol=1e-12, atol=1e-300)


# ---------------------------------------------------------------- non-finite input, as PyTorch
def test_non_finite_input_follows_pytorch_and_says_so():
    r = C.clip(grads=["1,inf"])
    by = {m.mode: m for m in r.results}
    assert list(by["value"].clipped) == [0.5, 0.5]
    assert by["norm"].clipped[0] == 0 and math.isnan(by["norm"].clipped[1])
    assert "inf" in r.nonfinite_note and "error-if-nonfinite" in r.nonfinite_note
    r = C.clip(grads=["nan,1"], mode="norm")
    assert np.all(np.isnan(r.results[0].clipped))
    with pytest.raises(GradsimError) as e:
        C.clip(grads=["1,inf"], error_if_nonfinite=True)
    assert e.value.option == "--grad"


# ---------------------------------------------------------------- PyTorch parity
@pytest.mark.parametrize("seed", range(5))
def test_value_and_norm_match_pytorch(seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 20, size=3)
    gs = [rng.normal(0, 10.0 ** rng.uniform(-3, 3), size=n) for n in sizes]
    t = float(10.0 ** rng.uniform(-2, 2))

    def with_grads(arrays):
        params = [torch.zeros(len(a), dtype=torch.float64, requires_grad=True) for a in arrays]
        for p, a in zip(params, arrays):
            p.grad = torch.tensor(a, dtype=torch.float64)
        return params

    for g in gs:
        (p,) = with_grads([g])
        torch.nn.utils.clip_grad_value_([p], t)
        np.testing.assert_array_equal(C.clip_by_value(g, t), p.grad.numpy())
        (p,) = with_grads([g])
        torch.nn.utils.clip_grad_norm_([p], t)
        np.testing.assert_allclose(C.clip_by_norm(g, t), p.grad.numpy(), rtol=1e-13)
    params = with_grads(gs)
    torch.nn.utils.clip_grad_norm_(params, t)  # over several parameters: the global norm
    for ours, p in zip(C.clip_by_global_norm(gs, t), params):
        np.testing.assert_allclose(ours, p.grad.numpy(), rtol=1e-13)


@pytest.mark.parametrize("g", [[1.0, math.inf], [1.0, math.nan], [-math.inf, 2.0]])
def test_non_finite_input_matches_pytorch(g):
    torch = pytest.importorskip("torch")
    for clip_ours, clip_torch in ((C.clip_by_value, torch.nn.utils.clip_grad_value_),
                                  (C.clip_by_norm, torch.nn.utils.clip_grad_norm_)):
        p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        p.grad = torch.tensor(g, dtype=torch.float64)
        clip_torch([p], 0.5)
        np.testing.assert_array_equal(clip_ours(np.array(g), 0.5), p.grad.numpy())


# ---------------------------------------------------------------- training
def sigmoid_chain_cost(w, b, x, target) -> float:
    a = x
    for wj, bj in zip(w, b):
        a = 1 / (1 + math.exp(-(wj * a + bj)))
    return 0.5 * (a - target) ** 2


def test_one_training_step_is_gradient_descent_on_the_clipped_gradient():
    """After one step, the cost equals the hand-made forward pass at w - lr clip(g), b - lr clip(g)."""
    target, lr = 0.4, 1e-5
    r = C.clip(steps=1, mode="value", train_target=target, train_lr=lr)
    w, b, x = r.chain.w, r.chain.b, 1.0
    s = 0.5  # every z_j = 0 at the start
    ds = s * (1 - s)
    g_b = [ds * (100 * ds) ** (4 - j) * (s - target) for j in range(1, 5)]
    g_w = [gb * (1.0 if j == 0 else s) for j, gb in enumerate(g_b)]
    clamp = lambda v: min(max(v, -0.5), 0.5)  # noqa: E731
    new_w = [wj - lr * clamp(gw) for wj, gw in zip(w, g_w)]
    new_b = [bj - lr * clamp(gb) for bj, gb in zip(b, g_b)]
    runs = {run.mode: run for run in r.training.runs}
    assert runs["value"].costs[0] == pytest.approx(sigmoid_chain_cost(w, b, x, target), rel=1e-12)
    assert runs["value"].costs[1] == pytest.approx(sigmoid_chain_cost(new_w, new_b, x, target), rel=1e-9)
    unclipped_w = [wj - lr * gw for wj, gw in zip(w, g_w)]
    unclipped_b = [bj - lr * gb for bj, gb in zip(b, g_b)]
    assert runs["none"].costs[1] == pytest.approx(sigmoid_chain_cost(unclipped_w, unclipped_b, x, target), rel=1e-9)


def test_training_unclipped_gets_worse_where_clipped_settles_lower():
    r = C.clip(steps=40)
    runs = {run.mode: run for run in r.training.runs}
    start = r.training.start_cost
    assert runs["none"].final > 10 * start  # thrown into saturation, and stuck there
    for mode in C.MODES:
        assert runs[mode].tail[1] < start / 2, mode


def test_training_a_chain_beyond_float64_blows_up_without_clipping():
    r = C.clip(steps=2, depth=300, mode="norm")
    none, norm_run = r.training.runs
    assert none.diverged_at == 1 and math.isnan(none.final)
    assert norm_run.diverged_at is None and np.all(np.isfinite(norm_run.costs))


# ---------------------------------------------------------------- eps = 0 under the threshold (subnormals)
tiny = st.floats(-1e-300, 1e-300, allow_nan=False, allow_subnormal=True)


@settings(max_examples=200, deadline=None)
@given(g=st.lists(tiny, min_size=1, max_size=6), t=thresholds)
def test_eps_zero_returns_a_vector_within_the_threshold_as_it_is(g, t):
    """||g|| <= t needs no clipping: the same vector back, bit for bit (TensorFlow's (g t)/t would round 5e-324)."""
    assert norm(g) <= t  # the oracle: every such vector is within any threshold >= 1e-3
    assert C.clip_by_norm(np.array(g), t, eps=0.0).tolist() == g
    assert np.concatenate(C.clip_by_global_norm([np.array(g)], t, 0.0)).tolist() == g
    assert np.concatenate(C.clip_blocks("norm", [np.array([g])], t, 0.0)).ravel().tolist() == g


@pytest.mark.parametrize("gs", [[[2.2250738585e-313], [2.225073858507e-311], [5e-324]], [[5e-324]]])
def test_the_flaky_example_global_norm_equals_norm_with_eps_zero(gs):
    """The inputs that made the property test fail 1 run in 10: both now return the gradient unchanged."""
    tensors = [np.array(g) for g in gs]
    flat = [v for g in gs for v in g]
    assert np.concatenate(C.clip_by_global_norm(tensors, 0.5, 0.0)).tolist() == flat
    assert C.clip_by_norm(np.concatenate(tensors), 0.5, 0.0).tolist() == flat


def test_cli_eps_zero_leaves_a_subnormal_gradient_alone(run):
    d = run.json("clip", "--grad", "5e-324", "--eps", "0", "-t", "0.5", "--mode", "norm")
    (r,) = d["results"]
    assert r["clipped"] == [5e-324] and r["norm_after"] == 5e-324 and r["cosine"] == 1.0
