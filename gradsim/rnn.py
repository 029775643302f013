"""Recurrent nets through time: one unit or N units, the textbook bounds beside the measurement, and the entry point.

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
from .bptt import (LN10, VectorForward, ln_grad_z, ln_row_norms, recurrent_backward, scalar_backward,
                   scalar_forward, vector_forward)
from .errors import GradsimError

MAX_STEPS = 100_000
MAX_UNITS = 256
#: steps x units^3 (one eigenvalue problem per step for the Jacobian norms) above which a vector run is refused.
MAX_WORK = 4e8
#: |w|, |u|, |b|, |h0|, the forget bias and the target stay within this.
MAX_PARAM = 1e6
MAX_RADIUS = 1e3
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


def regime_of(log10_grad: np.ndarray) -> tuple[str, float | None, float | None]:
    """As `vanish` per layer: vanishing if |dC/dh_1| < |dC/dh_T| / 10, exploding if > 10 |dC/dh_T|;
    stable (no ratio) when the state already equals the target, so every gradient is 0."""
    if log10_grad[-1] == -np.inf:
        return "stable", None, None
    name, ratio, _ = chain.regime(log10_grad)
    per_step = None if ratio is None or len(log10_grad) < 2 else ratio / (len(log10_grad) - 1)
    return name, ratio, per_step


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
    lstm: object | None = None  # gradsim.lstm.LstmParts
    surface: object | None = None
    training: object | None = None
    extra: dict = field(default_factory=dict)


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
    """log10 ||diag f'(z_t) W||_2 per step: sqrt of the largest eigenvalue of D_t (W W^T) D_t (batched eigvalsh,
    2-3x cheaper than an SVD; f' rescaled by its largest magnitude per step)."""
    top = np.max(fw.ln_dact, axis=1)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(under="ignore"):
        d = fw.sign_dact * np.exp(fw.ln_dact - safe[:, None])
    gram = w @ w.T
    out = np.empty(len(top))
    for lo in range(0, len(top), 256):
        chunk = d[lo:lo + 256]
        out[lo:lo + 256] = np.linalg.eigvalsh(chunk[:, :, None] * gram[None] * chunk[:, None, :])[:, -1]
    with np.errstate(divide="ignore"):
        return np.where(np.isfinite(top), (0.5 * np.log(np.maximum(out, 0.0)) + top) / LN10, -np.inf)


def run_recurrent(act: Activation, w: np.ndarray, u: np.ndarray, b: np.ndarray, h_init: np.ndarray, x: np.ndarray,
                  target: float = 0.0, cost: str = "last", progress: Callable[[int, int], None] | None = None,
                  **labels) -> RnnResult:
    """Forward and BPTT through z_t = W h_(t-1) + U x_t + b; one unit when W is 1x1."""
    units = w.shape[0]
    c = np.outer(x, u) + b
    if units == 1:
        fw = scalar_forward(act, float(w[0, 0]), c[:, 0], float(h_init[0]))
        if np.any(fw.sign_h[1:] == 0):  # a state is 0 or below float64: the slower pass that keeps its size
            fw = vector_forward(act, w, c, h_init)
        last = scalar_backward(float(w[0, 0]), fw, target)
    else:
        fw = vector_forward(act, w, c, h_init)
        last = recurrent_backward(w, fw, target, False, progress)
    g = last if cost == "last" else recurrent_backward(w, fw, target, True, progress)
    ln_dz = ln_grad_z(fw, g)
    log10_grad_h = g.ln_norm / LN10
    name, ratio, per_step = regime_of(last.ln_norm / LN10)
    ln_h = ln_row_norms(fw.sign_h, fw.ln_h)
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
                      extra=dict(sign_factor=np.sign(w[0, 0]) * fw.sign_dact[:, 0]),
                      grad_w_total=_signed_sum_log10(sign_dz * fw.sign_h[:-1, 0], ln_dz + fw.ln_h[:-1, 0]),
                      grad_b_total=_signed_sum_log10(sign_dz, ln_dz))
        why = _why_scalar(act, float(w[0, 0]), bounds, name)
    else:
        log10_factor = _jacobian_log10_norms(w, fw)
        why = _why_vector(bounds, name)
    if last.ln_norm[-1] == -np.inf:
        why = "h_T already equals the target y, so every gradient is 0."
    with np.errstate(over="ignore"):
        return RnnResult(activation=act.name, alpha=act.alpha, units=units, steps=len(x), x=x, h=h_shown,
                         log10_h=(ln_h[1:] if units > 1 else fw.ln_h[1:, 0]) / LN10, log10_factor=log10_factor,
                         log10_grad_h=log10_grad_h, log10_grad_w=log10_grad_w, regime=name, log10_ratio=ratio,
                         log10_factor_per_step=per_step, bounds=bounds, why=why, cost=cost, target=target,
                         **scalar, **labels)


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
        raise GradsimError(f"{out['units']} units allow at most {most:,} steps (one eigenvalue problem per step)",
                           option="--steps")
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


def _used_options(given: dict, s: dict) -> None:
    """An option the run would ignore is an error naming it, not a silent no-op."""
    def refuse(key: str, why: str) -> None:
        if given.get(key) is not None:
            raise GradsimError(why, option="--" + key.replace("_", "-"))

    lstm = str(s["cell"]).strip().lower() == "lstm"
    if not lstm:
        for key in ("forget_bias", "gate_weight"):
            refuse(key, "it sets the LSTM's gates; give --cell lstm")
    if isinstance(s["units"], (int, np.integer)) and s["units"] > 1:
        refuse("weight", "with N > 1 units W is drawn from --init and scaled to --radius; give --units 1 for a "
                         "scalar w")
    else:
        for key in ("radius", "init"):
            refuse(key, "the LSTM is a single cell with scalar weights" if lstm else
                   "it shapes W of N > 1 units; give --units N (N > 1)")


def rnn(act: Activation | str | None = None, alpha: float | None = None, weight: float | None = None,
        input_weight: float | None = None, bias: float | None = None, h0: float | None = None,
        steps: int | None = None, input: str | None = None, units: int | None = None, radius: float | None = None,
        init: str | None = None, cell: str | None = None, forget_bias: float | None = None,
        gate_weight: float | None = None, cost: str | None = None, target: float | None = None,
        seed: int | None = None, surface: bool = False,
        train: bool = False, clip_mode: str | None = None, clip_threshold: float | None = None,
        lr: float | None = None, epochs: int | None = None, w_range=None, b_range=None, grid: int | None = None,
        progress: Callable[[int, int], None] | None = None) -> RnnResult:
    """Gradients through time of a one-unit or N-unit RNN, or of an LSTM cell (see the module docstring).

    Defaults: sigmoid, w = 3, u = 1, b = 0, h0 = 0, T = 50, a pulse at t = 1, C = h_T^2 / 2 (target 0), seed 0;
    cell lstm: gates that see x_t only (gate_weight 0), forget bias 1, T = 100, a tanh RNN with w = 0.9 beside it.
    `surface`: C(w, b) of the one-unit
    RNN (start w = 6, b = -3.2, y = 0.7) with descent unclipped and clipped; `train`: the memory task.
    """
    given = dict(act=act, weight=weight, input_weight=input_weight, bias=bias, h0=h0, steps=steps, input=input,
                 units=units, radius=radius, init=init, cell=cell, forget_bias=forget_bias, gate_weight=gate_weight,
                 cost=cost,
                 target=target, clip_mode=clip_mode, clip_threshold=clip_threshold, lr=lr, epochs=epochs)
    s = _mode_settings(surface, train, given)
    _used_options(given, s)
    _surface_only(surface, w_range=w_range, b_range=b_range, grid=grid)
    activation = as_activation(s["act"] if isinstance(act, str) or act is None else act, alpha, s["act"])
    s = check(s)
    if train:  # refused before the forward run, which at 256 units takes seconds
        from .rnn_train import check_training

        check_training(s["steps"], s["units"], s["lr"], s["epochs"], s["clip_threshold"], _clip_modes(s["clip_mode"]))
    seed = 0 if seed is None else seed
    rng = np.random.default_rng(seed)
    labels = dict(cell=s["cell"], input=s["input"], seed=seed, input_weight=s["input_weight"], bias=s["bias"],
                  h0=s["h0"])
    if s["cell"] == "lstm":
        from .lstm import run_lstm

        x = inputs(s["input"], s["steps"], rng)
        return run_lstm(activation, s["weight"], s["input_weight"], s["bias"], s["forget_bias"], s["h0"], x,
                        s["target"], s["cost"], s["gate_weight"], progress, weight=s["weight"], radius=None, init=None,
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
    r = run_recurrent(activation, w, u, np.full(n, s["bias"]), np.full(n, s["h0"]), x, s["target"], s["cost"], progress,
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
