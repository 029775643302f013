"""The correlation map of two inputs through a wide random network, its fixed point c*, chi_c and the depth scales.

Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), "Deep information propagation": two inputs whose
pre-activations have mean square q and cross moment q12 = c q go to

    q12_next = sigma_w2 E[f(u1) f(u2)] + sigma_b2,   (u1, u2) ~ N(0, [[q, c q], [c q, q]])      (the c-map)

At q = q* the c-map has the fixed point c* = 1 always; its slope there is chi1. Where chi1 > 1 (chaotic) a
second, stable c* < 1 appears. chi_c = sigma_w2 E[f'(u1) f'(u2)] at c* (= chi1 at c* = 1) sets the depth scale
xi_c = -1 / ln chi_c over which correlations approach c*; xi_q = -1 / ln L'(q*) is the length map's
(L'(q) = sigma_w2 E[f(sqrt(q) z)^2 (z^2 - 1)] / (2 q), Gaussian integration by parts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from .activations import Activation
from .meanfield import chi1s, depth_scale, normal_rule, solve_bracketed

Rule = tuple[np.ndarray, np.ndarray]
#: c beyond 1 - C_GAP counts as c* = 1 (the bracket's upper end).
C_GAP = 1e-9


@lru_cache(maxsize=1)
def coarse_rule(points: int = 48) -> Rule:
    """Gauss-Hermite (probabilists') nodes and weights for E over N(0, 1): the phase grid's cheaper rule (~1e-5)."""
    z, w = np.polynomial.hermite_e.hermegauss(points)
    return z, w / w.sum()


def bivariate(g1: Callable, g2: Callable, q, c, rule: Rule | None = None) -> np.ndarray:
    """E[g1(u1) g2(u2)], (u1, u2) ~ N(0, q [[1, c], [c, 1]]): u1 = sqrt(q) z1, u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2).

    q and c broadcast; a product rule over (z1, z2) (default: meanfield's 384-node rule, agreeing with mpmath to
    ~1e-12 for smooth f; the kink of relu on the z2 axis is not a panel edge there, so relu is good to ~1e-9).
    """
    z, w = normal_rule() if rule is None else rule
    q, c = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(c, dtype=float))
    s = np.sqrt(q)[..., None, None]
    cc = c[..., None, None]
    u1 = s * z[:, None]
    u2 = s * (cc * z[:, None] + np.sqrt(np.maximum(1.0 - cc * cc, 0.0)) * z[None, :])
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        inner = np.asarray(g2(u2), dtype=float) @ w
        return (np.asarray(g1(u1[..., 0]), dtype=float) * inner) @ w


def c_map(act: Activation, c, q, sigma_w2, sigma_b2, rule: Rule | None = None) -> np.ndarray:
    """c_next = (sigma_w2 E[f(u1) f(u2)] + sigma_b2) / q_next, q_next = sigma_w2 E f(u)^2 + sigma_b2 (at q = q*:
    q_next = q)."""
    cross = sigma_w2 * bivariate(act.f, act.f, q, c, rule) + sigma_b2
    square = sigma_w2 * bivariate(act.f, act.f, q, 1.0, rule) + sigma_b2
    return cross / square


def chi_c(act: Activation, c, q, sigma_w2, rule: Rule | None = None) -> np.ndarray:
    """chi_c = sigma_w2 E[f'(u1) f'(u2)] with correlation c at mean square q."""
    return sigma_w2 * bivariate(act.dact, act.dact, q, c, rule)


def length_slope(act: Activation, q: float, sigma_w2: float) -> float:
    """L'(q) = sigma_w2 d/dq E f(sqrt(q) z)^2 = sigma_w2 E[f(sqrt(q) z)^2 (z^2 - 1)] / (2 q)."""
    z, w = normal_rule()
    with np.errstate(over="ignore"):
        return float(sigma_w2 * (act.f(math.sqrt(q) * z) ** 2 * (z * z - 1.0)) @ w / (2.0 * q))


def c_stars(act: Activation, sigma_w2, sigma_b2, q_star, chi1, rule: Rule | None = None) -> np.ndarray:
    """The stable fixed point of the c-map at q*: 1 where chi1 <= 1, the root in [0, 1) of c_map(c) - c where chi1 > 1
    (c_map(0) - c >= 0 there: E f(u1) f(u2) = (E f)^2 at c = 0); nan where q* is 0 or infinite."""
    w2, b2, q, chi = (np.array(v, dtype=float).ravel() for v in np.broadcast_arrays(sigma_w2, sigma_b2, q_star, chi1))
    out = np.where(np.isfinite(q) & (q > 0), 1.0, np.nan)
    solve = np.flatnonzero(np.isfinite(q) & (q > 0) & (chi > 1.0))
    if solve.size:
        def gap(c, i):
            j = solve[i]
            return c_map(act, c, q[j], w2[j], b2[j], rule) - c

        top = np.full(solve.size, 1.0 - C_GAP)
        g_lo, g_hi = gap(np.zeros(solve.size), np.arange(solve.size)), gap(top, np.arange(solve.size))
        inside = (g_lo >= 0) & (g_hi < 0)
        root = np.ones(solve.size)
        root[g_lo == 0] = 0.0
        pick = np.flatnonzero(inside & (g_lo > 0))
        if pick.size:
            root[pick] = solve_bracketed(lambda c, i: gap(c, pick[i]), np.zeros(pick.size), top[pick], g_lo[pick],
                                         g_hi[pick], rtol=1e-13, atol=1e-15)
        out[solve] = root
    return out.reshape(np.shape(np.broadcast_arrays(sigma_w2, sigma_b2, q_star, chi1)[0]))


@dataclass(frozen=True)
class CorrelationPoint:
    """c*, chi_c and the depth scales at one (sigma_w2, sigma_b2)."""

    q_star: float
    chi1: float
    c_star: float
    chi_c: float
    xi_c: float
    xi_q: float


def correlation_point(act: Activation, sigma_w2: float, sigma_b2: float) -> CorrelationPoint:
    """q*, chi1, c*, chi_c = sigma_w2 E[f'(u1) f'(u2)] at c*, xi_c = -1/ln chi_c, xi_q = -1/ln L'(q*)."""
    chi, q = (float(v) for v in chi1s(act, sigma_w2, sigma_b2))
    c = float(c_stars(act, sigma_w2, sigma_b2, q, chi)[0])
    if not math.isfinite(c):
        return CorrelationPoint(q, chi, math.nan, math.nan, math.nan, math.nan)
    x = float(chi_c(act, c, q, sigma_w2)) if c < 1.0 else chi
    slope = length_slope(act, q, sigma_w2)
    return CorrelationPoint(q, chi, c, x, depth_scale(x), depth_scale(slope) if slope > 0 else 0.0)


def c_trajectory(act: Activation, sigma_w2: float, sigma_b2: float, q1: float, q12_1: float,
                 layers: int) -> tuple[np.ndarray, np.ndarray]:
    """(q_l, c_l) for l = 1..layers from the first layer's q1 and q12_1: the length and c-maps iterated together."""
    q, q12 = np.empty(layers), np.empty(layers)
    q[0], q12[0] = q1, q12_1
    for layer in range(1, layers):
        c = q12[layer - 1] / q[layer - 1] if q[layer - 1] > 0 else 1.0
        q[layer] = sigma_w2 * float(bivariate(act.f, act.f, q[layer - 1], 1.0)) + sigma_b2
        q12[layer] = sigma_w2 * float(bivariate(act.f, act.f, q[layer - 1], min(max(c, -1.0), 1.0))) + sigma_b2
    with np.errstate(invalid="ignore", divide="ignore"):
        return q, np.where(q > 0, q12 / q, 1.0)
