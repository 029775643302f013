"""Gradient clipping by value, by norm, by global norm and adaptive (AGC), in float64 and beyond it.

value:        g_i -> clamp(g_i, -t, t)
norm:         g -> g * min(1, t / (||g||_2 + eps))                      (PyTorch clip_grad_norm_, eps = 1e-6)
global-norm:  g_k -> g_k * min(1, t / (sqrt(sum_k ||g_k||^2) + eps))     (TensorFlow clip_by_global_norm)
adaptive:     G_i -> G_i * min(1, lam max(||W_i||, eps) / ||G_i||)      (Brock et al. 2021; unit i = row i)

The float64 functions follow PyTorch on non-finite input (inf * 0 = nan). Gradients too large for float64
(a deep exploding chain) are clipped from their log10 magnitudes (`LogArray`), so the result is finite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Sequence, Union

import numpy as np

from . import activations, chain
from .errors import GradsimError, unknown

MODES = ("value", "norm", "global-norm", "adaptive")
#: PyTorch's clip_grad_norm_ adds 1e-6 to the norm; eps = 0 is TensorFlow's clip_by_norm.
NORM_EPS = 1e-6
#: Brock et al. (2021): a unit's weight norm is taken as at least 1e-3, so zero-initialised units can move.
AGC_EPS = 1e-3
#: AGC's clipping ratio lambda: Brock et al. use 0.01 for large batches.
LAM = 0.01
#: The single update in C. Hansen, "Activation Functions Explained" (mlfromscratch): b_1 = 1.56, learning rate 0.5.
PARAM, LR = 1.56, 0.5
#: Training (--steps): the nielsen-explode chain is so steep (da_L/db_1 = 25^3 / 4 ~ 3906 at the start) that a
#: step must be ~1e-5 to stay on the slope; target 0.4 sits beside the start a_L = 0.5, so a step that jumps
#: into saturation (a_L -> 0) makes the cost 16x worse instead of better.
TRAIN_TARGET, TRAIN_LR = 0.4, 1e-5
MAX_STEPS = 100_000
#: A run's end is judged over its last TAIL steps.
TAIL = 20
LN10 = math.log(10.0)

Tensors = Sequence[np.ndarray]
GradSpec = Union[str, Sequence[float], np.ndarray]


# ---------------------------------------------------------------- float64 (PyTorch semantics)
def _check_threshold(t: float, option: str = "--threshold", name: str = "the threshold") -> None:
    if not (math.isfinite(t) and t > 0):
        why = (" (with t < 0 PyTorch silently sets every component to t by value and flips the gradient by norm; "
               "gradsim refuses)" if option == "--threshold" else "")
        raise GradsimError(f"{name} must be a finite number > 0, got {t}{why}", option=option)


def check_clipped_step(lr: float, threshold: float) -> None:
    """A descent step lr * clip(g, threshold) of a training loop: both finite and > 0 (--lr, --clip-threshold)."""
    if not (math.isfinite(lr) and lr > 0):
        raise GradsimError(f"the learning rate must be a finite number > 0, got {lr}", option="--lr")
    if not (math.isfinite(threshold) and threshold > 0):
        raise GradsimError(f"the threshold must be a finite number > 0, got {threshold}", option="--clip-threshold")


def l2_norm(g: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
    """||g||_2 as max|g| * ||g / max|g|||_2 (no overflow for finite g); inf if g holds inf, nan if nan."""
    a = np.abs(np.asarray(g, dtype=float))
    m = np.max(a, axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.where((m > 0) & np.isfinite(m), m, 1.0)
        n = scale * np.sqrt(np.sum((a / scale) ** 2, axis=axis, keepdims=True))
    n = np.where(np.isinf(m), np.inf, n)
    return n if keepdims else np.squeeze(n, axis=axis) if axis is not None else n.reshape(())[()]


def scale_factor(norm, bound, eps: float):
    """min(1, bound / (norm + eps)): 1 for a zero norm, 0 for an infinite one, nan for nan."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.minimum(1.0, np.asarray(bound, dtype=float) / (norm + eps))


def _times(g: np.ndarray, factor) -> np.ndarray:
    """g * factor, where inf * 0 = nan is the intended PyTorch result."""
    with np.errstate(invalid="ignore"):
        return np.asarray(g, dtype=float) * factor


def clip_by_value(g: np.ndarray, threshold: float) -> np.ndarray:
    """clamp(g_i, -t, t) componentwise (nan stays nan, +-inf becomes +-t)."""
    _check_threshold(threshold)
    return np.clip(np.asarray(g, dtype=float), -threshold, threshold)


def clip_by_norm(g: np.ndarray, threshold: float, eps: float = NORM_EPS) -> np.ndarray:
    """g * min(1, t / (||g||_2 + eps)); a zero vector stays zero; eps = 0 is TensorFlow's clip_by_norm."""
    _check_threshold(threshold)
    _check_eps(eps)
    if eps == 0:
        return _tf_clip_by_norm(np.asarray(g, dtype=float), threshold, l2_norm(g))
    return _times(g, scale_factor(l2_norm(g), threshold, eps))


def _tf_clip_by_norm(g: np.ndarray, threshold: float, norm: float) -> np.ndarray:
    """TensorFlow's clip_by_norm in its own order, (g t) / max(norm, t), so the digits agree with it exactly;
    where g t overflows (t > 1, |g| near 1.8e308) as g (t / max(norm, t)) instead.

    A vector whose norm is already <= t is returned as it is: TensorFlow's (g t) / t rounds subnormal
    components (5e-324 * 0.5 / 0.5 = 0), changing a gradient that needs no clipping.
    """
    bound = np.maximum(norm, threshold)
    with np.errstate(over="ignore", invalid="ignore"):
        product = g * threshold
        clipped = np.where(np.isinf(product) & np.isfinite(g), g * (threshold / bound), product / bound)
    return np.where(np.asarray(norm) <= threshold, g, clipped)


def global_norm(gs: Tensors) -> float:
    """sqrt(sum_k ||g_k||^2), the norm of all tensors together."""
    return float(l2_norm(np.array([l2_norm(g) for g in gs])))


def clip_by_global_norm(gs: list[np.ndarray], threshold: float, eps: float = NORM_EPS) -> list[np.ndarray]:
    """Every g_k * min(1, t / (sqrt(sum_k ||g_k||^2) + eps)): one factor for all tensors."""
    _check_threshold(threshold)
    _check_eps(eps)
    factor = scale_factor(global_norm(gs), threshold, eps)
    return [_times(g, factor) for g in gs]


def tensor_axes(block: np.ndarray) -> tuple[int, ...]:
    """The axes of each tensor in a block of stacked tensors (axis 0 indexes the tensors)."""
    return tuple(range(1, block.ndim))


def unit_axes(block: np.ndarray) -> tuple[int, ...]:
    """AGC's unit of each stacked tensor: a row (the axes after the first) of a matrix; all of a vector."""
    return tuple(range(2, block.ndim)) if block.ndim > 2 else tensor_axes(block)


def _adaptive_block(g: np.ndarray, w: np.ndarray, lam: float, eps: float = AGC_EPS) -> np.ndarray:
    """AGC on stacked tensors: every unit G_i * min(1, lam max(||W_i||, eps) / ||G_i||)."""
    axes = unit_axes(g)
    with np.errstate(over="ignore"):  # lam |W_i| beyond float64 is an infinite bound: nothing is clipped
        bound = lam * np.maximum(l2_norm(w, axes, keepdims=True), eps)
    return _times(g, scale_factor(l2_norm(g, axes, keepdims=True), bound, 0.0))


def clip_adaptive(gs: list[np.ndarray], ws: list[np.ndarray], lam: float, eps: float = AGC_EPS) -> list[np.ndarray]:
    """Unit-wise AGC: G_i * min(1, lam max(||W_i||, eps) / ||G_i||), rows = units (Brock et al. 2021)."""
    _check_threshold(lam, "--lam", "lambda")
    _check_weights(gs, ws)
    return [_adaptive_block(np.asarray(g, dtype=float)[None], np.asarray(w, dtype=float)[None], lam, eps)[0]
            for g, w in zip(gs, ws)]


def _check_eps(eps: float) -> None:
    if not (math.isfinite(eps) and eps >= 0):
        raise GradsimError(f"eps must be a finite number >= 0, got {eps}", option="--eps")


def _check_weights(gs: Tensors, ws: Tensors) -> None:
    if len(gs) != len(ws):
        raise GradsimError(f"adaptive clipping needs one weight tensor per gradient: {len(gs)} gradient(s), "
                           f"{len(ws)} weight tensor(s)", option="--weights")
    for k, (g, w) in enumerate(zip(gs, ws), 1):
        if np.shape(g) != np.shape(w):
            raise GradsimError(f"weight tensor {k} has shape {np.shape(w)}, its gradient {np.shape(g)}",
                               option="--weights")
        if not np.all(np.isfinite(w)):
            raise GradsimError(f"weight tensor {k} must be finite (no nan or inf)", option="--weights")


# ---------------------------------------------------------------- beyond float64: sign and log10 magnitude
@dataclass(frozen=True)
class LogArray:
    """sign * 10**log10_abs: an array whose magnitudes may lie far beyond float64."""

    sign: np.ndarray
    log10_abs: np.ndarray
    floats: np.ndarray | None = None  # the float64 values themselves where known: no trip through log10 and back

    @classmethod
    def of(cls, g: np.ndarray) -> "LogArray":
        g = np.asarray(g, dtype=float)
        with np.errstate(divide="ignore"):
            return cls(np.sign(g), np.log10(np.abs(g)), g)

    def value(self) -> np.ndarray:
        """The float64 value (+-inf beyond it, 0 below it)."""
        if self.floats is not None:
            return self.floats
        with np.errstate(over="ignore", under="ignore"):
            return self.sign * 10.0 ** self.log10_abs

    def scaled(self) -> np.ndarray:
        """The array divided by its largest magnitude: finite, same direction."""
        top = float(np.max(self.log10_abs))
        if top == -math.inf:
            return np.zeros_like(self.sign)
        with np.errstate(under="ignore"):
            return self.sign * 10.0 ** (self.log10_abs - top)

    def part(self, index: int) -> "LogArray":
        """Component `index` alone, as a 1-vector."""
        piece = slice(index, index + 1)
        return LogArray(self.sign[piece], self.log10_abs[piece], None if self.floats is None else self.floats[piece])

    def times(self, log10_factor) -> "LogArray":
        """self * 10**log10_factor (broadcast)."""
        return LogArray(self.sign, self.log10_abs + log10_factor)


def log10_norm(x: LogArray, axis=None, keepdims: bool = False) -> np.ndarray:
    """log10 ||x||_2 = m + log10 sqrt(sum 10^(2 (L_i - m))), m = max L_i; -inf for a zero vector."""
    top = np.max(x.log10_abs, axis=axis, keepdims=True)
    finite_top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(under="ignore", divide="ignore"):
        out = finite_top + 0.5 * np.log10(np.sum(10.0 ** (2 * (x.log10_abs - finite_top)), axis=axis,
                                                 keepdims=True))
    out = np.where(top == -np.inf, -np.inf, out)
    return out if keepdims else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())[()]


def log10_scale_factor(log10_n, log10_bound, eps: float):
    """log10 min(1, bound / (n + eps)), with log10(n + eps) = logaddexp in base 10."""
    if eps > 0:
        log10_denominator = np.logaddexp(np.asarray(log10_n) * LN10, math.log(eps)) / LN10
    else:
        log10_denominator = np.asarray(log10_n, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.minimum(0.0, np.asarray(log10_bound) - log10_denominator)


def _log_group_scale(x: LogArray, axes, log10_bound, eps: float) -> LogArray:
    """x * min(1, bound / (||group|| + eps)) for each group of the axes, in log space."""
    return x.times(log10_scale_factor(log10_norm(x, axes, keepdims=True), log10_bound, eps))


def log_clip(mode: str, xs: Sequence[LogArray], threshold: float, eps: float = NORM_EPS, lam: float = LAM,
             ws: Tensors | None = None) -> list[LogArray]:
    """A mode on blocks of stacked tensors in sign and log10 magnitude (any size); see `clip_blocks`."""
    log10_t = math.log10(threshold)
    if mode == "value":
        return [LogArray(x.sign, np.minimum(x.log10_abs, log10_t)) for x in xs]
    if mode in ("norm", "global-norm"):
        whole = np.array([log10_norm(x) for x in xs])
        factor = log10_scale_factor(log10_norm(LogArray(np.ones_like(whole), whole)), log10_t, eps)
        return [x.times(factor) for x in xs]
    if mode == "per-tensor":
        return [_log_group_scale(x, tensor_axes(x.log10_abs), log10_t, eps) for x in xs]
    bounds = [math.log10(lam) + np.log10(np.maximum(l2_norm(w, unit_axes(w), keepdims=True), AGC_EPS)) for w in ws]
    return [_log_group_scale(x, unit_axes(x.log10_abs), b, 0.0) for x, b in zip(xs, bounds)]


# ---------------------------------------------------------------- one mode on a whole gradient
@dataclass(frozen=True)
class Gradient:
    """The gradient to clip, as blocks of stacked tensors of one shape (axis 0 indexes the tensors).

    float64 values (+-inf where a value overflowed) and their exact sign and log10 magnitude.
    """

    blocks: tuple[np.ndarray, ...]
    logs: tuple[LogArray, ...]
    weights: tuple[np.ndarray, ...] | None  # the parameters, for adaptive clipping, in the same blocks
    labels: tuple[str, ...]  # one per component of the flat vector

    @property
    def n_tensors(self) -> int:
        return sum(b.shape[0] for b in self.blocks)

    @cached_property
    def flat(self) -> np.ndarray:
        """All components in one vector, tensor by tensor."""
        return np.concatenate([b.ravel() for b in self.blocks])

    @cached_property
    def flat_log(self) -> LogArray:
        return _flat(self.logs)

    @cached_property
    def overflowed(self) -> bool:
        """float64 holds +-inf where the exact magnitude is finite: clipping must work from the logs."""
        return bool(np.any(np.isinf(self.flat) & np.isfinite(self.flat_log.log10_abs)))

    @cached_property
    def nonfinite(self) -> bool:
        """The input itself holds inf or nan (not an overflow of a known magnitude)."""
        return bool(not np.all(np.isfinite(self.flat)) and not self.overflowed)


def clip_blocks(mode: str, blocks: Tensors, threshold: float, eps: float = NORM_EPS, lam: float = LAM,
                weights: Tensors | None = None) -> list[np.ndarray]:
    """A mode on blocks of stacked float64 tensors: `norm` and `global-norm` scale all by one factor,
    `per-tensor` each tensor by its own norm, `adaptive` each unit."""
    if mode == "value":
        return [clip_by_value(b, threshold) for b in blocks]
    if mode == "norm" and eps == 0:
        norm = global_norm(blocks)
        return [_tf_clip_by_norm(np.asarray(b, dtype=float), threshold, norm) for b in blocks]
    if mode in ("norm", "global-norm"):
        return clip_by_global_norm(list(blocks), threshold, eps)
    if mode == "per-tensor":
        return [_times(b, scale_factor(l2_norm(b, tensor_axes(b), keepdims=True), threshold, eps)) for b in blocks]
    return [_adaptive_block(b, w, lam) for b, w in zip(blocks, weights)]


def clip_gradient(mode: str, grad: Gradient, threshold: float, eps: float = NORM_EPS,
                  lam: float = LAM) -> list[LogArray]:
    """A mode on a Gradient: in float64 when it fits, else from the log magnitudes (exact, finite result)."""
    if grad.overflowed:
        return log_clip(mode, grad.logs, threshold, eps, lam, grad.weights)
    return [LogArray.of(c) for c in clip_blocks(mode, grad.blocks, threshold, eps, lam, grad.weights)]


def _by_largest(v: np.ndarray) -> np.ndarray:
    """v / max|v| when that is finite and > 0 (same direction, no overflow in v . v), else v."""
    m = float(np.max(np.abs(v)))
    return v / m if 0 < m < math.inf else v


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """a . b / (||a|| ||b||) on a / max|a| and b / max|b|; nan if either is zero or not finite."""
    ua, ub = _by_largest(a), _by_largest(b)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return float(np.dot(ua, ub) / (l2_norm(ua) * l2_norm(ub)))


# ---------------------------------------------------------------- results
@dataclass(frozen=True)
class ModeResult:
    """One clipping mode applied to the whole gradient."""

    mode: str
    exact: LogArray  # the clipped vector (flat) as sign and log10 magnitude: exact below float64 too
    norm_before: float  # inf if beyond float64
    log10_norm_before: float
    norm_after: float
    cosine: float  # to the input; nan for a zero vector
    changed: int  # components the clipping changed
    per_tensor_exact: LogArray | None = None  # global-norm: what clip_by_norm of each tensor alone gives
    per_tensor_cosine: float | None = None
    naive: np.ndarray | None = None  # beyond float64: the same mode on the overflowed float64 values

    @cached_property
    def clipped(self) -> np.ndarray:
        """The clipped vector in float64."""
        return self.exact.value()

    @property
    def log10_clipped(self) -> np.ndarray:
        return self.exact.log10_abs

    @cached_property
    def per_tensor(self) -> np.ndarray | None:
        return None if self.per_tensor_exact is None else self.per_tensor_exact.value()


@dataclass(frozen=True)
class UpdateStep:
    """p - lr * g for one mode (mode 'none': g unclipped)."""

    mode: str
    grad: float
    log10_grad: float
    sign_grad: float
    new_param: float  # +-inf when lr * g is beyond float64
    log10_step: float  # log10 |lr * g|


@dataclass(frozen=True)
class Update:
    """Hansen's single update of a parameter (b_1 = 1.56, lr 0.5) without clipping and with each mode."""

    param: float
    lr: float
    component: str
    steps: tuple[UpdateStep, ...]


@dataclass(frozen=True)
class Run:
    """Cost after k = 0..steps gradient steps for one mode ('none' = no clipping)."""

    mode: str
    costs: np.ndarray  # nan once the parameters have left float64
    diverged_at: int | None  # the step after which a parameter was inf or nan
    clipped_steps: int  # steps at which clipping changed the gradient
    final_output: float  # a_L after the last step
    log10_final_grad_norm: float  # log10 ||(dC/dw, dC/db)|| after the last step

    @property
    def final(self) -> float:
        return float(self.costs[-1])

    @property
    def tail(self) -> tuple[float, float]:
        """Lowest and highest cost over the last TAIL steps (nan after a blow-up): a clipped run can end in a 2-cycle."""
        last = self.costs[-min(TAIL, len(self.costs)):]
        if np.all(np.isnan(last)):
            return math.nan, math.nan
        return float(np.nanmin(last)), float(np.nanmax(last))


@dataclass(frozen=True)
class Training:
    """The chain trained by plain gradient descent, without clipping and with each mode."""

    target: float
    lr: float
    steps: int
    start_cost: float
    runs: tuple[Run, ...]


@dataclass(frozen=True)
class ClipResult:
    """Every mode applied to one gradient, with Hansen's single update and, optionally, training."""

    threshold: float
    eps: float
    lam: float
    source: str  # "chain" or "given"
    gradient: Gradient
    results: tuple[ModeResult, ...]
    chain: chain.ChainResult | None = None
    update: Update | None = None
    training: Training | None = None
    nonfinite_note: str | None = None
    skipped: tuple[str, ...] = field(default_factory=tuple)

    @property
    def input(self) -> np.ndarray:
        return self.gradient.flat

    @property
    def rescued(self) -> bool:
        """The gradient overflowed float64 and was clipped from its log magnitudes."""
        return self.gradient.overflowed


# ---------------------------------------------------------------- building the gradient
def _parse_tensor(spec: GradSpec, option: str) -> np.ndarray:
    """'3,4' -> a vector; '1,2;3,4' -> a matrix with rows = units; inf and nan are allowed."""
    if not isinstance(spec, str):
        arr = np.asarray(spec, dtype=float)
        if arr.size == 0:
            raise GradsimError("an empty tensor; give at least one number", option=option)
        return arr
    rows = [r for r in spec.strip().split(";")]
    try:
        values = [[float(p) for p in r.split(",")] for r in rows]
    except ValueError:
        raise GradsimError(f"{spec!r} is not a comma list of numbers (rows separated by ';'), e.g. 3,4",
                           option=option) from None
    if len({len(r) for r in values}) != 1:
        raise GradsimError(f"{spec!r}: every row needs the same number of components", option=option)
    return np.array(values[0] if len(values) == 1 else values, dtype=float)


def _label(prefix: str, idx: tuple[int, ...]) -> str:
    return f"{prefix}[{','.join(str(i + 1) for i in idx)}]"


def given_gradient(grads: Sequence[GradSpec], weights: Sequence[GradSpec] | None) -> Gradient:
    """Gradient tensors given as '3,4' (and their weights for adaptive clipping); each is a block of one."""
    tensors = [_parse_tensor(g, "--grad") for g in grads]
    ws = None
    if weights:
        ws = [_parse_tensor(w, "--weights") for w in weights]
        _check_weights(tensors, ws)
        ws = tuple(w[None] for w in ws)
    names = [f"g{k}" for k in range(1, len(tensors) + 1)] if len(tensors) > 1 else ["g"]
    labels = tuple(_label(name, idx) for name, t in zip(names, tensors) for idx in np.ndindex(t.shape or (1,)))
    return Gradient(tuple(t[None] for t in tensors), tuple(LogArray.of(t[None]) for t in tensors), ws, labels)


def chain_gradient(r: chain.ChainResult) -> Gradient:
    """One block of L tensors [[dC/dw_j], [dC/db_j]] (layer j, as in nn.Linear(1, 1)): AGC's units are w_j and b_j."""
    def stack(w_part: np.ndarray, b_part: np.ndarray) -> np.ndarray:
        return np.stack([w_part, b_part], axis=1)[:, :, None]

    logs = LogArray(stack(r.sign_grad_w, r.sign_grad_b), stack(r.log10_grad_w, r.log10_grad_b))
    labels = tuple(f"dC/d{p}{j + 1}" for j in range(r.depth) for p in "wb")
    return Gradient((stack(r.grad_w, r.grad_b),), (logs,), (stack(r.w, r.b),), labels)


# ---------------------------------------------------------------- one mode, summarised
def _flat(xs: Sequence[LogArray]) -> LogArray:
    """Sign and log10 magnitude (and the float64 values, where known) of all components in one vector."""
    floats = None if any(x.floats is None for x in xs) else np.concatenate([x.floats.ravel() for x in xs])
    return LogArray(np.concatenate([x.sign.ravel() for x in xs]), np.concatenate([x.log10_abs.ravel() for x in xs]),
                    floats)


def _cosine_to_input(grad: Gradient, out: list[LogArray]) -> float:
    """The cosine of a clipped gradient to the input (from the logs when beyond float64)."""
    after = _flat(out)
    if grad.overflowed:
        return cosine(grad.flat_log.scaled(), after.scaled())
    return cosine(grad.flat, after.value())


def _summary(mode: str, grad: Gradient, out: list[LogArray]) -> dict:
    """The flat clipped vector, its norm and its cosine to the input."""
    after = _flat(out)
    clipped, flat = after.value(), grad.flat
    with np.errstate(divide="ignore"):
        log10_before = float(log10_norm(grad.flat_log)) if grad.overflowed else float(np.log10(l2_norm(flat)))
    with np.errstate(invalid="ignore"):
        changed = int(np.count_nonzero(~((clipped == flat) | (np.isnan(clipped) & np.isnan(flat)))))
    return dict(mode=mode, exact=after, norm_before=float(l2_norm(flat)),
                log10_norm_before=log10_before, norm_after=float(l2_norm(clipped)),
                cosine=_cosine_to_input(grad, out), changed=changed)


def _mode_result(mode: str, grad: Gradient, threshold: float, eps: float, lam: float) -> ModeResult:
    out = clip_gradient(mode, grad, threshold, eps, lam)
    extra = {}
    if mode == "global-norm":
        per_tensor = clip_gradient("per-tensor", grad, threshold, eps, lam)
        extra["per_tensor_exact"] = _flat(per_tensor)
        extra["per_tensor_cosine"] = _cosine_to_input(grad, per_tensor)
    if grad.overflowed:
        naive = clip_blocks(mode, grad.blocks, threshold, eps, lam, grad.weights)
        extra["naive"] = np.concatenate([c.ravel() for c in naive])
    return ModeResult(**_summary(mode, grad, out), **extra)


# ---------------------------------------------------------------- Hansen's single update
def _update(grad: Gradient, index: int, g: LogArray, results: Sequence[ModeResult], param: float, lr: float,
            threshold: float, eps: float, lam: float) -> Update:
    """p <- param - lr * (clipped) component `index` (whose unclipped value is g); adaptive clips with the
    parameter itself as the unit's weight."""
    label = grad.labels[index]
    rows = [("none", g)]
    for m in results:
        if m.mode == "adaptive":
            value = g.value()[None]
            alone = Gradient((value,), (LogArray(g.sign[None], g.log10_abs[None], value),), (np.array([[param]]),),
                             (label,))
            rows.append((m.mode, _flat(clip_gradient("adaptive", alone, threshold, eps, lam))))
        else:
            rows.append((m.mode, m.exact.part(index)))
    return Update(param, lr, label, tuple(_update_step(mode, x, param, lr) for mode, x in rows))


def _update_step(mode: str, x: LogArray, param: float, lr: float) -> UpdateStep:
    sign, log10_g = float(x.sign[0]), float(x.log10_abs[0])
    log10_step = log10_g + math.log10(lr)
    with np.errstate(over="ignore"):
        new = param - lr * float(x.value()[0]) if log10_step < 300 else -sign * math.inf
    return UpdateStep(mode, float(x.value()[0]), log10_g, sign, new, log10_step)


# ---------------------------------------------------------------- training the chain
def _train_one(mode: str, act, r0: chain.ChainResult, target: float, lr: float, steps: int, threshold: float,
               eps: float, lam: float, tick: Callable[[], None]) -> Run:
    """Plain gradient descent on every w_j and b_j, the gradient clipped by `mode` ('none': not clipped)."""
    w, b = r0.w.copy(), r0.b.copy()
    costs = np.full(steps + 1, np.nan)
    diverged, clipped_steps = None, 0
    for k in range(steps + 1):
        with np.errstate(all="ignore"):
            r = chain.run_chain(act, w, b, r0.input, target)
        costs[k] = r.cost
        grad = chain_gradient(r)
        if k == steps:
            break
        step = grad.blocks[0] if mode == "none" else clip_gradient(mode, grad, threshold, eps, lam)[0].value()
        clipped_steps += mode != "none" and not np.array_equal(step, grad.blocks[0])
        with np.errstate(all="ignore"):
            w, b = w - lr * step[:, 0, 0], b - lr * step[:, 1, 0]
        tick()
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
            diverged = k + 1
            break
    end = (math.nan, math.nan) if diverged else (float(r.a[-1]), float(log10_norm(grad.flat_log)))
    return Run(mode, costs, diverged, clipped_steps, *end)


def train(r0: chain.ChainResult, modes: Sequence[str], target: float, lr: float, steps: int, threshold: float,
          eps: float = NORM_EPS, lam: float = LAM, progress: Callable[[int, int], None] | None = None) -> Training:
    """C = (a_L - target)^2 / 2 after k steps of w, b <- w, b - lr clip(dC/dw, dC/db), for 'none' and each mode."""
    act = activations.get(r0.activation, r0.alpha)
    if not act.lo <= target <= act.hi:
        raise GradsimError(f"target {target:g} is outside the range of {act.name}, {act.range_text()}",
                           option="--train-target")
    total, done = steps * (len(modes) + 1), [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None and done[0] % 100 == 0:
            progress(done[0], total)

    runs = tuple(_train_one(m, act, r0, target, lr, steps, threshold, eps, lam, tick) for m in ("none", *modes))
    return Training(target, lr, steps, float(runs[0].costs[0]), runs)


# ---------------------------------------------------------------- the command's entry point
def _modes(mode: str | None) -> tuple[str, ...]:
    key = (mode or "all").strip().lower()
    if key == "all":
        return MODES
    if key not in MODES:
        raise unknown("mode", mode, (*MODES, "all"), "--mode")
    return (key,)


def _nonfinite_where(grad: Gradient) -> str:
    """'the gradient holds g[2] = inf' for the first few non-finite components."""
    flat = grad.flat
    bad = np.flatnonzero(~np.isfinite(flat))
    more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    return "the gradient holds " + ", ".join(f"{grad.labels[i]} = {flat[i]}" for i in bad[:5]) + more


def _nonfinite_note(grad: Gradient, modes: Sequence[str]) -> str:
    """What PyTorch does with inf or nan in the gradient, mode by mode."""
    has_nan = bool(np.any(np.isnan(grad.flat)))
    parts = []
    if "value" in modes:
        parts.append("value clamps +-inf to +-t" + (" and keeps nan" if has_nan else ""))
    if set(modes) - {"value"}:
        parts.append("the norms are " + ("nan, so every component becomes nan" if has_nan else
                                         "inf, so the factor t / inf = 0 makes finite components 0 and inf * 0 = nan"))
    return (f"{_nonfinite_where(grad)}; following PyTorch (error_if_nonfinite=False): {'; '.join(parts)}. "
            "Pass --error-if-nonfinite to refuse it.")


def _check_numbers(threshold: float, eps: float, lam: float, param: float | None, lr: float) -> None:
    _check_threshold(threshold)
    _check_eps(eps)
    _check_threshold(lam, "--lam", "lambda")
    if param is not None and not math.isfinite(param):
        raise GradsimError(f"the parameter must be a finite number, got {param}", option="--param")
    if not (math.isfinite(lr) and lr > 0):
        raise GradsimError(f"learning rate must be a finite number > 0, got {lr}", option="--lr")


def _check_steps(steps: int | None, train_lr: float, given: bool) -> None:
    if steps is None:
        return
    if given:
        raise GradsimError("--steps trains the chain; it cannot be used with --grad", option="--steps")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= MAX_STEPS:
        raise GradsimError(f"steps must be a whole number from 1 to {MAX_STEPS:,}, got {steps}", option="--steps")
    if not (math.isfinite(train_lr) and train_lr > 0):
        raise GradsimError(f"learning rate must be a finite number > 0, got {train_lr}", option="--train-lr")


def _source(grads, weights, depth, act, preset, alpha, seed) -> tuple[Gradient, chain.ChainResult | None]:
    """The gradient to clip: the tensors given, or the chain's (preset nielsen-explode by default)."""
    if grads:
        for value, option in ((depth, "--depth"), (act, "--act"), (preset, "--preset"), (seed, "--seed")):
            if value is not None:
                raise GradsimError(f"{option} chooses the chain whose gradient is clipped; leave it out with --grad",
                                   option=option)
        return given_gradient(grads, weights), None
    if weights:
        raise GradsimError("--weights gives the weights of --grad tensors; without --grad the chain has its own",
                           option="--weights")
    r = chain.vanish(depth=depth, act=act, alpha=alpha, preset=preset or "nielsen-explode", seed=seed)
    return chain_gradient(r), r


def clip(threshold: float = 0.5, grads: Sequence[GradSpec] | None = None,
         weights: Sequence[GradSpec] | None = None, mode: str | None = None, eps: float = NORM_EPS,
         lam: float = LAM, depth: int | None = None, act: str | None = None, alpha: float | None = None,
         preset: str | None = None, seed: int | None = None, param: float | None = None, lr: float = LR,
         steps: int | None = None, train_target: float = TRAIN_TARGET, train_lr: float = TRAIN_LR,
         error_if_nonfinite: bool = False, progress: Callable[[int, int], None] | None = None) -> ClipResult:
    """Clip a gradient by value, norm, global norm and adaptively (see the module docstring for the formulas).

    Without `grads`, the gradient (dC/dw_j, dC/db_j) of Nielsen's chain (preset nielsen-explode unless
    `preset`, `depth`, `act` say otherwise), with Hansen's single update of b_1 = `param` (default PARAM) by `lr`;
    with `grads`, the update of a parameter `param` by the first component, when `param` is given. `steps`
    also trains the chain for that many steps towards `train_target` with learning rate `train_lr`.
    """
    _check_numbers(threshold, eps, lam, param, lr)
    modes = _modes(mode)
    _check_steps(steps, train_lr, bool(grads))
    grad, r = _source(grads, weights, depth, act, preset, alpha, seed)
    skipped = ()
    if grad.weights is None and "adaptive" in modes:
        if mode is not None and mode.strip().lower() == "adaptive":
            raise GradsimError("adaptive clipping needs the weights: give one --weights per --grad",
                               option="--weights")
        modes, skipped = tuple(m for m in modes if m != "adaptive"), ("adaptive",)
    note = None
    if grad.nonfinite:
        if error_if_nonfinite:
            raise GradsimError(f"{_nonfinite_where(grad)}: not allowed with --error-if-nonfinite", option="--grad")
        note = _nonfinite_note(grad, modes)
    results = tuple(_mode_result(m, grad, threshold, eps, lam) for m in modes)
    update = None
    if r is not None:  # Hansen's single update of b_1
        db1 = LogArray(np.array([r.sign_grad_b[0]]), np.array([r.log10_grad_b[0]]), np.array([r.grad_b[0]]))
        update = _update(grad, grad.labels.index("dC/db1"), db1, results, PARAM if param is None else param, lr,
                         threshold, eps, lam)
    elif param is not None:  # the parameter of the first component of --grad
        update = _update(grad, 0, grad.flat_log.part(0), results, param, lr, threshold, eps, lam)
    training = None
    if steps is not None:
        training = train(r, modes, train_target, train_lr, int(steps), threshold, eps, lam, progress)
    return ClipResult(threshold, eps, lam, "chain" if r is not None else "given", grad, results, r, update, training,
                      note, skipped)
