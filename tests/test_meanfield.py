"""gradsim.theory against independent oracles: closed forms, Monte Carlo, mpmath, plain-math loops."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from gradsim import activations, theory
from gradsim.errors import GradsimError

SMOOTH = {  # mpmath versions of f and f', written here from the formulas
    "tanh": (mp.tanh, lambda x: 1 / mp.cosh(x) ** 2),
    "sigmoid": (lambda x: 1 / (1 + mp.exp(-x)), lambda x: mp.exp(-x) / (1 + mp.exp(-x)) ** 2),
    "elu": (lambda x: x if x > 0 else mp.expm1(x), lambda x: 1 if x > 0 else mp.exp(x)),
    "gelu": (lambda x: x * mp.ncdf(x), lambda x: mp.ncdf(x) + x * mp.npdf(x)),
    "softsign": (lambda x: x / (1 + abs(x)), lambda x: 1 / (1 + abs(x)) ** 2),
}


def mp_expect(g, q):
    """E_z[g(sqrt(q) z)^2] by mpmath, with the kink at 0 and the scale 1/sqrt(q) as break points."""
    s = mp.sqrt(q)
    points = [-mp.inf, -10, -1, -1 / s, 0, 1 / s, 1, 10, mp.inf]
    return float(mp.quad(lambda z: g(s * z) ** 2 * mp.npdf(z), sorted(set(points))))


def mp_fixed_point(f, w2, b2, q=1.0):
    """q = w2 E[f(sqrt(q) z)^2] + b2 solved by mpmath's secant method from q (after a few plain iterations)."""
    for _ in range(5):
        q = w2 * mp_expect(f, q) + b2
    return float(mp.findroot(lambda x: w2 * mp_expect(f, x) + b2 - x, q))


# ---------------------------------------------------------------- the quadrature
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "relu", "elu", "gelu", "swish", "softsign"])
@pytest.mark.parametrize("q", [0.3, 2.0])
def test_quadrature_matches_seeded_monte_carlo(name, q):
    act = activations.get(name)
    z = np.random.default_rng(12345).standard_normal(400_000)
    for g in (lambda x: act.f(x) ** 2, lambda x: act.dact(x) ** 2):
        sample = g(math.sqrt(q) * z)
        mc, se = sample.mean(), sample.std() / math.sqrt(z.size)
        assert abs(float(theory.expect(g, q)) - mc) <= 5 * se + 1e-12


@pytest.mark.parametrize("name", sorted(SMOOTH))
@pytest.mark.parametrize("q", [1e-3, 1.0, 20.0, 1e4])
def test_quadrature_matches_mpmath(name, q):
    act = activations.get(name)
    f, df = SMOOTH[name]
    assert theory.length_map(act, q, 1.0, 0.0) == pytest.approx(mp_expect(f, q), rel=1e-13)
    assert float(theory.expect(lambda x: act.dact(x) ** 2, q)) == pytest.approx(mp_expect(df, q), rel=1e-13)


# ---------------------------------------------------------------- length map, fixed point, chi1
@pytest.mark.parametrize("w2,b2", [(0.5, 0.0), (1.5, 0.3), (2.0, 1.0), (3.0, 0.0)])
def test_relu_length_map_is_half_q(w2, b2):
    for q in (0.0, 0.7, 5.0):
        assert theory.length_map("relu", q, w2, b2) == pytest.approx(w2 * q / 2 + b2, rel=1e-14, abs=1e-15)


def test_fixed_points_in_closed_form():
    # relu: q* = b2 / (1 - w2/2); linear: q* = b2 / (1 - w2)
    assert theory.fixed_point_q("relu", 1.5, 0.1) == pytest.approx(0.1 / (1 - 0.75), rel=1e-12)
    assert theory.fixed_point_q("linear", 0.5, 1.0) == pytest.approx(2.0, rel=1e-12)
    # diverging length maps: q* = inf
    assert theory.fixed_point_q("relu", 2.5, 0.1) == math.inf
    assert theory.fixed_point_q("relu", 2.0, 0.1) == math.inf
    assert theory.fixed_point_q("linear", 1.0, 0.5) == math.inf
    # shrinking to the fixed point 0
    assert theory.fixed_point_q("tanh", 0.8, 0.0) == 0.0
    assert theory.fixed_point_q("relu", 1.0, 0.0) == 0.0


@pytest.mark.parametrize("name,w2,b2", [("tanh", 1.5, 0.05), ("tanh", 1.5, 0.0), ("sigmoid", 1.0, 1.0),
                                        ("elu", 1.2, 0.1)])
def test_fixed_point_and_chi1_match_mpmath_iteration(name, w2, b2):
    f, df = SMOOTH[name]
    q = mp_fixed_point(f, w2, b2)
    assert theory.fixed_point_q(name, w2, b2) == pytest.approx(q, rel=1e-9)
    assert theory.chi1(name, w2, b2) == pytest.approx(w2 * mp_expect(df, q), rel=1e-9)


def test_marginal_fixed_point_is_found_without_crawling():
    # tanh at w2 = 1 + eps, b2 = 0: L(q) = q - 2q^2 + ... so q* ~ eps / 2, reached by iteration only after ~1/eps steps
    q = theory.fixed_point_q("tanh", 1 + 1e-6, 0.0)
    assert q == pytest.approx(5e-7, rel=1e-5)
    assert theory.length_map("tanh", q, 1 + 1e-6, 0.0) == pytest.approx(q, rel=1e-13)


@pytest.mark.parametrize("w2", [0.3, 1.0, 1.9, 2.0, 2.1, 4.0])
@pytest.mark.parametrize("b2", [0.0, 0.05, 1.0])
def test_relu_chi1_is_half_sigma_w2(w2, b2):
    """relu: f'^2 = 1 on half the line at every q, so chi1 = sigma_w2 / 2 (q* finite, 0 or inf alike)."""
    assert theory.chi1("relu", w2, b2) == pytest.approx(w2 / 2, rel=1e-14)


@pytest.mark.parametrize("alpha", [0.01, 0.25])
def test_leaky_relu_chi1(alpha):
    act = activations.get("leaky-relu", alpha)
    assert theory.chi1(act, 1.7, 0.2) == pytest.approx(1.7 * (1 + alpha**2) / 2, rel=1e-14)


@pytest.mark.parametrize("w2", [0.2, 0.5, 0.9, 1.0])
def test_tanh_chi1_at_zero_bias_is_sigma_w2(w2):
    """tanh, sigma_b2 = 0, sigma_w2 <= 1: q* = 0 and chi1 = sigma_w2 tanh'(0)^2 = sigma_w2."""
    assert theory.fixed_point_q("tanh", w2, 0.0) == 0.0
    assert theory.chi1("tanh", w2, 0.0) == w2


def test_chi1_in_the_limit_of_a_diverging_length_map():
    # elu past sigma_w2 = 2: q* = inf and chi1 -> sigma_w2 (1 + 0) / 2
    assert theory.fixed_point_q("elu", 3.0, 0.1) == math.inf
    assert theory.chi1("elu", 3.0, 0.1) == pytest.approx(1.5, rel=1e-14)


def test_depth_scale():
    assert theory.depth_scale(1.0) == math.inf
    assert theory.depth_scale(math.exp(-1 / 7)) == pytest.approx(7.0)
    assert theory.depth_scale(math.exp(0.25)) == pytest.approx(-4.0)
    assert theory.depth_scale(0.0) == 0.0
    # one ulp from 1 (quadrature rounding of He's exact 1) is critical, not -4.5e15 layers
    assert theory.depth_scale(math.nextafter(1.0, 2.0)) == math.inf
    assert theory.depth_scale(math.nextafter(1.0, 0.0)) == math.inf


def test_bad_variances_name_the_option():
    with pytest.raises(GradsimError) as e:
        theory.chi1("tanh", -1.0, 0.0)
    assert e.value.option == "--sigma-w2"
    with pytest.raises(GradsimError) as e:
        theory.fixed_point_q("tanh", 1.0, float("nan"))
    assert e.value.option == "--sigma-b2"


# ---------------------------------------------------------------- initialisations
def test_init_sigma_w2():
    assert theory.INITS == ("xavier", "lecun", "he", "orthogonal", "normal")
    for name in ("sigmoid", "tanh", "relu"):
        assert theory.init_sigma_w2("xavier", name) == theory.init_sigma_w2("lecun", name) == 1.0
        assert theory.init_sigma_w2("normal", name) == 1.0
    assert theory.init_sigma_w2("he", "relu") == 2.0
    assert theory.init_sigma_w2("he", activations.get("prelu", 0.25)) == pytest.approx(2 / 1.0625)
    assert theory.init_sigma_w2("he", activations.get("leaky-relu", 0.01)) == pytest.approx(2 / 1.0001)
    assert theory.init_sigma_w2("orthogonal", "tanh") == pytest.approx((5 / 3) ** 2)
    assert theory.init_sigma_w2("orthogonal", "relu") == 2.0
    assert theory.init_sigma_w2("orthogonal", "sigmoid") == 1.0
    assert theory.init_sigma_w2(" He ", "relu") == 2.0


def test_unknown_init_names_the_option():
    with pytest.raises(GradsimError) as e:
        theory.init_sigma_w2("kaiming-uniform", "relu")
    assert e.value.option == "--init"


# ---------------------------------------------------------------- the critical line
def test_relu_is_critical_at_two_for_every_bias():
    b2 = [0.0, 0.01, 0.3, 1.0, 5.0]
    assert np.allclose(theory.critical_sigma_w2("relu", b2), 2.0, rtol=1e-12)


def test_tanh_is_critical_at_one_without_bias():
    assert theory.critical_sigma_w2("tanh", 0.0)[0] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("b2", [0.05, 0.5])
def test_tanh_critical_point_has_chi1_one_by_mpmath(b2):
    w2 = float(theory.critical_sigma_w2("tanh", b2)[0])
    f, df = SMOOTH["tanh"]
    q = mp_fixed_point(f, w2, b2)
    assert w2 * mp_expect(df, q) == pytest.approx(1.0, abs=1e-9)
    # and it is a crossing: vanishing just left of it, exploding just right
    assert theory.chi1("tanh", w2 * 0.99, b2) < 1 < theory.chi1("tanh", w2 * 1.01, b2)


def test_critical_line_is_the_first_crossing_when_chi1_is_not_monotone():
    """elu at sigma_b2 = 0: chi1 = sigma_w2 below 1 (q* = 0), above 1 on (1, 2), and 1 again at 2 (q* = inf)."""
    assert theory.chi1("elu", 1.5, 0.0) > 1
    assert theory.critical_sigma_w2("elu", 0.0)[0] == pytest.approx(1.0, abs=1e-6)


def test_phase_grid_and_table():
    r = theory.phase("relu", sigma_b2=[0.0, 0.4], grid=5)
    assert r.chi1.shape == (5, 5) and r.sigma_w2[-1] == 4.0
    assert np.allclose(r.chi1, r.sigma_w2[None, :] / 2, rtol=1e-14)
    assert np.allclose(r.critical_w2, 2.0) and np.allclose(r.line_w2, 2.0)
    he = next(p for p in r.inits if p.init == "he")
    assert he.chi1 == pytest.approx(1.0) and he.regime == "critical"


@pytest.mark.parametrize("kwargs,option", [(dict(grid=1), "--grid"), (dict(sigma_b2="0,-1"), "--sigma-b2"),
                                           (dict(sigma_b2="a"), "--sigma-b2"), (dict(sigma_w2_max=0.0), "--sigma-w2-max"),
                                           (dict(act="nope"), "--act"), (dict(alpha=0.1), "--alpha")])
def test_phase_bad_input(kwargs, option):
    with pytest.raises(GradsimError) as e:
        theory.phase(**kwargs)
    assert e.value.option == option


# ---------------------------------------------------------------- Nielsen's window
def brute_force_width(abs_w: float, step: float = 2e-6) -> float:
    """Count a on a fine grid with |w sigma'(|w| a)| >= 1 (b = 0; sigma' even, so the sign of w does not matter)."""
    a = np.arange(-2.0, 2.0, step)
    e = np.exp(-np.abs(abs_w * a))
    return float(np.count_nonzero(abs_w * e / (1 + e) ** 2 >= 1.0) * step)


@pytest.mark.parametrize("abs_w", [4.2, 5.0, 6.89, 10.0, 50.0])
def test_sigmoid_closed_form_matches_brute_force(abs_w):
    closed = float(theory.sigmoid_window_width(abs_w))
    assert abs(closed - brute_force_width(abs_w)) <= 4e-6
    assert theory.window_width("sigmoid", abs_w) == pytest.approx(closed, rel=1e-12)


def test_sigmoid_window_edges_solve_the_equation():
    """At the edges x = +-x_+, w sigma'(x) = 1 exactly (independent check with math)."""
    for w in (4.5, 7.0, 30.0):
        x = float(theory.sigmoid_window_edge(w))
        s = 1 / (1 + math.exp(-x))
        assert w * s * (1 - s) == pytest.approx(1.0, rel=1e-12)
        assert float(theory.sigmoid_window_width(w)) == pytest.approx(2 * x / w, rel=1e-12)


def test_no_window_below_four():
    assert float(theory.sigmoid_window_width(3.9)) == 0.0
    assert theory.window_width("sigmoid", 3.9) == 0.0


def test_widest_sigmoid_window_is_0_4477_at_6_89():
    r = theory.window("sigmoid")
    # a fine numerical optimisation written here: the width as 4 artanh(sqrt(1 - 4/w)) / w on a dense grid
    w = np.arange(4.0, 20.0, 1e-5)
    width = 4 * np.arctanh(np.sqrt(1 - 4 / w)) / w
    best = int(np.argmax(width))
    assert r.max_width == pytest.approx(width[best], abs=1e-12)
    assert r.at_abs_w == pytest.approx(w[best], abs=2e-5)
    assert f"{r.max_width:.4f}" == "0.4477" and f"{r.at_abs_w:.2f}" == "6.89"
    assert r.max_width_numerical == pytest.approx(r.max_width, rel=1e-12)
    assert r.at_abs_w_numerical == pytest.approx(r.at_abs_w, abs=1e-4)
    assert all(row.pieces == 1 for row in r.rows if row.width > 0)  # an interval


@pytest.mark.parametrize("abs_w", [1.5, 3.0, 40.0])
def test_numerical_window_for_other_activations(abs_w):
    # tanh: sech^2 x >= 1/|w|  <=>  cosh x <= sqrt|w|;  softsign: 1/(1+|x|)^2 >= 1/|w|  <=>  |x| <= sqrt|w| - 1
    assert theory.window_width("tanh", abs_w) == pytest.approx(2 * math.acosh(math.sqrt(abs_w)) / abs_w, rel=1e-12)
    assert theory.window_width("softsign", abs_w) == pytest.approx(2 * (math.sqrt(abs_w) - 1) / abs_w, rel=1e-12)


def test_window_is_unbounded_when_f_prime_does_not_decay():
    assert theory.window_width("relu", 2.0) == math.inf
    assert theory.window_width("relu", 0.5) == 0.0
    r = theory.window("relu", abs_w=[0.5, 2.0])
    assert r.max_width == math.inf and r.at_abs_w is None and r.unbounded_from == 1.0


def test_selu_critical_point_below_its_q_zero_threshold():
    """selu, sigma_b2 = 0: near q = 0, f(x)^2 averages to lambda^2 (1 + alpha^2) q / 2, so q* = 0 and
    chi1 = sigma_w2 lambda^2 (1 + alpha^2) / 2 until that reaches 1."""
    lam, alpha = activations.SELU_LAMBDA, activations.SELU_ALPHA
    slope = lam**2 * (1 + alpha**2) / 2
    assert theory.chi1("selu", 0.4, 0.0) == pytest.approx(0.4 * slope, rel=1e-12)
    assert theory.critical_sigma_w2("selu", 0.0)[0] == pytest.approx(1 / slope, rel=1e-6)
