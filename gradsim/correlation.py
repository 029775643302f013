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

from .activations import POSITIVELY_HOMOGENEOUS, Activation
from .meanfield import chi1s, depth_scale, normal_rule, solve_bracketed

Rule = tuple[np.ndarray, np.ndarray]
#: c beyond 1 - C_GAP counts as c* = 1 (the bracket's upper end).
C_GAP = 1e-9
#: c_map(0) below this counts as 0: c* = 0 (E f(u1) f(u2) = (E f)^2 = 0 for an odd f at c = 0, to rounding).
ZERO_GAP = 1e-14


@lru_cache(maxsize=1)
def coarse_rule(points: int = 64) -> Rule:
    """Gauss-Hermite (probabilists') nodes and weights for E over N(0, 1): the phase grid's cheaper rule (c* to ~1e-3)."""
    z, w = np.polynomial.hermite_e.hermegauss(points)
    return z, w / w.sum()


@lru_cache(maxsize=1)
def _panels(points: int = 16, z_max: float = 12.0, z_min: float = 1e-4, ratio: float = 3.0):
    """Panel edges of meanfield's normal rule (0, +-z_min, +-3 z_min, ..., +-z_max) and Legendre nodes/weights."""
    edges = [z_min]
    while edges[-1] * ratio < z_max:
        edges.append(edges[-1] * ratio)
    half = np.array(edges + [z_max])
    return np.concatenate([-half[::-1], [0.0], half]), np.polynomial.legendre.leggauss(points)


def _inner(g2: Callable, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """E_z[g2(mean + sd z)], z ~ N(0, 1), for arrays mean, sd (same shape): Gauss-Legendre panels against the normal
    density whose edges are the normal rule's plus the point z = -mean/sd where mean + sd z = 0, so a kink of g2
    at 0 (relu, its step derivative, elu) is always a panel edge."""
    edges, (x, w) = _panels()
    with np.errstate(divide="ignore", invalid="ignore"):
        kink = np.where(sd > 0, -mean / np.where(sd > 0, sd, 1.0), edges[-1])
    kink = np.clip(np.nan_to_num(kink, nan=edges[-1]), edges[0], edges[-1])
    cut = np.sort(np.concatenate([np.broadcast_to(edges, kink.shape + edges.shape), kink[..., None]], axis=-1),
                  axis=-1)
    lo, hi = cut[..., :-1, None], cut[..., 1:, None]
    z = (hi - lo) / 2.0 * x + (hi + lo) / 2.0
    weight = (hi - lo) / 2.0 * w * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    values = np.asarray(g2(mean[..., None, None] + sd[..., None, None] * z), dtype=float)
    return np.sum(values * weight, axis=(-2, -1))


def bivariate(g1: Callable, g2: Callable, q, c, rule: Rule | None = None) -> np.ndarray:
    """E[g1(u1) g2(u2)], (u1, u2) ~ N(0, q [[1, c], [c, 1]]): u1 = sqrt(q) z1, u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2).

    q and c broadcast. The default: meanfield's 384-node rule over z1 (a panel edge at 0, the kink of g1) and, for
    each z1, panels over z2 with an edge where u2 = 0 (`_inner`): mpmath agrees to ~1e-12, relu's arc-cosine
    kernel too. `rule` (a plain product rule, e.g. `coarse_rule`) is the phase grid's faster approximation.
    """
    q, c = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(c, dtype=float))
    s = np.sqrt(q)[..., None]
    cc = c[..., None]
    t = np.sqrt(np.maximum(1.0 - cc * cc, 0.0))
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if rule is None:
            z, w = normal_rule()
            inner = _inner(g2, s * cc * z, np.broadcast_to(s * t, (s * cc * z).shape))
        else:
            z, w = rule
            inner = np.asarray(g2(s[..., None] * (cc[..., None] * z[:, None] + t[..., None] * z[None, :])),
                               dtype=float) @ w
        return (np.asarray(g1(s * z), dtype=float) * inner) @ w


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


def scale_free_q(act: Activation, q):
    """q, or 1 where q* is 0 or infinite and f is positively homogeneous: its c-map is the same at every q, so c* and
    chi_c are defined even where the length has vanished or diverged (relu at xavier: c* = 1, chi_c = 1/2)."""
    q = np.asarray(q, dtype=float)
    if act.name not in POSITIVELY_HOMOGENEOUS:
        return q
    return np.where(np.isfinite(q) & (q > 0), q, 1.0)


def c_stars(act: Activation, sigma_w2, sigma_b2, q_star, chi1, rule: Rule | None = None,
            rtol: float = 1e-13) -> np.ndarray:
    """The stable fixed point of the c-map at q*: 1 where chi1 <= 1, the root in [0, 1) of c_map(c) - c where chi1 > 1
    (c_map(0) - c >= 0 there: E f(u1) f(u2) = (E f)^2 at c = 0); nan where q* is 0 or infinite."""
    w2, b2, q, chi = (np.array(v, dtype=float).ravel() for v in np.broadcast_arrays(sigma_w2, sigma_b2, q_star, chi1))
    q = scale_free_q(act, q)
    out = np.where(np.isfinite(q) & (q > 0), 1.0, np.nan)
    solve = np.flatnonzero(np.isfinite(q) & (q > 0) & (chi > 1.0))
    if solve.size:
        square = w2[solve] * bivariate(act.f, act.f, q[solve], 1.0, rule) + b2[solve]  # q_next at c = 1, once

        def gap(c, i):
            j = solve[i]
            return (w2[j] * bivariate(act.f, act.f, q[j], c, rule) + b2[j]) / square[i] - c

        top = np.full(solve.size, 1.0 - C_GAP)
        g_lo, g_hi = gap(np.zeros(solve.size), np.arange(solve.size)), gap(top, np.arange(solve.size))
        zero = g_lo <= ZERO_GAP  # c = 0 is the fixed point (odd f, sigma_b2 = 0), up to the rule's rounding
        root = np.where(zero, 0.0, 1.0)
        pick = np.flatnonzero(~zero & (g_hi < 0))
        if pick.size:
            root[pick] = solve_bracketed(lambda c, i: gap(c, pick[i]), np.zeros(pick.size), top[pick], g_lo[pick],
                                         g_hi[pick], rtol=rtol, atol=rtol * 1e-2)
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
    c = float(c_stars(act, sigma_w2, sigma_b2, q, chi))
    if not math.isfinite(c):
        return CorrelationPoint(q, chi, math.nan, math.nan, math.nan, math.nan)
    q_map = float(scale_free_q(act, q))
    x = float(chi_c(act, c, q_map, sigma_w2)) if c < 1.0 else chi
    slope = length_slope(act, q_map, sigma_w2)
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


@dataclass(frozen=True)
class CorrelationGrid:
    """c* and chi_c over the phase diagram's grid (rows sigma_b2, columns sigma_w2), and at each initialisation."""

    c_star: np.ndarray
    chi_c: np.ndarray
    inits: list[CorrelationPoint]


def phase_correlation(act: Activation, phase) -> CorrelationGrid:
    """c* and chi_c on `phase`'s grid (a meanfield.PhaseResult; `coarse_rule`, good to ~1e-5 for a figure) and, with
    the fine rule, at each of its initialisations (sigma_b2 = 0)."""
    w2, b2 = np.meshgrid(phase.sigma_w2, phase.sigma_b2)
    rule = coarse_rule()
    c = c_stars(act, w2, b2, phase.q_star, phase.chi1, rule, rtol=1e-9)
    chi = np.array(phase.chi1, dtype=float)
    below = np.isfinite(c) & (c < 1.0)
    if np.any(below):
        chi[below] = chi_c(act, c[below], scale_free_q(act, phase.q_star[below]), w2[below], rule)
    chi[~np.isfinite(c)] = np.nan
    return CorrelationGrid(c, chi, [correlation_point(act, p.sigma_w2, 0.0) for p in phase.inits])
