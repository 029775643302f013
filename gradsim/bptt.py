"""Backpropagation through time in log space: every gradient as ln-norm and unit vector, states as sign and ln|.|.

g_T = e_T,  g_(t-1) = J_t^T g_t (+ e_(t-1) when every step has a cost);  ||g_t|| = e^(ln_norm_t), exact at any T.
One unit: J_t = w f'(z_t), and the product is a sum of logs (Nielsen's chain with one shared weight).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import activations, chain
from .activations import Activation

LN10 = math.log(10.0)
#: ln|z| above which a state is carried by sign and log magnitude (f from its asymptote).
LN_BIG = 650.0
#: A z of this size stands for a z below float64 (its sign chooses f', e.g. relu'(0+) = 1).
TINY_Z = 1e-300


# ---------------------------------------------------------------- BPTT in log space
@dataclass(frozen=True)
class Backward:
    """dC/dh_t = e^(ln_norm_t) unit_t for t = 1..T (unit_t a unit vector, or 0 where the gradient is exactly 0)."""

    ln_norm: np.ndarray  # (T,)
    unit: np.ndarray  # (T, n)


def unit_vector(v: np.ndarray) -> tuple[float, np.ndarray]:
    """(ln||v||, v / ||v||), with (-inf, 0) for a zero vector."""
    top = float(np.max(np.abs(v)))
    if top == 0 or not math.isfinite(top):
        return -math.inf, np.zeros_like(v)
    v = v / top
    n = float(np.linalg.norm(v))
    return math.log(top) + math.log(n), v / n


def add_scaled(a: tuple[float, np.ndarray], b: tuple[float, np.ndarray]) -> tuple[float, np.ndarray]:
    """e^la ua + e^lb ub, as (ln norm, unit vector)."""
    (la, ua), (lb, ub) = a, b
    if lb == -math.inf:
        return a
    if la == -math.inf:
        return b
    top = max(la, lb)
    ln, u = unit_vector(math.exp(la - top) * ua + math.exp(lb - top) * ub)
    return top + ln, u


def bptt(steps: int, pullback: Callable[[int, np.ndarray], tuple[float, np.ndarray]],
         error: Callable[[int], tuple[float, np.ndarray]], every: bool,
         progress: Callable[[int, int], None] | None = None) -> Backward:
    """g_T = e_T; g_(t-1) = J_t^T g_t (+ e_(t-1) if every), each g as ln norm and unit vector (no under/overflow).

    pullback(t, u) = (ln k, p) with J_t^T u = e^(ln k) p; error(t) = (ln||h_t - y||, unit vector); t is 0-based.
    """
    n = error(steps - 1)[1].size
    ln_norm, unit = np.empty(steps), np.empty((steps, n))
    g = error(steps - 1)
    for t in range(steps - 1, -1, -1):
        if progress is not None and t % 2000 == 0:
            progress(steps - t, steps)
        ln_norm[t], unit[t] = g
        if t == 0:
            break
        if g[0] == -math.inf:
            g = (-math.inf, np.zeros(n))
        else:
            ln_k, p = pullback(t, g[1])
            ln_p, u = unit_vector(p)
            g = (g[0] + ln_k + ln_p, u)
        if every:
            g = add_scaled(g, error(t - 1))
    return Backward(ln_norm, unit)


# ---------------------------------------------------------------- the forward passes
@dataclass(frozen=True)
class VectorForward:
    """States carried as sign and ln|.| (so relu with radius > 1 keeps its size); f'(z) as sign and ln|.|."""

    sign_h: np.ndarray  # (T+1, N), row 0 is h_0
    ln_h: np.ndarray
    sign_dact: np.ndarray  # (T, N)
    ln_dact: np.ndarray


def _big_f(act: Activation, sign: np.ndarray, ln_z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sign and ln|f(z)| for |z| = e^ln_z beyond float64 (f from its asymptote, as the chain does)."""
    pairs = [chain._huge_a(act, float(s), float(lz)) for s, lz in zip(sign, ln_z)]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def _ln_gelu_cdf(z: np.ndarray) -> np.ndarray:
    """ln Phi(z) for z < -8: ln phi(z) + ln of the Mills ratio 1/t - 1/t^3 + 3/t^5 - 15/t^7 + 105/t^9 (t = |z|)."""
    t = np.abs(z)
    mills = 1 / t - 1 / t**3 + 3 / t**5 - 15 / t**7 + 105 / t**9
    return -0.5 * t * t - 0.5 * math.log(2 * math.pi) + np.log(mills)


#: ln|f(z)| in the left tail, where f(z) is below float64 at a finite z (closed forms; sign: + or -).
_TAILS: dict[str, tuple[float, Callable[[np.ndarray], np.ndarray]]] = {
    "sigmoid": (1.0, lambda z: activations.log_sigmoid(z)),
    "softplus": (1.0, lambda z: z + np.log1p(-0.5 * np.exp(z))),  # ln(e^z - e^2z/2 + ...)
    "swish": (-1.0, lambda z: np.log(np.abs(z)) + activations.log_sigmoid(z)),  # z sigma(z)
    "gelu": (-1.0, lambda z: np.log(np.abs(z)) + _ln_gelu_cdf(z)),  # z Phi(z)
    "gelu-tanh": (-1.0, lambda z: np.log(np.abs(z))  # z sigma(2u), 2u = 2 sqrt(2/pi) (z + 0.044715 z^3)
                  + activations.log_sigmoid(2 * activations.GELU_C * (z + activations.GELU_K * z * z * z))),
}


def tail_f(act: Activation, z: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """sign and ln|f(z)| for z < 0 where f(z) underflows to 0 (None if f has no such tail)."""
    if act.name not in _TAILS:
        return None
    sign, ln = _TAILS[act.name]
    with np.errstate(under="ignore", over="ignore"):
        return np.full(z.shape, sign), ln(z)


def signed_dact(act: Activation, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sign f'(z) and ln|f'(z)|; where f'(z) underflows to 0 in f's left tail, the sign of the tail."""
    dact, ln_dact = chain.dact_and_log(act, z)
    sign = np.sign(dact)
    under = (dact == 0) & np.isfinite(ln_dact) & (z < 0)
    if under.any() and act.name in _TAILS:
        sign[under] = _TAILS[act.name][0]  # f -> 0 from that side as z -> -inf, so f' has that sign
    return sign, ln_dact


def vector_forward(act: Activation, w: np.ndarray, c: np.ndarray, h0: np.ndarray) -> VectorForward:
    """z_t = W h_(t-1) + c_t, h_t = f(z_t), with h_t = e^s v_t, max|v_t| = 1: states beyond float64 either way keep
    their size (f from its asymptote above it; f(z) = f'(0) z below it, where f(0) = 0 and c_t = 0)."""
    steps, units = c.shape
    sign_h, ln_h = np.empty((steps + 1, units)), np.empty((steps + 1, units))
    z_all = np.empty((steps, units))
    s, v = 0.0, h0.astype(float)
    through_zero = float(act.f1(0.0)) == 0.0
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        sign_h[0], ln_h[0] = np.sign(h0), np.log(np.abs(h0))
        for t in range(steps):
            a = w @ v
            ln_wh = s + np.log(np.abs(a))
            small = ln_wh < LN_BIG
            z = np.where(small, np.sign(a) * np.exp(np.minimum(ln_wh, LN_BIG)) + c[t], np.sign(a) * np.inf)
            tiny = (ln_wh < -LN_BIG) & (c[t] == 0) & (a != 0)
            z[tiny] = np.sign(a[tiny]) * TINY_Z
            h = act.f(z)
            sh, lh = np.sign(h), np.log(np.abs(h))
            if through_zero and tiny.any():
                d = act.dact(z[tiny])
                sh[tiny], lh[tiny] = np.sign(a[tiny]) * np.sign(d), np.log(np.abs(d)) + ln_wh[tiny]
            under = (h == 0) & (z < 0) & np.isfinite(z)
            if under.any() and (tail := tail_f(act, z[under])) is not None:  # f(z) below float64: its size
                sh[under], lh[under] = tail
            if not small.all():
                big = ~small
                sh[big], lh[big] = _big_f(act, np.sign(a[big]), ln_wh[big])
            z_all[t], sign_h[t + 1], ln_h[t + 1] = z, sh, lh
            top = float(np.max(lh))
            s = top if math.isfinite(top) else 0.0
            v = sh * np.exp(lh - s)
    sign_dact, ln_dact = signed_dact(act, z_all.ravel())
    return VectorForward(sign_h, ln_h, sign_dact.reshape(steps, units), ln_dact.reshape(steps, units))


def state_error(sign_h: np.ndarray, ln_h: np.ndarray, target: float) -> tuple[float, np.ndarray]:
    """h - y as (ln norm, unit vector); y is negligible beside a state beyond float64, and y = 0 keeps a tiny h."""
    top = float(np.max(ln_h))
    if top == -math.inf and target == 0:
        return -math.inf, np.zeros_like(ln_h)
    if top < LN_BIG and (target != 0 or top > -LN_BIG):
        with np.errstate(under="ignore"):
            return unit_vector(sign_h * np.exp(ln_h) - target)
    with np.errstate(under="ignore"):
        ln, u = unit_vector(sign_h * np.exp(ln_h - top))
    return top + ln, u


def scaled_dact(fw: VectorForward) -> tuple[np.ndarray, np.ndarray]:
    """f'(z_t) / e^(top_t) and top_t = ln max|f'(z_t)| per step (0 where every f' is 0): no underflow."""
    top = np.max(fw.ln_dact, axis=1)
    with np.errstate(under="ignore", invalid="ignore"):
        d = np.where(np.isfinite(top)[:, None], fw.sign_dact * np.exp(fw.ln_dact - top[:, None]), 0.0)
    return d, top


def recurrent_backward(w: np.ndarray, fw: VectorForward, target: float, every: bool,
                       progress: Callable[[int, int], None] | None = None) -> Backward:
    """BPTT through J_t = diag f'(z_t) W (f' scaled per step so that it never underflows)."""
    steps = fw.ln_dact.shape[0]
    d, top = scaled_dact(fw)

    def pullback(t: int, u: np.ndarray) -> tuple[float, np.ndarray]:
        return float(top[t]), w.T @ (d[t] * u)

    def error(t: int) -> tuple[float, np.ndarray]:
        return state_error(fw.sign_h[t + 1], fw.ln_h[t + 1], target)

    return bptt(steps, pullback, error, every, progress)


def scalar_backward(w: float, fw: VectorForward, target: float) -> Backward:
    """One unit, cost last: dC/dh_t = (h_T - y) prod_(k>t) w f'(z_k), the product as a sum of logs (vectorised)."""
    ln_e, u = state_error(fw.sign_h[-1], fw.ln_h[-1], target)
    with np.errstate(divide="ignore"):
        ln_gain = math.log(abs(w)) + fw.ln_dact[:, 0] if w else np.full(len(fw.ln_dact), -np.inf)
    sign_gain = np.sign(w) * fw.sign_dact[:, 0]
    ln_g = ln_e + chain._suffix_sum(ln_gain)
    sign = u[0] * chain._suffix_product(sign_gain)
    return Backward(np.where(sign == 0, -np.inf, ln_g), sign[:, None])


def ln_grad_z(fw: VectorForward, g: Backward) -> np.ndarray:
    """ln ||dC/dz_t|| = ln ||f'(z_t) * dC/dh_t||."""
    d, top = scaled_dact(fw)
    with np.errstate(divide="ignore"):
        return g.ln_norm + np.where(np.isfinite(top), top, -np.inf) + np.log(np.linalg.norm(d * g.unit, axis=1))


def scalar_forward(act: Activation, w: float, c: np.ndarray, h_init: float) -> VectorForward:
    """One unit: the chain's forward pass with w_t = w and b_t = u x_t + b (math on floats, sign and ln|.|)."""
    fw = chain.forward(act, np.full(len(c), w), c, h_init)
    sign_dact, ln_dact = signed_dact(act, fw.z)
    return VectorForward(fw.sign_a[:, None], fw.ln_abs_a[:, None], sign_dact[:, None], ln_dact[:, None])


def ln_row_norms(sign: np.ndarray, ln: np.ndarray) -> np.ndarray:
    """ln ||row|| for rows given as sign and ln|.|."""
    top = np.max(ln, axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(under="ignore", divide="ignore"):
        return safe + 0.5 * np.log(np.sum(np.where(sign != 0, np.exp(2 * (ln - safe[:, None])), 0.0), axis=1)) \
            + np.where(np.isfinite(top), 0.0, -np.inf)
