"""Exact mean squares E[delta_l^2] of a random chain of single neurons (width 1), by a transfer operator.

h_1 = w_1 x + b_1, h_(l+1) = w_(l+1) f(h_l) + b_(l+1), w_l ~ N(0, sigma_w^2), b_l ~ N(0, sigma_b^2), and
delta_L = f'(h_L) (f(h_L) - target), delta_l = f'(h_l) w_(l+1) delta_(l+1). Given h_l, h_(l+1) is N(0, s^2) with
s^2 = sigma_w^2 f(h_l)^2 + sigma_b^2, so h is a Markov chain; and, given h_l and h_(l+1) = h',
E[w^2 | h'] = sigma_w^2 sigma_b^2 / s^2 + (sigma_w^2 f(h_l) h' / s^2)^2. Hence

    E[delta_l^2] = E[V_l(h_l)],  V_L(h) = f'(h)^2 (f(h) - target)^2,
    V_l(h) = f'(h)^2 E[w_(l+1)^2 V_(l+1)(h_(l+1)) | h_l = h],

with the density of h_l carried forward and V_l backward on a grid of cells (cell probabilities and the
w^2-weighted ones in closed form: differences of Phi(u) and of Phi(u) - u phi(u)). The heavy tail that makes a
sample mean of delta^2 mislead at width 1 is integrated, not sampled.
"""

from __future__ import annotations

import math

import numpy as np

from . import activations
from .activations import Activation

#: Cells of the grid over h (odd, so that a cell is centred on 0); each layer's grid reaches where the mixture's
#: probability beyond it is below TAIL_MASS (at least HALF_WIDTH standard deviations of h_1).
CELLS = 401
#: At most this many different grids (kernels) per run: a spread of h that keeps changing gives no exact figure.
MAX_KERNELS = 16
HALF_WIDTH = 9.0
TAIL_MASS = 1e-13


def _grid(radius: float, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell edges and centres on [-radius, radius]."""
    edges = np.linspace(-radius, radius, cells + 1)
    return edges, 0.5 * (edges[1:] + edges[:-1])


def _reach(s: np.ndarray, mass: np.ndarray, start: float) -> float:
    """The smallest R = 2^(k/4) with sum_i mass_i P(|N(0, s_i^2)| > R) <= TAIL_MASS, searched from `start`
    (quantised, so that grids repeat and their kernels are reused)."""
    if not np.any((mass > 0) & (s > 0)):
        return start

    def tail(k: int) -> float:
        return float(mass @ (2.0 * activations.norm_cdf(-(2.0 ** (k / 4)) / np.where(s > 0, s, 1e-300))))

    if not np.all(np.isfinite(s[mass > 0])):
        return math.inf
    k = math.ceil(4 * math.log2(start))
    if tail(k) > TAIL_MASS:
        k += 1
        while tail(k) > TAIL_MASS:
            k += 1
            if k > 2400:  # 2^600: beyond what a grid in float64 can hold
                return math.inf
        return 2.0 ** (k / 4)
    while tail(k - 1) <= TAIL_MASS:
        k -= 1
    return 2.0 ** (k / 4)


def _kernels(act: Activation, centres: np.ndarray, edges: np.ndarray, w2: float, b2: float):
    """(M, W): M[i, j] = P(h' in cell j | h = centre i), W[i, j] = E[w^2 1{h' in cell j} | h = centre i]."""
    a = act.f(centres)
    s2 = w2 * a * a + b2
    s = np.sqrt(s2)
    point = s == 0  # h' = 0 exactly: w f(h) + b with f(h) = 0 and b = 0
    safe = np.where(point, 1.0, s)
    u = edges[None, :] / safe[:, None]
    cdf = activations.norm_cdf(u)
    tail = np.zeros_like(u)  # u phi(u), 0 at u = +-inf (no inf x 0)
    np.multiply(u, activations.norm_pdf(u), out=tail, where=np.isfinite(u))
    second = cdf - tail  # int_-inf^u t^2 phi(t) dt
    m = np.diff(cdf, axis=1)
    w = (w2 * b2 / np.where(point, 1.0, s2))[:, None] * m + (w2 * w2 * a * a / np.where(point, 1.0, s2))[:, None] * \
        np.diff(second, axis=1)
    if np.any(point):
        zero = np.zeros(len(centres))
        zero[np.searchsorted(edges, 0.0, side="right") - 1] = 1.0
        m[point], w[point] = zero, w2 * zero
    return m, w


#: The exact figures are given when two grids (CELLS and about CELLS / 2 cells) agree to this many decades after
#: Richardson extrapolation's error estimate; else nan (the grid cannot resolve h's spread).
EXACT_TOL = 0.01


def exact_log10_mean_squares(act: Activation, depth: int, sigma_w2: float, sigma_b2: float, x: float,
                             target: float, cells: int = CELLS) -> np.ndarray:
    """log10 E[delta_l^2] for l = 1..depth (first layer first): the transfer operator on `cells` cells and on
    half as many, extrapolated (the error is O(cell^2)); nan everywhere when their difference / 3, the estimated
    error, passes EXACT_TOL decades at any layer.
    """
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        # at astronomical scales the grid's arithmetic overflows into nan, which the comparison below refuses
        fine = transfer_log10_mean_squares(act, depth, sigma_w2, sigma_b2, x, target, cells)
        coarse = transfer_log10_mean_squares(act, depth, sigma_w2, sigma_b2, x, target, cells // 2 | 1)
        error = np.abs(fine - coarse) / 3.0
        if np.all(np.isneginf(fine) == np.isneginf(coarse)) and np.all((error <= EXACT_TOL) | np.isneginf(fine)):
            return np.where(np.isneginf(fine), fine, fine + (fine - coarse) / 3.0)
    return np.full(depth, math.nan)


def transfer_log10_mean_squares(act: Activation, depth: int, sigma_w2: float, sigma_b2: float, x: float,
                                target: float, cells: int = CELLS) -> np.ndarray:
    """log10 E[delta_l^2] for l = 1..depth (first layer first), by the transfer operator on `cells` cells.

    nan for every layer when h spreads beyond 1e150 (an astronomical input or weight scale), or its spread
    keeps changing past MAX_KERNELS grids.
    Each layer's grid reaches where the probability of h_l beyond it (a mixture of N(0, s_i^2) with weights m_i)
    is below TAIL_MASS; grids and their kernels are reused while that reach does not change.
    """
    s1 = math.sqrt(sigma_w2 * x * x + sigma_b2) if abs(x) < 1e150 else math.inf
    radius = HALF_WIDTH * max(s1, 1e-300)
    if not radius < 1e150:
        return np.full(depth, math.nan)
    edges, centres = _grid(radius, cells)
    if s1 > 0:
        mass = np.diff(activations.norm_cdf(edges / s1))
    else:
        mass = np.zeros(cells)
        mass[cells // 2] = 1.0
    grids, masses, kernels = [], [], {}
    for layer in range(depth):
        grids.append((edges, centres))
        masses.append(mass)
        if layer == depth - 1:
            break
        with np.errstate(over="ignore"):
            new_radius = _reach(np.sqrt(sigma_w2 * act.f(centres) ** 2 + sigma_b2), mass, radius)
        if not new_radius < 1e150:
            return np.full(depth, math.nan)  # h_l spreads beyond what a grid can hold: no exact figure
        key = (radius, new_radius)
        if key not in kernels and len(kernels) == MAX_KERNELS:
            return np.full(depth, math.nan)
        if key not in kernels:
            next_edges, next_centres = _grid(new_radius, cells)
            kernels[key] = (_kernels(act, centres, next_edges, sigma_w2, sigma_b2), (next_edges, next_centres))
        (m, _), (edges, centres) = kernels[key]
        mass = mass @ m
        radius = new_radius
    # backward: V_l on layer l's centres, scaled by e^scale to stay within float64
    edges, centres = grids[-1]
    with np.errstate(over="ignore", under="ignore"):
        v = act.dact(centres) ** 2 * (act.f(centres) - target) ** 2
    out = np.empty(depth)
    scale = 0.0
    radii = [float(g[0][-1]) for g in grids]
    for layer in range(depth - 1, -1, -1):
        top = float(np.max(v))
        if top > 0:
            v = v / top
            scale += math.log(top)
        total = float(masses[layer] @ v)
        out[layer] = (math.log(total) + scale) / math.log(10) if total > 0 else -math.inf
        if layer == 0:
            break
        (_, w), _ = kernels[(radii[layer - 1], radii[layer])]
        _, prev_centres = grids[layer - 1]
        v = act.dact(prev_centres) ** 2 * (w @ v)
    return out

