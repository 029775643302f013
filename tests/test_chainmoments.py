"""Exact width-1 mean squares E[delta_l^2] (gradsim.chainmoments) against mpmath quadrature, a nested
Gauss-Hermite sum over the weights and biases themselves, and a brute-force Monte Carlo where it converges."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from gradsim import activations
from gradsim.chainmoments import exact_log10_mean_squares

F = {"tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
     "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2)}
MPF = {"tanh": (mp.tanh, lambda x: 1 / mp.cosh(x) ** 2),
       "sigmoid": (lambda x: 1 / (1 + mp.exp(-x)), lambda x: mp.exp(-x) / (1 + mp.exp(-x)) ** 2)}
TOL = 3e-3  # decades: the grid's O(cell^2) error at the default 401 cells


@pytest.mark.parametrize("name,sw,sb,x,t", [("tanh", 1.5, 0.5, 1.0, 0.0), ("sigmoid", 1.0, 1.0, 1.0, 0.2)])
def test_depth_two_against_mpmath(name, sw, sb, x, t):
    """Layer 2: E[f'(h2)^2 (f(h2) - t)^2], h2 | h1 ~ N(0, sw^2 f(h1)^2 + sb^2), h1 ~ N(0, sw^2 x^2 + sb^2)."""
    f, df = MPF[name]
    got = exact_log10_mean_squares(activations.get(name), 2, sw * sw, sb * sb, x, t)
    with mp.workdps(15):
        s1 = mp.sqrt(sw**2 * x**2 + sb**2)

        def inner(h1):
            s = mp.sqrt(sw**2 * f(h1) ** 2 + sb**2)
            return mp.quad(lambda z: mp.npdf(z) * df(s * z) ** 2 * (f(s * z) - t) ** 2, [-10, 0, 10],
                           method="gauss-legendre")

        layer2 = mp.quad(lambda z: mp.npdf(z) * inner(s1 * z), [-10, 0, 10], method="gauss-legendre")
        assert got[1] == pytest.approx(float(mp.log10(layer2)), abs=TOL)


def gh(n):
    z, w = np.polynomial.hermite_e.hermegauss(n)
    return z, w / w.sum()


@pytest.mark.parametrize("name,sw,sb,x,t", [("tanh", 1.5, 0.5, 1.0, 0.0), ("sigmoid", 1.0, 1.0, 1.0, 0.0)])
def test_depth_three_against_nested_sums_over_weights_and_biases(name, sw, sb, x, t):
    """E[delta_l^2] by Gauss-Hermite sums over w_1, b_1, ..., w_3, b_3 themselves (no transfer operator)."""
    f, df = F[name]
    z, wt = gh(24)
    W, B = np.meshgrid(z * sw, z * sb, indexing="ij")
    P = np.outer(wt, wt)
    h1 = (W * x + B)[:, :, None, None]
    h2 = W[None, None] * f(h1) + B[None, None]  # over (w1, b1, w2, b2)
    p12 = P[:, :, None, None] * P[None, None]
    g1 = p12 * (df(h1) * W[None, None] * df(h2)) ** 2  # the factors of delta_1^2 before layer 3
    g2 = p12 * df(h2) ** 2
    sums = np.zeros(3)
    for w3, b3, p3 in zip(W.ravel(), B.ravel(), P.ravel()):  # the (w3, b3) sum as a plain loop
        h3 = w3 * f(h2) + b3
        last = p3 * (df(h3) * (f(h3) - t)) ** 2
        sums += [np.sum(g1 * last) * w3 * w3, np.sum(g2 * last) * w3 * w3, np.sum(p12 * last)]
    want = list(np.log10(sums))
    got = exact_log10_mean_squares(activations.get(name), 3, sw * sw, sb * sb, x, t)
    assert got == pytest.approx(want, abs=TOL)


def test_sigmoid_defaults_against_brute_force_monte_carlo():
    """sigmoid, N(0, 1) weights and biases, input 1, depth 10: the sample mean converges here."""
    depth, n = 10, 400_000
    rng = np.random.default_rng(2024)
    f, df = F["sigmoid"]
    w = rng.standard_normal((depth, n))
    h, a = [], np.ones(n)
    for layer in range(depth):
        h.append(w[layer] * a + rng.standard_normal(n))
        a = f(h[-1])
    d = df(h[-1]) * a
    means, errors = [np.mean(d**2)], [np.std(d**2) / math.sqrt(n)]
    for layer in range(depth - 2, -1, -1):
        d = df(h[layer]) * w[layer + 1] * d
        means.append(np.mean(d**2))
        errors.append(np.std(d**2) / math.sqrt(n))
    got = 10 ** exact_log10_mean_squares(activations.get("sigmoid"), depth, 1.0, 1.0, 1.0, 0.0)
    for g, m, e in zip(got, means[::-1], errors[::-1]):
        assert abs(g - m) <= 5 * e + 5e-3 * g
