"""Nielsen's chain against independent oracles: central finite differences, closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradsim import activations as A
from gradsim import chain
from gradsim.errors import GradsimError


def cost(act, w, b, x, target):
    """C = (a_L - target)^2 / 2 by a plain loop: the oracle's own forward pass."""
    a = x
    for wj, bj in zip(w, b):
        a = float(act.f(wj * a + bj))
    return 0.5 * (a - target) ** 2


def central_difference(fn, v, j, h):
    up, down = v.copy(), v.copy()
    up[j] += h
    down[j] -= h
    return (fn(up) - fn(down)) / (2 * h)


@pytest.mark.parametrize("name", A.NAMES)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_gradients_match_central_differences(name, data):
    depth = data.draw(st.integers(1, 6))
    floats = st.floats(-1.5, 1.5)
    w = np.array(data.draw(st.lists(floats, min_size=depth, max_size=depth)))
    b = np.array(data.draw(st.lists(floats, min_size=depth, max_size=depth)))
    x = data.draw(floats)
    act = A.get(name)
    target = 0.5 * (max(act.lo, -1.0) + min(act.hi, 1.0))
    r = chain.run_chain(act, w, b, x, target)
    z_kink = np.abs(r.z)
    if name in ("relu", "leaky-relu", "prelu", "elu", "selu", "softsign") and np.any(z_kink < 1e-3):
        return  # a kink within the difference step: f' is one-sided there
    h = 1e-6
    for j in range(depth):
        fd_b = central_difference(lambda v: cost(act, w, v, x, target), b, j, h)
        fd_w = central_difference(lambda v: cost(act, v, b, x, target), w, j, h)
        assert r.grad_b[j] == pytest.approx(fd_b, rel=1e-5, abs=1e-8)
        assert r.grad_w[j] == pytest.approx(fd_w, rel=1e-5, abs=1e-8)


@settings(max_examples=50, deadline=None)
@given(depth=st.integers(1, 30), seed=st.integers(0, 2**32 - 1), name=st.sampled_from(A.NAMES))
def test_log_magnitudes_agree_with_the_raw_product_where_it_is_representable(depth, seed, name):
    r = chain.vanish(depth=depth, act=name, seed=seed, target=max(A.get(name).lo, 0.0) if name != "linear" else 0.0)
    ok = (r.grad_b != 0) & np.isfinite(r.grad_b)
    np.testing.assert_allclose(r.log10_grad_b[ok], np.log10(np.abs(r.grad_b[ok])), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(r.sign_grad_b[ok], np.sign(r.grad_b[ok]))


def test_nielsen_explode_every_gain_is_25_exactly():
    r = chain.vanish(preset="nielsen-explode")
    assert np.all(r.z == 0) and np.all(r.dact == 0.25)
    assert np.all(r.gain == 25.0)
    assert r.grad_b[0] == 0.25 * 25**3 * (r.a[-1] - 0.0)
    assert r.regime == "exploding"


def test_nielsen_explode_depth_400_is_finite_in_log_space():
    r = chain.vanish(preset="nielsen-explode", depth=400)
    want = math.log10(0.25) + 399 * math.log10(25) + math.log10(0.5)
    assert r.log10_grad_b[0] == pytest.approx(want, rel=1e-13)
    assert round(want, 2) == 556.87
    assert np.isinf(r.grad_b[0])  # float64 overflows; the log does not


def test_depth_ten_thousand_gives_finite_logs():
    r = chain.vanish(depth=10_000)
    assert np.all(np.isfinite(r.log10_grad_b))
    assert r.log10_grad_b[0] < -1000 and r.regime == "vanishing"


def test_default_chain_vanishes_layer_by_layer():
    r = chain.vanish()
    assert r.depth == 4 and r.activation == "sigmoid"
    assert np.all(np.diff(r.log10_grad_b) > 0)
    assert r.regime == "vanishing" and r.factor_per_layer < 1
    assert np.all(np.abs(r.gain) < 1) and "0.25" in r.why


def test_dc_dw_is_dc_db_times_the_input_to_the_layer():
    r = chain.vanish(depth=6, seed=3)
    np.testing.assert_allclose(r.grad_w, r.grad_b * r.a[:-1], rtol=1e-15)


def test_nielsen_product_formula_for_depth_four():
    """dC/db1 = s'(z1) w2 s'(z2) w3 s'(z3) w4 s'(z4) dC/da4 (Nielsen ch. 5, quoted by C. Hansen, "Activation Functions Explained")."""
    r = chain.vanish(seed=11)
    s = A.get("sigmoid").dact
    z, w = r.z, r.w
    want = s(z[0]) * w[1] * s(z[1]) * w[2] * s(z[2]) * w[3] * s(z[3]) * (r.a[4] - r.target)
    assert r.grad_b[0] == pytest.approx(float(want), rel=1e-14)


def test_regime_rule():
    assert chain.regime(np.array([-3.0, -1.0]))[0] == "vanishing"
    assert chain.regime(np.array([3.0, 1.0]))[0] == "exploding"
    assert chain.regime(np.array([0.5, 0.0]))[0] == "stable"
    assert chain.regime(np.array([0.5]))[0] == "stable"


def test_output_at_target_is_stable_with_zero_gradients():
    r = chain.run_chain(A.get("linear"), np.array([1.0, 1.0]), np.zeros(2), 0.3, 0.3)
    assert np.all(r.grad_b == 0) and "already equals the target" in r.why


@pytest.mark.parametrize("spec,allowed", [("normal:0,-1", "STD >= 0"), ("1,2", "exactly one number per layer"),
                                          ("uniform:2,1", "LO <= HI"), ("abc", "not a SPEC"), ("", "empty"),
                                          ("1,nan,2,3", "not a SPEC"), ("zero-z", "--biases only")])
def test_bad_weight_specs_name_the_option(spec, allowed):
    with pytest.raises(GradsimError, match=allowed) as info:
        chain.vanish(weights=spec)
    assert info.value.option == "--weights"


def test_specs():
    rng = np.random.default_rng(0)
    assert list(chain.layer_values("2.5", 3, rng)) == [2.5, 2.5, 2.5]
    assert list(chain.layer_values("1,2,3", 3, rng)) == [1, 2, 3]
    u = chain.layer_values("uniform:-1,1", 1000, rng)
    assert u.min() >= -1 and u.max() < 1
    n = chain.layer_values("normal:5,0.1", 1000, rng)
    assert abs(n.mean() - 5) < 0.05
    assert chain.layer_values("zero-z", 3, rng, allow_zero_z=True) is None


def test_target_outside_range_is_refused():
    with pytest.raises(GradsimError, match="outside the range") as info:
        chain.vanish(act="relu", target=-0.1)
    assert info.value.option == "--target"


def test_same_seed_same_chain():
    a, b = chain.vanish(seed=42, depth=9), chain.vanish(seed=42, depth=9)
    np.testing.assert_array_equal(a.w, b.w)
    np.testing.assert_array_equal(a.grad_b, b.grad_b)


def test_options_override_a_preset():
    r = chain.vanish(preset="nielsen-explode", depth=7, weights="50")
    assert r.depth == 7 and np.all(r.gain == 12.5)


@pytest.mark.parametrize("name,sign", [("relu", 1.0), ("linear", 1.0), ("leaky-relu", -1.0), ("gelu", 1.0)])
def test_values_beyond_float64_keep_their_size(name, sign):
    """w = +-1e300 with zero biases: |a_j| = c^k 10^(300 j) exactly, so every log10 is known in closed form."""
    act = A.get(name)
    depth = 4
    r = chain.run_chain(act, np.full(depth, sign * 1e300), np.zeros(depth), 1.0, 0.0)
    slopes = []  # |f(z) / z| on the side z is on: 1, or alpha on the negative side
    z_sign = 1.0
    for _ in range(depth):
        z_sign *= sign
        slopes.append(1.0 if z_sign > 0 else 0.01)
        z_sign = z_sign if z_sign > 0 or name != "relu" else 0.0
    log_a = np.cumsum([300.0 + math.log10(c) for c in slopes])
    np.testing.assert_allclose(r.log10_abs_a[1:], log_a, rtol=1e-12)
    # dC/db_1 = f'(z_1) prod_{k>1} w_k f'(z_k) (a_L - 0): log10 = sum of the logs
    want = math.log10(slopes[0]) + sum(300 + math.log10(c) for c in slopes[1:]) + log_a[-1]
    assert r.log10_grad_b[0] == pytest.approx(want, rel=1e-12)
    assert r.regime == "exploding" and np.all(np.isfinite(r.log10_grad_b))


def test_saturated_sigmoid_with_huge_weights_vanishes_with_finite_logs():
    r = chain.vanish(weights="1e300")
    assert r.regime == "vanishing" and np.all(np.isfinite(r.log10_grad_b))
    assert r.log10_grad_b[0] < -1e299 and "saturated" in r.why


def test_a_zero_gradient_everywhere_from_a_dead_last_unit_is_vanishing():
    r = chain.run_chain(A.get("relu"), np.array([1.0, 1.0]), np.array([0.0, -5.0]), 1.0, 0.5)
    assert np.all(r.grad_b == 0) and r.regime == "vanishing" and "dead" in r.why


def test_uniform_wider_than_float64_is_drawn_not_refused():
    """uniform:-1e308,1e308 has HI - LO = inf; the draws are (1 - u) LO + u HI with numpy's own u."""
    w = chain.layer_values("uniform:-1e308,1e308", 1000, np.random.default_rng(7))
    u = np.random.default_rng(7).random(1000)
    assert np.all(np.isfinite(w)) and np.all(np.abs(w) <= 1e308)
    np.testing.assert_allclose(w / 1e308, 2 * u - 1, atol=1e-15)
    # inside float64 the draws are numpy's uniform itself
    np.testing.assert_array_equal(chain.layer_values("uniform:-1,3", 5, np.random.default_rng(7)),
                                  np.random.default_rng(7).uniform(-1, 3, 5))


def test_a_learning_step_beyond_float64_is_null_with_its_log10():
    r = chain.vanish(preset="nielsen-explode", depth=221, lr=100.0)
    assert math.isinf(r.delta_b[0]) and r.log10_delta_b[0] == pytest.approx(r.log10_grad_b[0] + 2, abs=1e-12)
    # log10 |dC/db_1| = log10(0.25 * 25^220 * 0.5) by the closed form of the exploding preset
    assert r.log10_grad_b[0] == pytest.approx(math.log10(0.125) + 220 * math.log10(25), abs=1e-9)
