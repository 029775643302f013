"""The correlation map (gradsim.correlation) against mpmath quadrature, seeded Monte Carlo and closed forms."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from gradsim import activations, meanfield
from gradsim.correlation import bivariate, c_map, c_stars, chi_c, correlation_point, length_slope, phase_correlation

TANH, DTANH = mp.tanh, (lambda x: 1 / mp.cosh(x) ** 2)


def mp_bivariate(g1, g2, q, c):
    """E[g1(u1) g2(u2)] by nested mpmath Gauss-Legendre quadrature on [-12, 0, 12] (the normal's mass beyond 12 is
    e^-72), u1 = sqrt(q) z1, u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2)."""
    q, c = mp.mpf(q), mp.mpf(c)
    s, t = mp.sqrt(q), mp.sqrt(1 - c * c)

    def inner(z1):
        return mp.quad(lambda z2: g2(s * (c * z1 + t * z2)) * mp.npdf(z2), [-12, 0, 12], method="gauss-legendre")

    return mp.quad(lambda z1: g1(s * z1) * inner(z1) * mp.npdf(z1), [-12, 0, 12], method="gauss-legendre")


def mp_normal(g, q):
    return mp.quad(lambda z: g(mp.sqrt(q) * z) * mp.npdf(z), [-12, 0, 12], method="gauss-legendre")


@pytest.mark.parametrize("q,c", [(2.0, -0.5)])
def test_bivariate_matches_mpmath(q, c):
    tanh = activations.get("tanh")
    with mp.workdps(15):
        ff = float(mp_bivariate(TANH, TANH, q, c))
        dd = float(mp_bivariate(DTANH, DTANH, q, c))
    assert float(bivariate(tanh.f, tanh.f, q, c)) == pytest.approx(ff, rel=1e-10, abs=1e-12)
    assert float(bivariate(tanh.dact, tanh.dact, q, c)) == pytest.approx(dd, rel=1e-10)


def test_bivariate_relu_matches_the_arc_cosine_kernel():
    """Cho & Saul: E[relu(u1) relu(u2)] = q (sqrt(1 - c^2) + (pi - acos c) c) / (2 pi); E[1(u1>0) 1(u2>0)] =
    (pi - acos c) / (2 pi): the kink where u2 = 0 is a panel edge for every z1, so all digits hold."""
    relu = activations.get("relu")
    for q, c in ((1.3, 0.4), (0.5, -0.7)):
        kernel = q * (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c) / (2 * math.pi)
        assert float(bivariate(relu.f, relu.f, q, c)) == pytest.approx(kernel, rel=1e-12)
        assert float(bivariate(relu.dact, relu.dact, q, c)) == pytest.approx((math.pi - math.acos(c)) / (2 * math.pi),
                                                                            rel=1e-12)


@pytest.mark.parametrize("name", ["tanh", "relu", "gelu", "sigmoid"])
def test_bivariate_matches_seeded_monte_carlo(name):
    act = activations.get(name)
    q, c = 1.7, 0.35
    rng = np.random.default_rng(99)
    z1, z2 = rng.standard_normal((2, 1_000_000))
    u1, u2 = math.sqrt(q) * z1, math.sqrt(q) * (c * z1 + math.sqrt(1 - c * c) * z2)
    for g in (act.f, act.dact):
        sample = g(u1) * g(u2)
        assert abs(float(bivariate(g, g, q, c)) - sample.mean()) <= 5 * sample.std() / 1000 + 1e-12


def test_chi_c_at_c_one_is_chi1():
    for name, w2, b2 in (("tanh", 1.5, 0.1), ("elu", 1.2, 0.0), ("sigmoid", 4.0, 0.5)):
        act = activations.get(name)
        chi, q = (float(v) for v in meanfield.chi1s(act, w2, b2))
        assert float(chi_c(act, 1.0, q, w2)) == pytest.approx(chi, rel=1e-13)
        point = correlation_point(act, w2, b2)
        if chi <= 1:
            assert point.c_star == 1.0 and point.chi_c == pytest.approx(chi, rel=1e-13)


@pytest.mark.parametrize("w2,b2", [(2.5, 0.1)])
def test_chaotic_fixed_point_satisfies_the_mpmath_c_map(w2, b2):
    """tanh past the critical line: the c* found is a fixed point of the c-map evaluated by mpmath, below 1, and
    chi_c < 1 there (stable) while chi1 > 1."""
    tanh = activations.get("tanh")
    p = correlation_point(tanh, w2, b2)
    assert p.chi1 > 1 and 0 < p.c_star < 1 and p.chi_c < 1
    with mp.workdps(15):
        q = w2 * mp_normal(lambda x: TANH(x) ** 2, p.q_star) + b2  # q* is the length map's fixed point
        cross = w2 * mp_bivariate(TANH, TANH, p.q_star, p.c_star) + b2
        chi = w2 * mp_bivariate(DTANH, DTANH, p.q_star, p.c_star)
    assert float(q) == pytest.approx(p.q_star, rel=1e-10)
    assert float(cross / q) == pytest.approx(p.c_star, rel=1e-10)
    assert float(chi) == pytest.approx(p.chi_c, rel=1e-10)
    assert p.xi_c == pytest.approx(-1 / math.log(p.chi_c), rel=1e-12)


def test_odd_activation_without_bias_has_c_star_zero_when_chaotic():
    p = correlation_point(activations.get("tanh"), 2.0, 0.0)
    assert p.c_star == 0.0 and p.chi_c == pytest.approx(2.0 * float(meanfield.expect(activations.get("tanh").dact,
                                                                                      p.q_star)) ** 2, rel=1e-12)


def test_length_slope_is_the_derivative_of_the_length_map():
    tanh = activations.get("tanh")
    q, h = 0.8, 1e-5
    numeric = (meanfield.length_map(tanh, q + h, 1.7, 0) - meanfield.length_map(tanh, q - h, 1.7, 0)) / (2 * h)
    assert length_slope(tanh, q, 1.7) == pytest.approx(numeric, rel=1e-8)


def test_c_map_fixes_one_at_q_star():
    act = activations.get("tanh")
    q = meanfield.fixed_point_q(act, 1.5, 0.2)
    assert float(c_map(act, 1.0, q, 1.5, 0.2)) == pytest.approx(1.0, abs=1e-14)
    assert float(c_stars(act, 1.5, 0.2, q, 0.9)) == 1.0


def test_phase_json_gains_correlation_keys(run):
    d = run.json("phase", "--act", "tanh", "--grid", "6")
    for row in d["inits"]:
        for key in ("c_star", "chi_c", "xi_c"):
            assert key in row
    he = next(row for row in d["inits"] if row["init"] == "he")
    assert he["c_star"] == 0.0 and he["chi_c"] < 1 < he["chi1"]
    grid = d["grid"]
    assert np.array(grid["c_star"], dtype=float).shape == (6, 6) and "chi_c" in grid
    ordered = np.array(grid["chi1"]) < 1
    assert np.all(np.array(grid["c_star"], dtype=float)[ordered] == 1.0)


def test_phase_grid_c_star_agrees_with_the_fine_rule():
    act = activations.get("tanh")
    result = meanfield.phase("tanh", grid=5)
    grid = phase_correlation(act, result)
    for i in range(5):
        for j in range(5):
            if np.isfinite(grid.c_star[i, j]) and grid.c_star[i, j] < 1:
                fine = correlation_point(act, result.sigma_w2[j], result.sigma_b2[i])
                assert grid.c_star[i, j] == pytest.approx(fine.c_star, abs=3e-3)  # the coarse rule


def test_relu_at_a_vanishing_length_still_has_its_scale_free_c_map():
    """relu at sigma_w^2 = 1, sigma_b^2 = 0: q* = 0, but relu's c-map is the same at every q: c* = 1, chi_c = chi1 =
    1/2 and L'(q) = 1/2 (closed forms), not nan; tanh there has no defined c* (its map depends on q)."""
    from gradsim.correlation import correlation_point

    p = correlation_point(activations.get("relu"), 1.0, 0.0)
    assert p.q_star == 0 and p.c_star == 1.0
    assert p.chi_c == pytest.approx(0.5, rel=1e-12) and p.xi_q == pytest.approx(-1 / math.log(0.5), rel=1e-12)
    assert math.isnan(correlation_point(activations.get("tanh"), 1.0, 0.0).c_star)
