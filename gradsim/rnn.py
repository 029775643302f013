"""Recurrent nets through time: backpropagation through time (BPTT) in log space, and an LSTM cell's carousel.

one unit:  z_t = w h_(t-1) + u x_t + b,  h_t = f(z_t)      (Nielsen's chain with one weight shared by every layer)
N units:   z_t = W h_(t-1) + U x_t + b,  h_t = f(z_t)
BPTT:      dC/dh_(t-1) = J_t^T dC/dh_t (+ h_(t-1) - y with cost every),  J_t = diag f'(z_t) W
           dC/dW from step t = (f'(z_t) * dC/dh_t) h_(t-1)^T
C = ||h_T - y||^2 / 2 (cost last) or the sum of ||h_t - y||^2 / 2 over every step (cost every).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from . import activations, chain, clipping
from .activations import Activation
from .errors import GradsimError

LN10 = math.log(10.0)
MAX_STEPS = 100_000
MAX_UNITS = 256
#: steps x units^3 (one SVD per step for the Jacobian norms) above which a vector run is refused.
MAX_WORK = 3e9
#: |w|, |u|, |b|, |h0|, the forget bias and the target stay within this.
MAX_PARAM = 1e6
MAX_RADIUS = 1e3
#: ln|z| above which a state is carried by sign and log magnitude (f from its asymptote).
LN_BIG = 650.0
INPUTS = ("const:V", "pulse", "noise")
CELLS = ("rnn", "lstm")
COSTS = ("last", "every")
INITS = ("gaussian", "orthogonal")

#: Defaults of each mode: the plain run shows sigmoid vanishing (|w| < 4); the LSTM is set beside a tanh RNN.
DEFAULTS = dict(act="sigmoid", weight=3.0, input_weight=1.0, bias=0.0, h0=0.0, steps=50, input="pulse", units=1,
                radius=1.0, init="gaussian", cell="rnn", forget_bias=1.0, gate_weight=0.0, cost="last", target=0.0)
LSTM_DEFAULTS = dict(act="tanh", weight=0.9, steps=100)


# ---------------------------------------------------------------- inputs and weights
def inputs(spec: str, steps: int, rng: np.random.Generator) -> np.ndarray:
    """x_1..x_T: const:V (every x_t = V), pulse (x_1 = 1, then 0) or noise (N(0,1) from the seed)."""
    text = spec.strip().lower()
    if text == "pulse":
        x = np.zeros(steps)
        x[0] = 1.0
        return x
    if text == "noise":
        return rng.standard_normal(steps)
    kind, _, value = text.partition(":")
    if kind == "const" and value:
        try:
            v = float(value)
        except ValueError:
            v = math.nan
        if math.isfinite(v) and abs(v) <= MAX_PARAM:
            return np.full(steps, v)
    raise GradsimError(f"{spec!r} is not an input; use const:V (|V| <= {MAX_PARAM:g}), pulse or noise",
                       option="--input")


def recurrent_matrix(units: int, radius: float, init: str, rng: np.random.Generator) -> np.ndarray:
    """W with spectral radius `radius`: N(0, 1/N) rescaled, or orthogonal (QR of a Gaussian) times the radius."""
    g = rng.standard_normal((units, units))
    if init == "orthogonal":
        q, r = np.linalg.qr(g)
        return radius * q * np.sign(np.diag(r))
    w = g / math.sqrt(units)
    return w * (radius / float(np.max(np.abs(np.linalg.eigvals(w)))))


# ---------------------------------------------------------------- BPTT in log space
@dataclass(frozen=True)
class Backward:
    """dC/dh_t = e^(ln_norm_t) unit_t for t = 1..T (unit_t a unit vector, or 0 where the gradient is exactly 0)."""

    ln_norm: np.ndarray  # (T,)
    unit: np.ndarray  # (T, n)


def _unit(v: np.ndarray) -> tuple[float, np.ndarray]:
    """(ln||v||, v / ||v||), with (-inf, 0) for a zero vector."""
    top = float(np.max(np.abs(v)))
    if top == 0 or not math.isfinite(top):
        return -math.inf, np.zeros_like(v)
    v = v / top
    n = float(np.linalg.norm(v))
    return math.log(top) + math.log(n), v / n


def _add(a: tuple[float, np.ndarray], b: tuple[float, np.ndarray]) -> tuple[float, np.ndarray]:
    """e^la ua + e^lb ub, as (ln norm, unit vector)."""
    (la, ua), (lb, ub) = a, b
    if lb == -math.inf:
        return a
    if la == -math.inf:
        return b
    top = max(la, lb)
    ln, u = _unit(math.exp(la - top) * ua + math.exp(lb - top) * ub)
    return top + ln, u


def bptt(steps: int, pullback: Callable[[int, np.ndarray], tuple[float, np.ndarray]],
         error: Callable[[int], tuple[float, np.ndarray]], every: bool) -> Backward:
    """g_T = e_T; g_(t-1) = J_t^T g_t (+ e_(t-1) if every), each g as ln norm and unit vector (no under/overflow).

    pullback(t, u) = (ln k, p) with J_t^T u = e^(ln k) p; error(t) = (ln||h_t - y||, unit vector); t is 0-based.
    """
    n = error(steps - 1)[1].size
    ln_norm, unit = np.empty(steps), np.empty((steps, n))
    g = error(steps - 1)
    for t in range(steps - 1, -1, -1):
        ln_norm[t], unit[t] = g
        if t == 0:
            break
        if g[0] == -math.inf:
            g = (-math.inf, np.zeros(n))
        else:
            ln_k, p = pullback(t, g[1])
            ln_p, u = _unit(p)
            g = (g[0] + ln_k + ln_p, u)
        if every:
            g = _add(g, error(t - 1))
    return Backward(ln_norm, unit)


def _regime(log10_grad: np.ndarray) -> tuple[str, float | None, float | None]:
    """As `vanish` per layer: vanishing if |dC/dh_1| < |dC/dh_T| / 10, exploding if > 10 |dC/dh_T|."""
    name, ratio, _ = chain.regime(log10_grad)
    per_step = None if ratio is None or len(log10_grad) < 2 else ratio / (len(log10_grad) - 1)
    return name, ratio, per_step


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


def vector_forward(act: Activation, w: np.ndarray, c: np.ndarray, h0: np.ndarray) -> VectorForward:
    """z_t = W h_(t-1) + c_t, h_t = f(z_t); h_t = e^s v_t with max|v_t| = 1 once |h_t| > 1."""
    steps, units = c.shape
    sign_h, ln_h = np.empty((steps + 1, units)), np.empty((steps + 1, units))
    z_all = np.empty((steps, units))
    s, v = 0.0, h0.astype(float)
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        sign_h[0], ln_h[0] = np.sign(h0), np.log(np.abs(h0))
        for t in range(steps):
            a = w @ v
            ln_wh = s + np.log(np.abs(a))
            small = ln_wh < LN_BIG
            z = np.where(small, np.sign(a) * np.exp(np.minimum(ln_wh, LN_BIG)) + c[t], np.sign(a) * np.inf)
            h = act.f(z)
            sh, lh = np.sign(h), np.log(np.abs(h))
            if not small.all():
                big = ~small
                sh[big], lh[big] = _big_f(act, np.sign(a[big]), ln_wh[big])
            z_all[t], sign_h[t + 1], ln_h[t + 1] = z, sh, lh
            s = max(float(np.max(lh)), 0.0)
            v = sh * np.exp(lh - s)
    dact, ln_dact = chain.dact_and_log(act, z_all.ravel())
    return VectorForward(sign_h, ln_h, np.sign(dact).reshape(steps, units), ln_dact.reshape(steps, units))


def _state_error(sign_h: np.ndarray, ln_h: np.ndarray, target: float) -> tuple[float, np.ndarray]:
    """h - y as (ln norm, unit vector); y is negligible beside a state beyond float64."""
    top = float(np.max(ln_h))
    if top < LN_BIG:
        with np.errstate(under="ignore"):
            return _unit(sign_h * np.exp(ln_h) - target)
    with np.errstate(under="ignore"):
        ln, u = _unit(sign_h * np.exp(ln_h - top))
    return top + ln, u


# ---------------------------------------------------------------- results
@dataclass(frozen=True)
class Bounds:
    """The textbook conditions beside the measurement (gamma = max |f'|)."""

    gamma: float
    largest_singular_value: float  # |w| for one unit
    spectral_radius: float
    vanishing_guaranteed: bool  # sigma_max < 1/gamma (Hochreiter 1991, Bengio et al. 1994, Pascanu et al. 2013)
    exploding_possible: bool  # sigma_max > 1/gamma is necessary for exploding (Pascanu et al. 2013)


@dataclass(frozen=True)
class RnnResult:
    """One forward and backward pass through time (and, for the LSTM, the vanilla RNN beside it)."""

    activation: str
    alpha: float | None
    cell: str
    units: int
    steps: int
    input: str
    cost: str
    target: float
    seed: int | None
    weight: float  # the scalar w (of the RNN beside the LSTM); nan for N units
    input_weight: float
    bias: float
    h0: float
    radius: float | None
    init: str | None
    forget_bias: float | None
    x: np.ndarray  # (T,)
    h: np.ndarray  # (T,) h_t for one unit, ||h_t|| for N units (inf beyond float64)
    log10_h: np.ndarray  # log10 |h_t| or log10 ||h_t||
    factor: np.ndarray | None  # one unit: w f'(z_t); LSTM: the forget gate f_t
    log10_factor: np.ndarray  # log10 of |factor| or of the Jacobian norm ||diag f'(z_t) W||_2
    log10_grad_h: np.ndarray  # log10 ||dC/dh_t||, finite at any T
    sign_grad_h: np.ndarray | None  # one unit only
    log10_grad_w: np.ndarray  # log10 ||dC/dW|| from step t (LSTM: dC/dc_t)
    grad_w_total: float | None  # one unit: dC/dw summed over t (None beyond float64)
    grad_b_total: float | None
    regime: str
    log10_ratio: float | None
    log10_factor_per_step: float | None
    bounds: Bounds | None
    why: str
    lstm: "LstmParts | None" = None
    surface: object | None = None
    training: object | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LstmParts:
    """The LSTM's cell state, its carousel and the vanilla RNN beside it."""

    c: np.ndarray
    forget: np.ndarray
    log10_carousel: np.ndarray  # log10 prod_(k>t) f_k: dc_T/dc_t along the cell state alone
    log10_grad_c: np.ndarray  # log10 |dC/dc_t|
    vanilla_log10_product: np.ndarray  # log10 prod_(k>t) |w f'(z_k)| of the vanilla RNN
    vanilla_log10_grad_h: np.ndarray


def _signed_sum_log10(sign: np.ndarray, ln: np.ndarray) -> float | None:
    """sum sign_t e^(ln_t) as a float (None if beyond float64)."""
    finite = np.isfinite(ln)
    if not finite.any():
        return 0.0
    top = float(np.max(ln[finite]))
    with np.errstate(under="ignore"):
        s = float(np.sum(sign[finite] * np.exp(ln[finite] - top)))
    if top + math.log(abs(s) or 1.0) > 700:
        return None
    return s * math.exp(top)


def _why_scalar(act: Activation, w: float, b: Bounds, name: str) -> str:
    peak = b.gamma
    if name == "vanishing" and b.vanishing_guaranteed:
        return (f"every factor |w f'(z_t)| <= |w| max|f'| = {abs(w):g} x {peak:.4g} < 1,\n"
                "so the gradient shrinks at every step.")
    if name == "exploding":
        return (f"|w| = {abs(w):g} > 1/max|f'| = {1 / peak:.4g}, and the states stay where |w f'(z_t)| > 1.")
    if not b.vanishing_guaranteed:
        return (f"|w| = {abs(w):g} > 1/max|f'| = {1 / peak:.4g}, so exploding is possible,\n"
                "but the states sit where |w f'(z_t)| is small (f' shrinks away from its peak).")
    return "the factors |w f'(z_t)| multiply to within a factor of 10 of 1 over the run."


def _why_vector(b: Bounds, name: str) -> str:
    if b.vanishing_guaranteed:
        return "every ||J_t|| <= sigma_max(W) max|f'| < 1, so the gradient shrinks at every step."
    return (f"sigma_max(W) max|f'| = {b.largest_singular_value * b.gamma:.4g} >= 1 allows growth;\n"
            f"the product of the Jacobians measured here is {name}.")


# ---------------------------------------------------------------- the runs
def _bounds(act: Activation, w: np.ndarray) -> Bounds:
    gamma = activations.peak_dact(act).value
    sigma = float(np.linalg.norm(w, 2))
    radius = float(np.max(np.abs(np.linalg.eigvals(w))))
    return Bounds(gamma, sigma, radius, sigma * gamma < 1, sigma * gamma > 1)


def _jacobian_log10_norms(w: np.ndarray, fw: VectorForward) -> np.ndarray:
    """log10 ||diag f'(z_t) W||_2 per step (batched SVD; f' rescaled by its largest magnitude per step)."""
    top = np.max(fw.ln_dact, axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(under="ignore"):
        d = fw.sign_dact * np.exp(fw.ln_dact - safe[:, None])
    out = np.empty(len(top))
    for lo in range(0, len(top), 512):
        j = d[lo:lo + 512, :, None] * w[None]
        out[lo:lo + 512] = np.linalg.svd(j, compute_uv=False)[:, 0]
    with np.errstate(divide="ignore"):
        return np.where(np.isfinite(top), (np.log(out) + top) / LN10, -np.inf)


def _scaled_dact(fw: VectorForward) -> tuple[np.ndarray, np.ndarray]:
    """f'(z_t) / e^(top_t) and top_t = ln max|f'(z_t)| per step (0 where every f' is 0): no underflow."""
    top = np.max(fw.ln_dact, axis=1)
    with np.errstate(under="ignore", invalid="ignore"):
        d = np.where(np.isfinite(top)[:, None], fw.sign_dact * np.exp(fw.ln_dact - top[:, None]), 0.0)
    return d, top


def _recurrent_backward(w: np.ndarray, fw: VectorForward, target: float, every: bool) -> Backward:
    """BPTT through J_t = diag f'(z_t) W (f' scaled per step so that it never underflows)."""
    steps = fw.ln_dact.shape[0]
    d, top = _scaled_dact(fw)

    def pullback(t: int, u: np.ndarray) -> tuple[float, np.ndarray]:
        return float(top[t]), w.T @ (d[t] * u)

    def error(t: int) -> tuple[float, np.ndarray]:
        return _state_error(fw.sign_h[t + 1], fw.ln_h[t + 1], target)

    return bptt(steps, pullback, error, every)


def _scalar_backward(w: float, fw: VectorForward, target: float) -> Backward:
    """One unit, cost last: dC/dh_t = (h_T - y) prod_(k>t) w f'(z_k), the product as a sum of logs (vectorised)."""
    ln_e, u = _state_error(fw.sign_h[-1], fw.ln_h[-1], target)
    with np.errstate(divide="ignore"):
        ln_gain = math.log(abs(w)) + fw.ln_dact[:, 0] if w else np.full(len(fw.ln_dact), -np.inf)
    sign_gain = np.sign(w) * fw.sign_dact[:, 0]
    ln_g = ln_e + chain._suffix_sum(ln_gain)
    sign = u[0] * chain._suffix_product(sign_gain)
    return Backward(np.where(sign == 0, -np.inf, ln_g), sign[:, None])


def _ln_grad_z(fw: VectorForward, g: Backward) -> np.ndarray:
    """ln ||dC/dz_t|| = ln ||f'(z_t) * dC/dh_t||."""
    d, top = _scaled_dact(fw)
    with np.errstate(divide="ignore"):
        return g.ln_norm + np.where(np.isfinite(top), top, -np.inf) + np.log(np.linalg.norm(d * g.unit, axis=1))


def scalar_forward(act: Activation, w: float, c: np.ndarray, h_init: float) -> VectorForward:
    """One unit: the chain's forward pass with w_t = w and b_t = u x_t + b (math on floats, sign and ln|.|)."""
    fw = chain.forward(act, np.full(len(c), w), c, h_init)
    dact, ln_dact = chain.dact_and_log(act, fw.z)
    return VectorForward(fw.sign_a[:, None], fw.ln_abs_a[:, None], np.sign(dact)[:, None], ln_dact[:, None])


def _norm_ln(sign: np.ndarray, ln: np.ndarray) -> np.ndarray:
    """ln ||row|| for rows given as sign and ln|.|."""
    top = np.max(ln, axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(under="ignore", divide="ignore"):
        return safe + 0.5 * np.log(np.sum(np.where(sign != 0, np.exp(2 * (ln - safe[:, None])), 0.0), axis=1)) \
            + np.where(np.isfinite(top), 0.0, -np.inf)


def run_recurrent(act: Activation, w: np.ndarray, u: np.ndarray, b: np.ndarray, h_init: np.ndarray, x: np.ndarray,
                  target: float = 0.0, cost: str = "last", **labels) -> RnnResult:
    """Forward and BPTT through z_t = W h_(t-1) + U x_t + b; one unit when W is 1x1."""
    units = w.shape[0]
    c = np.outer(x, u) + b
    if units == 1:
        fw = scalar_forward(act, float(w[0, 0]), c[:, 0], float(h_init[0]))
        last = _scalar_backward(float(w[0, 0]), fw, target)
    else:
        fw = vector_forward(act, w, c, h_init)
        last = _recurrent_backward(w, fw, target, False)
    g = last if cost == "last" else _recurrent_backward(w, fw, target, True)
    ln_dz = _ln_grad_z(fw, g)
    log10_grad_h = g.ln_norm / LN10
    name, ratio, per_step = _regime(last.ln_norm / LN10)
    ln_h = _norm_ln(fw.sign_h, fw.ln_h)
    with np.errstate(over="ignore", divide="ignore"):
        h_shown = np.exp(ln_h[1:]) if units > 1 else fw.sign_h[1:, 0] * np.exp(fw.ln_h[1:, 0])
    bounds = _bounds(act, w)
    log10_grad_w = (ln_dz + ln_h[:-1]) / LN10
    scalar = dict(factor=None, sign_grad_h=None, grad_w_total=None, grad_b_total=None)
    if units == 1:
        with np.errstate(over="ignore", under="ignore"):
            factor = w[0, 0] * fw.sign_dact[:, 0] * np.exp(fw.ln_dact[:, 0])
            log10_factor = (math.log(abs(w[0, 0])) + fw.ln_dact[:, 0]) / LN10 if w[0, 0] else np.full(len(x), -np.inf)
        sign_dz = np.sign(g.unit[:, 0]) * fw.sign_dact[:, 0]
        scalar = dict(factor=factor, sign_grad_h=np.sign(g.unit[:, 0]),
                      grad_w_total=_signed_sum_log10(sign_dz * fw.sign_h[:-1, 0], ln_dz + fw.ln_h[:-1, 0]),
                      grad_b_total=_signed_sum_log10(sign_dz, ln_dz))
        why = _why_scalar(act, float(w[0, 0]), bounds, name)
    else:
        log10_factor = _jacobian_log10_norms(w, fw)
        why = _why_vector(bounds, name)
    with np.errstate(over="ignore"):
        return RnnResult(activation=act.name, alpha=act.alpha, units=units, steps=len(x), x=x, h=h_shown,
                         log10_h=(ln_h[1:] if units > 1 else fw.ln_h[1:, 0]) / LN10, log10_factor=log10_factor,
                         log10_grad_h=log10_grad_h, log10_grad_w=log10_grad_w, regime=name, log10_ratio=ratio,
                         log10_factor_per_step=per_step, bounds=bounds, why=why, cost=cost, target=target,
                         **scalar, **labels)


# ---------------------------------------------------------------- the LSTM cell
@dataclass(frozen=True)
class LstmForward:
    """Gates and states of one LSTM cell over T steps (index t-1 for step t; c[0], h[0] are the start)."""

    i: np.ndarray
    f: np.ndarray
    o: np.ndarray
    g: np.ndarray
    c: np.ndarray  # (T+1,)
    h: np.ndarray
    ln_f: np.ndarray  # ln f_t = ln sigma(z_f), exact where f_t rounds to 1


def lstm_forward(w: float, u: float, b: float, forget_bias: float, x: np.ndarray, h0: float = 0.0,
                 c0: float = 0.0) -> LstmForward:
    """i, f, o = sigma(w h + u x + b_gate), g = tanh(w h + u x + b), c_t = f c + i g, h_t = o tanh(c_t).

    Every gate has the recurrent weight w and input weight u; the forget gate's bias is `forget_bias`.
    """
    steps = len(x)
    i, f, o, g = (np.empty(steps) for _ in range(4))
    zf = np.empty(steps)
    c, h = np.empty(steps + 1), np.empty(steps + 1)
    c[0], h[0] = c0, h0
    sig = activations.sigmoid1
    for t in range(steps):
        pre = w * h[t] + u * x[t]
        zf[t] = pre + forget_bias
        i[t], f[t], o[t], g[t] = sig(pre + b), sig(zf[t]), sig(pre + b), math.tanh(pre + b)
        c[t + 1] = f[t] * c[t] + i[t] * g[t]
        h[t + 1] = o[t] * math.tanh(c[t + 1])
    return LstmForward(i, f, o, g, c, h, activations.log_sigmoid(zf))


def lstm_backward(w: float, fw: LstmForward, target: float, every: bool) -> Backward:
    """BPTT for (dC/dc_t, dC/dh_t), the totals autograd gives; C = (h - y)^2 / 2 on the last or every step.

    dC/dh_(t-1) = e_(t-1) + w (A_t dC/dc_t + B_t dC/dh_t),  A_t = g i' + i g' + c_(t-1) f',  B_t = tanh(c_t) o'
    dC/dc_(t-1) = f_t dC/dc_t + o_(t-1) tanh'(c_(t-1)) dC/dh_(t-1)   (the carousel is the first term)
    """
    i, f, o, g, c = fw.i, fw.f, fw.o, fw.g, fw.c
    a = g * i * (1 - i) + i * (1 - g * g) + c[:-1] * f * (1 - f)
    bh = np.tanh(c[1:]) * o * (1 - o)
    k = o * (1 - np.tanh(c[1:]) ** 2)  # dh_t/dc_t

    def pullback(t: int, v: np.ndarray) -> tuple[float, np.ndarray]:
        dh = w * (a[t] * v[0] + bh[t] * v[1])
        return 0.0, np.array([f[t] * v[0] + k[t - 1] * dh, dh])

    def error(t: int) -> tuple[float, np.ndarray]:
        e = fw.h[t + 1] - target
        return _unit(np.array([k[t] * e, e]))

    return bptt(len(f), pullback, error, every)


def _suffix_log10(ln: np.ndarray) -> np.ndarray:
    """log10 prod_(k>t) e^(ln_k) for t = 1..T (1 at t = T)."""
    return chain._suffix_sum(ln) / LN10


def run_lstm(act: Activation, w: float, u: float, b: float, b_forget: float, h_init: float, x: np.ndarray,
             target: float = 0.0, cost: str = "last", gate_weight: float = 0.0, **labels) -> RnnResult:
    """The LSTM cell (recurrent weight `gate_weight` into its gates) with its carousel prod f_t, beside the
    vanilla RNN h_t = f(w h + u x + b)."""
    fw = lstm_forward(gate_weight, u, b, b_forget, x, h_init)
    every = cost == "every"
    g = lstm_backward(gate_weight, fw, target, every)
    last = g if not every else lstm_backward(gate_weight, fw, target, False)
    with np.errstate(divide="ignore"):
        ln_c = g.ln_norm + np.log(np.abs(g.unit[:, 0]))
        ln_h = g.ln_norm + np.log(np.abs(g.unit[:, 1]))
        log10_f = fw.ln_f / LN10
    with np.errstate(divide="ignore"):
        name, ratio, per_step = _regime((last.ln_norm + np.log(np.abs(last.unit[:, 0]))) / LN10)
    vanilla = run_recurrent(act, np.array([[w]]), np.array([u]), np.array([b]), np.array([h_init]), x, target, cost,
                            **{**labels, "cell": "rnn", "weight": w, "radius": None, "init": None, "forget_bias": None})
    parts = LstmParts(fw.c[1:], fw.f, _suffix_log10(fw.ln_f), ln_c / LN10,
                      _suffix_log10(vanilla.log10_factor * LN10), vanilla.log10_grad_h)
    carousel = float(parts.log10_carousel[0])
    why = (f"along the cell state the gradient meets the forget gates only: prod f_t = 10^({carousel:.3g})\n"
           f"from step 1 to {len(x)}, the constant error carousel (Hochreiter & Schmidhuber 1997) when f_t = 1;\n"
           f"the {act.name} RNN's prod |w f'(z_t)| is 10^({float(parts.vanilla_log10_product[0]):.4g}).")
    with np.errstate(divide="ignore"):
        return RnnResult(activation=act.name, alpha=act.alpha, units=1, steps=len(x), x=x, h=fw.h[1:],
                         log10_h=np.log10(np.abs(fw.h[1:])), factor=fw.f, log10_factor=log10_f,
                         log10_grad_h=ln_h / LN10, sign_grad_h=np.sign(g.unit[:, 1]), log10_grad_w=ln_c / LN10,
                         grad_w_total=None, grad_b_total=None, regime=name, log10_ratio=ratio,
                         log10_factor_per_step=per_step, bounds=None, why=why, lstm=parts, cost=cost,
                         target=target, extra=dict(gate_weight=gate_weight), **labels)


# ---------------------------------------------------------------- the entry point
def _check_param(value: float, option: str, limit: float = MAX_PARAM) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(value) or abs(value) > limit:
        raise GradsimError(f"give a finite number with |value| <= {limit:g}, got {value}", option=option)
    return float(value)


def _check_choice(value: str, choices: tuple[str, ...], option: str) -> str:
    key = str(value).strip().lower()
    if key not in choices:
        raise GradsimError(f"{value!r} is not one of {', '.join(choices)}", option=option)
    return key


def _check_int(value: int, lo: int, hi: int, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise GradsimError(f"give a whole number from {lo} to {hi:,}, got {value}", option=option)
    return int(value)


def settings(**given) -> dict:
    """The defaults of the mode (LSTM or not) with every option given (not None) on top."""
    s = dict(DEFAULTS)
    if str(given.get("cell") or "rnn").strip().lower() == "lstm":
        s.update(LSTM_DEFAULTS)
    s.update({k: v for k, v in given.items() if v is not None})
    return s


def check(s: dict) -> dict:
    """Every option of a run checked; returns them normalised."""
    out = dict(s)
    for key, option in (("weight", "--weight"), ("input_weight", "--input-weight"), ("bias", "--bias"),
                        ("h0", "--h0"), ("forget_bias", "--forget-bias"), ("gate_weight", "--gate-weight"),
                        ("target", "--target")):
        out[key] = _check_param(s[key], option)
    out["steps"] = _check_int(s["steps"], 1, MAX_STEPS, "--steps")
    out["units"] = _check_int(s["units"], 1, MAX_UNITS, "--units")
    out["radius"] = _check_param(s["radius"], "--radius", MAX_RADIUS)
    if out["radius"] <= 0:
        raise GradsimError(f"the spectral radius must be > 0 and <= {MAX_RADIUS:g}, got {s['radius']}",
                           option="--radius")
    out["cell"] = _check_choice(s["cell"], CELLS, "--cell")
    out["cost"] = _check_choice(s["cost"], COSTS, "--cost")
    out["init"] = _check_choice(s["init"], INITS, "--init")
    if out["cell"] == "lstm" and out["units"] > 1:
        raise GradsimError("the LSTM is a single cell; leave --units at 1", option="--units")
    if out["units"] > 1 and out["steps"] * out["units"] ** 3 > MAX_WORK:
        most = int(MAX_WORK // out["units"] ** 3)
        raise GradsimError(f"{out['units']} units allow at most {most:,} steps (one SVD per step)", option="--steps")
    return out


def as_activation(act: Activation | str | None, alpha: float | None, default: str) -> Activation:
    """The Activation itself, or the one a name stands for."""
    if isinstance(act, Activation):
        return act
    return activations.get(act or default, alpha)


SURFACE_DEFAULTS = dict(weight=6.0, bias=-3.2, input="const:0", target=0.7, lr=1.0, epochs=30,
                        clip_threshold=0.5, clip_mode="norm")
TRAIN_DEFAULTS = dict(act="tanh", units=8, steps=20, radius=1.0, lr=0.1, epochs=30, clip_threshold=1.0, clip_mode="all")


def _surface_only(surface: bool, **given) -> None:
    for key, value in given.items():
        if value is not None and not surface:
            raise GradsimError("it shapes the grid of --surface; give --surface", option="--" + key.replace("_", "-"))


def _mode_settings(surface: bool, train: bool, given: dict) -> dict:
    """The defaults of the mode with every option given on top."""
    if surface and train:
        raise GradsimError("choose one of --surface and --train", option="--train")
    extra = SURFACE_DEFAULTS if surface else TRAIN_DEFAULTS if train else {}
    s = settings(**{**extra, **{k: v for k, v in given.items() if v is not None}})
    if surface or train:
        flag = "--surface" if surface else "--train"
        if s["cell"] != "rnn":
            raise GradsimError(f"{flag} runs the plain RNN; leave out --cell lstm", option="--cell")
        if surface and s["units"] != 1:
            raise GradsimError("the surface is of the one-unit RNN; leave --units at 1", option="--units")
    else:
        for key in ("lr", "epochs", "clip_mode", "clip_threshold"):
            if given.get(key) is not None:
                raise GradsimError("it sets the descent of --surface or the training of --train; give one of them",
                                   option="--" + key.replace("_", "-"))
    return s


def rnn(act: Activation | str | None = None, alpha: float | None = None, weight: float | None = None,
        input_weight: float | None = None, bias: float | None = None, h0: float | None = None,
        steps: int | None = None, input: str | None = None, units: int | None = None, radius: float | None = None,
        init: str | None = None, cell: str | None = None, forget_bias: float | None = None,
        gate_weight: float | None = None, cost: str | None = None, target: float | None = None, seed: int | None = None, surface: bool = False,
        train: bool = False, clip_mode: str | None = None, clip_threshold: float | None = None,
        lr: float | None = None, epochs: int | None = None, w_range=None, b_range=None, grid: int | None = None,
        progress: Callable[[int, int], None] | None = None) -> RnnResult:
    """Gradients through time of a one-unit or N-unit RNN, or of an LSTM cell (see the module docstring).

    Defaults: sigmoid, w = 3, u = 1, b = 0, h0 = 0, T = 50, a pulse at t = 1, C = h_T^2 / 2 (target 0), seed 0;
    cell lstm: gates that see x_t only (gate_weight 0), forget bias 1, T = 100, a tanh RNN with w = 0.9 beside it. `surface`: C(w, b) of the one-unit
    RNN (start w = 6, b = -3.2, y = 0.7) with descent unclipped and clipped; `train`: the memory task.
    """
    given = dict(act=act, weight=weight, input_weight=input_weight, bias=bias, h0=h0, steps=steps, input=input,
                 units=units, radius=radius, init=init, cell=cell, forget_bias=forget_bias, gate_weight=gate_weight, cost=cost,
                 target=target, clip_mode=clip_mode, clip_threshold=clip_threshold, lr=lr, epochs=epochs)
    s = _mode_settings(surface, train, given)
    _surface_only(surface, w_range=w_range, b_range=b_range, grid=grid)
    activation = as_activation(s["act"] if isinstance(act, str) or act is None else act, alpha, s["act"])
    s = check(s)
    seed = 0 if seed is None else seed
    rng = np.random.default_rng(seed)
    labels = dict(cell=s["cell"], input=s["input"], seed=seed, input_weight=s["input_weight"], bias=s["bias"],
                  h0=s["h0"])
    if s["cell"] == "lstm":
        x = inputs(s["input"], s["steps"], rng)
        return run_lstm(activation, s["weight"], s["input_weight"], s["bias"], s["forget_bias"], s["h0"], x,
                        s["target"], s["cost"], s["gate_weight"], weight=s["weight"], radius=None, init=None,
                        forget_bias=s["forget_bias"], **labels)
    n = s["units"]
    if n == 1:
        w, u = np.array([[s["weight"]]]), np.array([s["input_weight"]])
        extra = dict(weight=s["weight"], radius=None, init=None)
    else:  # with --train, the network that training starts from
        w = recurrent_matrix(n, s["radius"], s["init"], rng)
        u = s["input_weight"] * rng.standard_normal(n)
        extra = dict(weight=math.nan, radius=s["radius"], init=s["init"])
    x = inputs(s["input"], s["steps"], rng)
    r = run_recurrent(activation, w, u, np.full(n, s["bias"]), np.full(n, s["h0"]), x, s["target"], s["cost"],
                      forget_bias=None, **extra, **labels)
    if surface:
        from . import rnn_surface

        modes = _clip_modes(s["clip_mode"])
        found = rnn_surface.surface(activation, x, s["input_weight"], s["h0"], s["target"], (s["weight"], s["bias"]),
                                    modes, s["lr"], s["epochs"], s["clip_threshold"], w_range, b_range,
                                    rnn_surface.GRID if grid is None else grid)
        return replace(r, surface=found)
    if train:
        from . import rnn_train

        found = rnn_train.train(activation, w, u, s["steps"], s["bias"], s["h0"], s["lr"], s["epochs"],
                                s["clip_threshold"], _clip_modes(s["clip_mode"]), seed, progress)
        return replace(r, training=found)
    return r


def _clip_modes(mode: str) -> tuple[str, ...]:
    """--clip-mode: one of gradsim clip's modes, or all."""
    key = str(mode).strip().lower()
    if key == "all":
        return clipping.MODES
    if key not in clipping.MODES:
        raise GradsimError(f"unknown mode {mode!r}; choose from {', '.join(clipping.MODES)} or all",
                           option="--clip-mode")
    return (key,)
