"""Mean-field theory of wide random networks: the length map, its fixed point q*, chi1, and the phase diagram.

A layer of a wide random network with weights W_ij ~ N(0, sigma_w2 / N) and biases ~ N(0, sigma_b2)
maps the mean squared pre-activation q to (Poole et al. 2016, Schoenholz et al. 2017)

    q_next = sigma_w2 E_z[f(sqrt(q) z)^2] + sigma_b2,          z ~ N(0, 1)   (the length map)

and multiplies the mean squared gradient, once q has settled at its fixed point q*, by

    chi1 = sigma_w2 E_z[f'(sqrt(q*) z)^2]                                     (vanishing < 1 < exploding)

Expectations over z use one fixed quadrature rule (see `normal_rule`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence, Union

import numpy as np

from . import activations
from .activations import Activation
from .errors import GradsimError
from .init import INITS, init_sigma_w2

ActLike = Union[Activation, str]
Array = np.ndarray

#: q beyond this counts as infinite: the length map diverges (chi1 is then taken in the limit q -> inf).
Q_MAX = 1e200
#: q below this counts as the fixed point q* = 0 (chi1 there is its limit q -> 0+ to all digits).
Q_MIN = 1e-250
#: A pre-activation standing for +-infinity when chi1 is taken in the limit q -> inf.
X_INF = 1e300
#: Relative size of L(q) - q below which q is a fixed point to working precision.
FIXED_RTOL = 1e-14
#: Length-map iterations from q0 before the fixed point is polished by root finding.
ITERATIONS = 6
#: The largest sigma_w2 searched for a critical point.
SIGMA_W2_MAX = 1e6


# ---------------------------------------------------------------- quadrature against the normal density
@lru_cache(maxsize=1)
def normal_rule(points: int = 16, z_max: float = 12.0, z_min: float = 1e-4, ratio: float = 3.0) -> tuple[Array, Array]:
    """Nodes z_i and weights w_i with sum_i w_i g(z_i) ~ E_z[g(z)], z ~ N(0, 1) (weights sum to 1).

    Gauss-Legendre panels on [0, z_max] (mirrored to the negative side) with edges 0, z_min, 3 z_min, 9 z_min, ...:
    a panel edge at 0 takes the kink of relu, elu and selu at full precision, and panels that shrink towards 0 resolve
    f'(sqrt(q) z)^2 when q is large (its width in z is 1/sqrt(q)). Plain Gauss-Hermite does neither: with 128
    nodes it is off by 4e-3 (relative) for elu's E[f'^2] and by 8e-2 for tanh's at q = 20; this rule (384 nodes)
    agrees with mpmath to 5e-15 for q from 1e-3 to 1e4 (tests/test_meanfield.py).
    """
    x, w = np.polynomial.legendre.leggauss(points)
    edges = [0.0]
    edge = z_min
    while edge < z_max:
        edges.append(edge)
        edge *= ratio
    edges.append(z_max)
    lo, hi = np.array(edges[:-1]), np.array(edges[1:])
    z = ((hi - lo)[:, None] * (x + 1.0) / 2.0 + lo[:, None]).ravel()
    weight = ((hi - lo)[:, None] / 2.0 * w).ravel() * activations.norm_pdf(z)
    z = np.concatenate([-z[::-1], z])
    weight = np.concatenate([weight[::-1], weight])
    return z, weight / weight.sum()


def expect(g: Callable[[Array], Array], q) -> Array:
    """E_z[g(sqrt(q) z)] for every q (any shape); exactly g(0) where q = 0."""
    z, w = normal_rule()
    q = np.asarray(q, dtype=float)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        values = np.asarray(g(np.sqrt(q)[..., None] * z), dtype=float) @ w
    return np.where(q == 0, float(g(np.zeros(1))[0]), values)


def as_activation(act: ActLike) -> Activation:
    """The Activation itself, or the one a name stands for."""
    return activations.get(act) if isinstance(act, str) else act


@lru_cache(maxsize=32)
def peak(act: Activation) -> activations.Peak:
    """sup |f'| and where (activations.peak_dact, computed once per activation)."""
    return activations.peak_dact(act)


def _square_f(act: Activation) -> Callable[[Array], Array]:
    return lambda x: act.f(x) ** 2


def _square_dact(act: Activation) -> Callable[[Array], Array]:
    return lambda x: act.dact(x) ** 2


def _check(sigma_w2, sigma_b2) -> None:
    for value, option in ((sigma_w2, "--sigma-w2"), (sigma_b2, "--sigma-b2")):
        v = np.asarray(value, dtype=float)
        if not (np.all(np.isfinite(v)) and np.all(v >= 0)):
            raise GradsimError(f"variances must be finite numbers >= 0, got {value}", option=option)


# ---------------------------------------------------------------- the length map and its fixed point
def length_maps(act: ActLike, q, sigma_w2, sigma_b2) -> Array:
    """L(q) = sigma_w2 E_z[f(sqrt(q) z)^2] + sigma_b2, element by element (arrays broadcast)."""
    act = as_activation(act)
    with np.errstate(over="ignore"):
        return np.asarray(sigma_w2, dtype=float) * expect(_square_f(act), q) + np.asarray(sigma_b2, dtype=float)


def length_map(act: ActLike, q: float, sigma_w2: float, sigma_b2: float) -> float:
    """q_next = sigma_w2 E_z[f(sqrt(q) z)^2] + sigma_b2, z ~ N(0, 1)."""
    _check(sigma_w2, sigma_b2)
    if not (math.isfinite(q) and q >= 0):
        raise GradsimError(f"q must be a finite number >= 0, got {q}", option="--q")
    return float(length_maps(act, q, sigma_w2, sigma_b2))


def q_trajectory(act: ActLike, depth: int, sigma_w2: float, sigma_b2: float, q1: float) -> Array:
    """q_1 = q1, q_(l+1) = L(q_l): the mean field's E h_l^2 for layers 1..depth (inf once it passes float64)."""
    act = as_activation(act)
    _check(sigma_w2, sigma_b2)
    q = np.empty(depth)
    q[0] = q1
    for layer in range(1, depth):
        if not math.isfinite(q[layer - 1]):
            q[layer:] = math.inf
            break
        with np.errstate(over="ignore", invalid="ignore"):
            step = float(length_maps(act, q[layer - 1], sigma_w2, sigma_b2))
        q[layer] = step if not math.isnan(step) else math.inf  # nan: inf x 0 where f^2 overflowed
        if step == q[layer - 1]:  # a fixed point of the rounded map: it stays
            q[layer:] = step
            break
    return q


def _bisect_point(lo: Array, hi: Array) -> Array:
    """The midpoint of [lo, hi]; the geometric one when the bracket spans more than a factor 4 above 0."""
    with np.errstate(invalid="ignore", over="ignore"):
        geometric = (lo > 0) & (hi > 4.0 * lo)
        # sqrt(lo) sqrt(hi), not sqrt(lo hi): lo hi overflows for brackets above 1e154
        return np.where(geometric, np.sqrt(np.where(geometric, lo, 1.0)) * np.sqrt(np.where(geometric, hi, 1.0)),
                        0.5 * (lo + hi))


def solve_bracketed(g: Callable[[Array, Array], Array], lo, hi, g_lo, g_hi, rtol: float = 1e-15,
                    atol: float = 0.0, max_iter: int = 400) -> Array:
    """A root of g in each bracket [lo, hi] with g(lo) > 0 >= g(hi) or g(lo) < 0 <= g(hi) (vectorised).

    Illinois (regula falsi that halves a stale end's value), with a bisection whenever two steps running
    failed to halve the bracket, so it always shrinks; `g(x, index)` evaluates the brackets listed in
    `index`. Stops when g(x) = 0 or hi - lo <= rtol |hi| + atol.
    """
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    g_lo, g_hi = np.array(g_lo, dtype=float), np.array(g_hi, dtype=float)
    root = np.full(lo.shape, np.nan)
    stale = np.zeros(lo.shape, dtype=int)  # +1: lo moved last time, -1: hi moved
    slow = np.zeros(lo.shape, dtype=int)  # steps running that did not halve the bracket
    active = np.flatnonzero(hi - lo > rtol * np.abs(hi) + atol)
    root[hi - lo <= rtol * np.abs(hi) + atol] = 0.5 * (lo + hi)[hi - lo <= rtol * np.abs(hi) + atol]
    for _ in range(max_iter):
        if active.size == 0:
            break
        a, b, ga, gb = lo[active], hi[active], g_lo[active], g_hi[active]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            x = (a * gb - b * ga) / (gb - ga)
        bad = ~((x > a) & (x < b)) | (slow[active] >= 2)
        x = np.where(bad, _bisect_point(a, b), x)
        gx = g(x, active)
        root[active] = x
        same_as_lo = np.sign(gx) == np.sign(ga)
        # Illinois: when the same end moves twice running, halve the value kept at the other end
        halve_hi = same_as_lo & (stale[active] == 1)
        halve_lo = ~same_as_lo & (stale[active] == -1)
        g_hi[active] = np.where(halve_hi, gb / 2, gb)
        g_lo[active] = np.where(halve_lo, ga / 2, ga)
        lo[active] = np.where(same_as_lo, x, a)
        g_lo[active] = np.where(same_as_lo, gx, g_lo[active])
        hi[active] = np.where(same_as_lo, b, x)
        g_hi[active] = np.where(same_as_lo, g_hi[active], gx)
        stale[active] = np.where(same_as_lo, 1, -1)
        width = hi[active] - lo[active]
        slow[active] = np.where(width > 0.5 * (b - a), slow[active] + 1, 0)
        done = (gx == 0) | (width <= rtol * np.abs(hi[active]) + atol)
        active = active[~done]
    return root


def _search(g: Callable[[Array, Array], Array], start: Array, g_start: Array, keep: Callable[[Array], Array],
            up: bool, limit: float, factor: float = 4.0, accelerate: bool = True):
    """Step from `start` by `factor` (squared at every step if `accelerate`: 4, 16, 256, ...), up or down,
    while keep(g) holds; stop at `limit`.

    Returns the last two points (near, far), g at both, and whether keep(g) held all the way to `limit`.
    """
    near, far = start.copy(), start.copy()
    g_near, g_far = g_start.copy(), g_start.copy()
    active = np.arange(start.size)
    step = factor
    while active.size:
        with np.errstate(over="ignore", under="ignore"):
            x = np.minimum(far[active] * step, limit) if up else np.maximum(far[active] / step, limit)
        gx = g(x, active)
        near[active], g_near[active] = far[active], g_far[active]
        far[active], g_far[active] = x, gx
        active = active[keep(gx) & (x != limit)]
        step = step * step if accelerate else step
    return near, far, g_near, g_far, (far == limit) & keep(g_far)


#: Ratio between neighbouring points of the scan for the fixed point, near its start (19% steps in q); each
#: further chunk of SCAN_CHUNK points squares the ratio, so the scan is dense where the iterate is and reaches
#: Q_MAX or Q_MIN in a few chunks.
SCAN_RATIO = 2.0 ** (1 / 4)
SCAN_CHUNK = 8


def _golden_min(h: Callable[[Array, Array], Array], lo: Array, hi: Array, index: Array, xtol: float = 1e-10):
    """(x, h(x)) at a minimum of h(., index) on [lo, hi] by golden-section search in log x (vectorised).

    Stops early once every minimum found is < 0 (all that `_scan` asks) or is located to xtol in log x.
    """
    r = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = np.log(lo), np.log(hi)
    c, d = b - r * (b - a), a + r * (b - a)
    hc, hd = h(np.exp(c), index), h(np.exp(d), index)
    while not np.all((np.minimum(hc, hd) < 0) | (b - a <= xtol)):
        left = hc <= hd  # the minimum is in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
        c, d = np.where(left, b - r * (b - a), d), np.where(left, c, a + r * (b - a))
        fresh = h(np.exp(np.where(left, c, d)), index)
        hc, hd = np.where(left, fresh, hd), np.where(left, hc, fresh)
    return np.exp(np.where(hc <= hd, c, d)), np.minimum(hc, hd)


def _scan(h: Callable[[Array, Array], Array], start: Array, h_start: Array, up: bool, limit: float):
    """Walk from `start` (where h > 0) up or down in log x to the first root of h, or to `limit`.

    Chunks of SCAN_CHUNK points, the ratio between points SCAN_RATIO in the first chunk and squared in each
    further one. A root is bracketed either by a sign change between points or, when two roots lie between
    neighbouring points (near a saddle-node, where the stable and the unstable fixed point meet), by a sampled
    local minimum of h whose true minimum (golden-section search) is < 0. With L increasing, h = +-(L(x) - x)
    cannot change sign between x and L(x), so a chunk starts at L(x) when that is further than one step.
    Returns (a, b, h(a), h(b), found): h(a) >= 0 > h(b) where found, else a = b = the last point (`limit`).
    """
    n = start.size
    a, b, h_a, h_b = start.copy(), start.copy(), h_start.copy(), h_start.copy()
    found = np.zeros(n, dtype=bool)
    prev2, h2 = start.copy(), h_start.copy()
    ratio = SCAN_RATIO
    active = np.arange(n)
    while active.size:
        active = active[(a[active] < limit) if up else (a[active] > limit)]
        if active.size == 0:
            break
        steps = ratio ** np.arange(1, SCAN_CHUNK + 1)
        steps = steps if up else 1.0 / steps
        last, h_last = a[active], h_a[active]
        mapped = last + h_last if up else last - h_last  # L(last)
        with np.errstate(over="ignore"):
            base = np.maximum(last, mapped / ratio) if up else np.minimum(last, mapped * ratio)
            x = np.minimum(base[:, None] * steps, limit) if up else np.maximum(base[:, None] * steps, limit)
        hx = h(x.ravel(), np.repeat(active, steps.size)).reshape(x.shape)
        P = np.column_stack([prev2[active], last, x])
        H = np.column_stack([h2[active], h_last, hx])
        nonpos = H[:, 2:] < 0  # a zero is rounding noise (see `fixed_points`): only a change of sign counts
        first_sign = np.where(nonpos.any(axis=1), nonpos.argmax(axis=1) + 2, P.shape[1])
        at = (np.arange(P.shape[0]), np.minimum(first_sign, P.shape[1] - 1))
        event, end_x, end_h = first_sign.copy(), P[at], H[at]
        # sampled local minima of h before the first sign change: a dip of h below 0 may hide between neighbours
        rows, cols = np.nonzero((H[:, 1:-1] < H[:, :-2]) & (H[:, 1:-1] <= H[:, 2:]) & (P[:, 2:] != P[:, 1:-1]))
        cols = cols + 1
        rows, cols = rows[cols < first_sign[rows]], cols[cols < first_sign[rows]]
        if rows.size:
            ends = np.sort(np.column_stack([P[rows, cols - 1], P[rows, cols + 1]]), axis=1)
            x_min, h_min = _golden_min(h, ends[:, 0], ends[:, 1], active[rows])
            dip = h_min < 0
            for r, c, xm, hm in zip(rows[dip][::-1], cols[dip][::-1], x_min[dip][::-1], h_min[dip][::-1]):
                event[r], end_x[r], end_h[r] = c, xm, hm  # visited last to first: the row's first dip wins
        hit = event < P.shape[1]
        idx = active[hit]
        a[idx], h_a[idx] = P[hit, event[hit] - 1], H[hit, event[hit] - 1]
        b[idx], h_b[idx] = end_x[hit], end_h[hit]
        found[idx] = True
        miss, idx = ~hit, active[~hit]
        prev2[idx], h2[idx] = P[miss, -2], H[miss, -2]
        a[idx], h_a[idx], b[idx], h_b[idx] = P[miss, -1], H[miss, -1], P[miss, -1], H[miss, -1]
        active = idx
        ratio = ratio * ratio
    return a, b, h_a, h_b, found


def _polish(g: Callable[[Array, Array], Array], q: Array, gq: Array) -> Array:
    """The first fixed point from q in the direction L(q) - q points: the one the iterated length map reaches.

    `g(x, i)` is L(x) - x for the entries i of q. `_scan` brackets the first root (upwards: g from > 0 to <= 0,
    or inf when g stays > 0 up to Q_MAX; downwards: g from < 0 to >= 0, or 0 at Q_MIN); `solve_bracketed` solves it.
    """
    out = np.empty(q.shape)
    for up, limit, beyond in ((True, Q_MAX, math.inf), (False, Q_MIN, 0.0)):
        which = np.flatnonzero((gq > 0) == up)
        if which.size == 0:
            continue
        sign = 1.0 if up else -1.0

        def g_which(x, i, which=which):
            return g(x, which[i])

        a, b, h_a, h_b, found = _scan(lambda x, i: sign * g_which(x, i), q[which], sign * gq[which], up, limit)
        root = np.full(which.size, beyond)
        solve = np.flatnonzero(found)
        if solve.size:
            lo, hi = np.minimum(a, b)[solve], np.maximum(a, b)[solve]
            g_a, g_b = sign * h_a[solve], sign * h_b[solve]
            g_lo, g_hi = (g_a, g_b) if up else (g_b, g_a)
            root[solve] = solve_bracketed(lambda x, i: g_which(x, solve[i]), lo, hi, g_lo, g_hi, atol=Q_MIN)
        out[which] = root
    return out


def fixed_points(act: ActLike, sigma_w2, sigma_b2, q0: float = 1.0) -> Array:
    """q* = L(q*) reached by iterating the length map from q0, for arrays of (sigma_w2, sigma_b2).

    ITERATIONS steps of q <- L(q) pick the basin; then the first root of L(q) - q from the last iterate, in the
    direction L(q) - q points (the one the iteration converges to, L being increasing), is bracketed by a dense
    scan in log q (`_polish`) and solved by `solve_bracketed`, so marginal cases
    (tanh near sigma_w2 = 1 at sigma_b2 = 0, where q_n ~ 1/(2n)) cost no more than others. When L(q) - q stays
    >= 0 up to Q_MAX (relu with sigma_w2 >= 2 and sigma_b2 > 0, linear with sigma_w2 >= 1) q* is inf. When it
    stays <= 0 down to Q_MIN, q* = 0 (tanh with sigma_b2 = 0 and sigma_w2 <= 1).
    """
    act = as_activation(act)
    _check(sigma_w2, sigma_b2)
    w2, b2 = (np.array(v, dtype=float) for v in np.broadcast_arrays(sigma_w2, sigma_b2))
    shape, w2, b2 = w2.shape, w2.ravel(), b2.ravel()

    def g(x, index):
        """L(q) - q, read as 0 where it is below FIXED_RTOL q (the rounding noise of the rule)."""
        with np.errstate(invalid="ignore"):  # inf - inf where the map and q both overflowed: nan, as before
            gap = length_maps(act, x, w2[index], b2[index]) - x
            return np.where(np.abs(gap) <= FIXED_RTOL * x, 0.0, gap)

    q = np.full(w2.size, float(q0))
    for _ in range(ITERATIONS):
        q = np.minimum(length_maps(act, q, w2, b2), Q_MAX)
    gq = g(q, np.arange(w2.size))
    result = q.copy()
    open_ = np.flatnonzero(gq != 0)
    if open_.size:
        result[open_] = _polish(lambda x, i: g(x, open_[i]), q[open_], gq[open_])
    return result.reshape(shape)


def fixed_point_q(act: ActLike, sigma_w2: float, sigma_b2: float, q0: float = 1.0) -> float:
    """q* = sigma_w2 E_z[f(sqrt(q*) z)^2] + sigma_b2, the limit of the length map iterated from q0.

    inf when the iteration diverges (relu with sigma_w2 > 2, or = 2 with sigma_b2 > 0; linear with sigma_w2 >= 1
    and sigma_b2 > 0; any activation that grows like x when sigma_w2 is large): `chi1` is then the limit
    q -> inf. 0 when q shrinks to the fixed point 0 (sigma_b2 = 0, f(0) = 0 and sigma_w2 f'(0)^2 <= 1).
    Where L(q) = q for every q (relu at sigma_w2 = 2, sigma_b2 = 0) q* = q0.
    """
    if not (math.isfinite(q0) and q0 >= 0):
        raise GradsimError(f"q0 must be a finite number >= 0, got {q0}", option="--q0")
    return float(fixed_points(act, sigma_w2, sigma_b2, q0))


def dact_limit_square(act: ActLike) -> float:
    """lim_{q -> inf} E_z[f'(sqrt(q) z)^2] = (f'(+inf)^2 + f'(-inf)^2) / 2."""
    act = as_activation(act)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        ends = np.asarray(act.dact(np.array([X_INF, -X_INF])), dtype=float)
    return float(np.mean(ends**2))


def grad_factors(act: ActLike, q, sigma_w2: float) -> Array:
    """sigma_w2 E_z[f'(sqrt(q_l) z)^2] for each q_l: the factor the mean squared gradient takes from layer l + 1 back
    to layer l while q_l is on its way to q* (chi1 once it is there)."""
    act = as_activation(act)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        return sigma_w2 * expect(_square_dact(act), np.asarray(q, dtype=float))


def chi1s(act: ActLike, sigma_w2, sigma_b2, q0: float = 1.0) -> tuple[Array, Array]:
    """(chi1, q*) for arrays of (sigma_w2, sigma_b2): chi1 = sigma_w2 E_z[f'(sqrt(q*) z)^2], its limit where q* = inf."""
    act = as_activation(act)
    q = fixed_points(act, sigma_w2, sigma_b2, q0)
    finite = np.isfinite(q)
    # q* = 0 is taken as the limit q -> 0+ (Q_MIN): relu gives 1/2 there, not relu'(0)^2 = 0
    near = np.where(finite, np.maximum(q, Q_MIN), 1.0)
    mean_square = np.where(finite, expect(_square_dact(act), near), dact_limit_square(act))
    return np.asarray(sigma_w2, dtype=float) * mean_square, q


def chi1(act: ActLike, sigma_w2: float, sigma_b2: float) -> float:
    """chi1 = sigma_w2 E_z[f'(sqrt(q*) z)^2], the mean-field factor per layer of the mean squared gradient.

    Where q* = inf (see `fixed_point_q`) it is the limit sigma_w2 (f'(+inf)^2 + f'(-inf)^2) / 2; where q* = 0,
    the limit q -> 0+, sigma_w2 (f'(0+)^2 + f'(0-)^2) / 2. relu gives sigma_w2 / 2 at every q, both limits included.
    """
    return float(chi1s(act, sigma_w2, sigma_b2)[0])


def depth_scale(chi1: float) -> float:
    """xi = -1 / ln(chi1): the gradient changes by a factor e every |xi| layers; < 0 when exploding.

    inf when chi1 is critical (within `regime`'s tolerance of 1: quadrature rounding must not
    turn He's exact chi1 = 1 into a depth scale of -4.5e15).
    """
    if regime(chi1) == "critical":
        return math.inf
    if chi1 == 0:
        return 0.0
    if not chi1 >= 0:
        return math.nan
    return -1.0 / math.log(chi1)


def regime(chi1: float, tol: float = 1e-9) -> str:
    """vanishing (chi1 < 1), exploding (chi1 > 1), or critical (|chi1 - 1| <= tol)."""
    if abs(chi1 - 1.0) <= tol:
        return "critical"
    return "vanishing" if chi1 < 1.0 else "exploding"


# ---------------------------------------------------------------- the phase diagram (`gradsim phase`)
#: sigma_b2 values of the critical table unless --sigma-b2 is given.
PHASE_SIGMA_B2 = (0.0, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0)
#: Grid points per axis unless --grid is given.
PHASE_GRID = 41


def critical_sigma_w2(act: ActLike, sigma_b2) -> Array:
    """The sigma_w2 with chi1(sigma_w2, sigma_b2) = 1, for each sigma_b2 (nan if none below SIGMA_W2_MAX).

    Scanned upwards from 0.5 / sup f'^2 (where chi1 <= 0.5 for sure) by factors of 1.2 to the first sigma_w2 with
    chi1 > 1, then solved by `solve_bracketed`: a true change of sign of chi1 - 1, never a touch. chi1 need not be
    monotone in sigma_w2 (elu at sigma_b2 = 0 crosses 1 at 1, stays above, and touches 1 again at 2 where
    q* = inf): the smallest crossing is the one reported. Nor continuous: where the stable fixed point meets the
    unstable one and disappears (a saddle-node, swish at sigma_b2 = 0.5 near 2.0019), q* jumps to a larger root
    or to inf and chi1 jumps with it; when the jump takes chi1 across 1 that point is reported (see `saddle_nodes`).
    """
    act = as_activation(act)
    b2 = np.atleast_1d(np.asarray(sigma_b2, dtype=float)).ravel()
    _check(0.0, b2)

    def below_one(w2, index):
        """1 - chi1: > 0 on the vanishing side."""
        return 1.0 - chi1s(act, w2, b2[index])[0]

    start = np.full(b2.size, 0.5 / peak(act).value ** 2)
    g_start = below_one(start, np.arange(b2.size))
    near, far, g_near, g_far, reached = _search(below_one, start, g_start, lambda g: g >= 0, True, SIGMA_W2_MAX,
                                                factor=1.2, accelerate=False)
    root = np.full(b2.size, np.nan)
    solve = np.flatnonzero(~reached)
    if solve.size:
        root[solve] = solve_bracketed(lambda w2, i: below_one(w2, solve[i]), near[solve], far[solve],
                                      g_near[solve], g_far[solve], rtol=1e-13)
    return root


def saddle_nodes(act: ActLike, sigma_w2, sigma_b2, rel: float = 1e-9) -> tuple[Array, Array, Array]:
    """(jump, chi1 left, chi1 right) at each (sigma_w2, sigma_b2): whether chi1 jumps between sigma_w2 (1 -+ rel).

    A jump (chi1 changing by more than 1e-6 over 2 rel relative in sigma_w2) marks a saddle-node: the stable fixed
    point reached from q0 = 1 merges with an unstable one and disappears, and the iteration runs on to a larger
    root or diverges. (A q* that grows continuously to inf, relu at sigma_w2 = 2, is no jump: chi1 is continuous.)
    Points where sigma_w2 is nan give False and nan.
    """
    act = as_activation(act)
    w2 = np.nan_to_num(np.asarray(sigma_w2, dtype=float))
    left = chi1s(act, w2 * (1 - rel), sigma_b2)[0]
    right = chi1s(act, w2 * (1 + rel), sigma_b2)[0]
    nan = ~np.isfinite(sigma_w2)
    return (np.abs(right - left) > 1e-6) & ~nan, np.where(nan, np.nan, left), np.where(nan, np.nan, right)


def critical_kinds(act: ActLike, sigma_w2, sigma_b2) -> tuple[Array, Array, Array, Array]:
    """(kind, chi1 left, chi1 right, q*) at critical points: "crossing" where chi1 is continuous, else "saddle-node"
    (L'(q*) = 1: the stable root meets the unstable one) or "basin edge" (the unstable root passes q0 = 1);
    "none" where sigma_w2 is nan. q* is the stable root just left of a jump."""
    act = as_activation(act)
    w2 = np.asarray(sigma_w2, dtype=float)
    jump, chi_left, chi_right = saddle_nodes(act, w2, sigma_b2)
    w2_left = np.nan_to_num(w2) * np.where(jump, 1 - 1e-9, 1.0)
    q = np.where(np.isnan(w2), np.nan, fixed_points(act, w2_left, sigma_b2))
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (length_maps(act, q * (1 + 1e-5), w2_left, sigma_b2)
                 - length_maps(act, q * (1 - 1e-5), w2_left, sigma_b2)) / (2e-5 * q)
    kind = np.where(np.isnan(w2), "none", np.where(~jump, "crossing", np.where(
        np.abs(np.nan_to_num(slope) - 1) < 1e-2, "saddle-node", "basin edge")))
    return kind, chi_left, chi_right, q


@dataclass(frozen=True)
class InitPoint:
    """One initialisation on the sigma_b2 = 0 axis of the phase diagram."""

    init: str
    sigma_w2: float
    q_star: float
    chi1: float
    depth_scale: float
    regime: str


@dataclass(frozen=True)
class PhaseResult:
    """chi1 over a sigma_w2 x sigma_b2 grid, the critical line chi1 = 1, and where the usual inits sit."""

    activation: str
    alpha: float | None
    sigma_w2: Array  # grid axis, shape (n_w,)
    sigma_b2: Array  # grid axis, shape (n_b,)
    chi1: Array  # shape (n_b, n_w)
    q_star: Array  # shape (n_b, n_w)
    critical_b2: Array  # the table's sigma_b2 values
    critical_w2: Array  # critical sigma_w2 at each (nan: none below SIGMA_W2_MAX)
    critical_q: Array  # q* at each critical point
    line_b2: Array  # 21 points over the sigma_b2 axis, the table's values, and 9 near 0 where the line is steep
    line_w2: Array  # critical sigma_w2 at each line_b2 (the line the plot draws)
    inits: list[InitPoint]
    critical_kind: Array | None = None  # "crossing" (chi1 continuous), "saddle-node" or "basin edge" (chi1 jumps)
    critical_chi1_left: Array | None = None  # chi1 just left and just right of each critical point
    critical_chi1_right: Array | None = None


def _variance_list(values: str | Sequence[float] | None, default: Sequence[float], option: str) -> Array:
    """A comma list (or sequence) of numbers in [0, SIGMA_W2_MAX]."""
    if values is None:
        return np.array(default, dtype=float)
    out = activations.parse_points(values, option)
    if np.any(out < 0) or np.any(out > SIGMA_W2_MAX):
        raise GradsimError(f"every value must be >= 0 and <= {SIGMA_W2_MAX:g}", option=option)
    return out


def _check_max(value: float | None, option: str) -> None:
    """An axis end: a number in (0, SIGMA_W2_MAX] (beyond it q* passes Q_MAX and counts as infinite)."""
    if value is not None and not (math.isfinite(value) and 0 < value <= SIGMA_W2_MAX):
        raise GradsimError(f"give a number > 0 and <= {SIGMA_W2_MAX:g}, got {value}", option=option)


def phase(act: str = "tanh", alpha: float | None = None, sigma_b2: str | Sequence[float] | None = None,
          grid: int = PHASE_GRID, sigma_w2_max: float | None = None, sigma_b2_max: float | None = None,
          progress: Callable[[int, int], None] | None = None) -> PhaseResult:
    """chi1 = sigma_w2 E[f'(sqrt(q*) z)^2] on a grid, and the critical sigma_w2 (chi1 = 1) at each sigma_b2.

    The grid's sigma_w2 axis runs to sigma_w2_max (default: 1.5 x the largest critical sigma_w2, at least 4),
    its sigma_b2 axis from 0 to sigma_b2_max (default: the largest table value, or 1).
    `progress(done, total)` is called after the critical table, each grid row, and the critical line.
    """
    tick = progress or (lambda done, total: None)
    activation = activations.get(act, alpha)
    table_b2 = _variance_list(sigma_b2, PHASE_SIGMA_B2, "--sigma-b2")
    _check_max(sigma_w2_max, "--sigma-w2-max")
    _check_max(sigma_b2_max, "--sigma-b2-max")
    if not 2 <= grid <= 400:
        raise GradsimError(f"the grid needs 2 to 400 points per axis, got {grid}", option="--grid")
    total = grid + 2
    critical_w2 = critical_sigma_w2(activation, table_b2)
    kind, chi_left, chi_right, critical_q = critical_kinds(activation, critical_w2, table_b2)
    tick(1, total)
    if sigma_w2_max is None:
        finite = critical_w2[np.isfinite(critical_w2)]
        sigma_w2_max = float(max(4.0, math.ceil(1.5 * finite.max()) if finite.size else 4.0))
    if sigma_b2_max is None:
        sigma_b2_max = float(table_b2.max()) if table_b2.max() > 0 else 1.0
    w2_axis = np.linspace(sigma_w2_max / grid, sigma_w2_max, grid)
    b2_axis = np.linspace(0.0, sigma_b2_max, grid)
    chi, q = np.empty((grid, grid)), np.empty((grid, grid))
    for row, b2 in enumerate(b2_axis):
        chi[row], q[row] = chi1s(activation, w2_axis, b2)
        tick(row + 2, total)
    inits = []
    for name in INITS:
        w2 = init_sigma_w2(name, activation)
        c, q0 = (float(v) for v in chi1s(activation, w2, 0.0))
        inits.append(InitPoint(name, w2, q0, c, depth_scale(c), regime(c)))
    line_b2 = np.unique(np.concatenate([np.linspace(0.0, sigma_b2_max, 21), table_b2[table_b2 <= sigma_b2_max],
                                        sigma_b2_max * np.geomspace(1e-4, 0.05, 9)]))
    line_w2 = critical_sigma_w2(activation, line_b2)
    tick(total, total)
    return PhaseResult(activation.name, activation.alpha, w2_axis, b2_axis, chi, q, table_b2, critical_w2,
                       critical_q, line_b2, line_w2, inits, kind, chi_left, chi_right)

