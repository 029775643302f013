"""Nielsen's chain of single neurons: forward pass, backward pass, log-space magnitudes.

z_j = w_j a_{j-1} + b_j,  a_j = f(z_j),  a_0 = input,  C = (a_L - target)^2 / 2
dC/db_j = f'(z_j) * prod_{k>j} w_k f'(z_k) * (a_L - target),  dC/dw_j = dC/db_j * a_{j-1}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from . import activations
from .activations import Activation
from .errors import GradsimError, suggestion, unknown

Spec = Union[str, float, Sequence[float], np.ndarray]

#: The largest chain gradsim builds (a forward pass is sequential: ~1 s per 10^5 layers).
MAX_DEPTH = 1_000_000
#: |log10 ratio| above which a chain is called vanishing or exploding (a factor of 10 end to end).
REGIME_LOG10 = 1.0
LN10 = math.log(10.0)

#: Named starting points; options given beside a preset override it.
PRESETS: dict[str, dict] = {
    "nielsen-vanish": dict(act="sigmoid", depth=4, weights="normal", biases="normal", input=1.0, target=0.0, seed=0),
    "nielsen-explode": dict(act="sigmoid", depth=4, weights="100", biases="zero-z", input=1.0, target=0.0, seed=0),
}
DEFAULTS = PRESETS["nielsen-vanish"]


@dataclass(frozen=True)
class ChainResult:
    """One forward and backward pass through a chain of single neurons."""

    activation: str
    alpha: float | None
    depth: int
    input: float
    target: float
    seed: int | None
    weights_spec: str
    biases_spec: str
    preset: str | None
    w: np.ndarray
    b: np.ndarray
    z: np.ndarray
    a: np.ndarray  # a[0] is the input, a[j] the output of layer j; +-inf beyond float64
    log10_abs_z: np.ndarray  # log10 |z_j|, finite where z overflows
    log10_abs_a: np.ndarray  # log10 |a_j|, finite where a overflows
    sign_a: np.ndarray
    dact: np.ndarray  # f'(z_j)
    gain: np.ndarray  # w_j f'(z_j)
    grad_b: np.ndarray  # dC/db_j in float64 (inf or 0 where it over- or underflows)
    grad_w: np.ndarray
    log10_grad_b: np.ndarray  # log10 |dC/db_j|, finite at any depth
    log10_grad_w: np.ndarray
    sign_grad_b: np.ndarray
    sign_grad_w: np.ndarray
    cost: float
    log10_cost: float
    lr: float | None
    regime: str
    log10_ratio: float | None  # log10 |dC/db_1| / |dC/db_L|
    factor_per_layer: float | None  # (|dC/db_1| / |dC/db_L|)^(1/(L-1))
    why: str

    @property
    def delta_b(self) -> np.ndarray | None:
        """Nielsen's one-step change of each bias, -lr dC/db_j (inf where it is beyond float64)."""
        if self.lr is None:
            return None
        with np.errstate(over="ignore"):
            return -self.lr * self.grad_b

    @property
    def log10_delta_b(self) -> np.ndarray | None:
        """log10 |lr dC/db_j|, finite even where the change itself is beyond float64."""
        return None if self.lr is None else self.log10_grad_b + math.log10(self.lr)


# ---------------------------------------------------------------- parameter specs
def _floats(text: str, option: str) -> list[float]:
    try:
        values = [float(p) for p in text.split(",")]
    except ValueError:
        raise GradsimError(f"{text!r} is not a comma-separated list of numbers", option=option) from None
    if not all(math.isfinite(v) for v in values):
        raise GradsimError(f"{text!r}: every number must be finite (no nan or inf)", option=option)
    return values


def _draw(kind: str, args: str, depth: int, rng: np.random.Generator, option: str) -> np.ndarray:
    """normal[:MEAN,STD] or uniform:LO,HI, `depth` draws from `rng`."""
    if kind == "normal":
        mean, std = _floats(args, option) if args else (0.0, 1.0)
        if std < 0:
            raise GradsimError(f"normal:MEAN,STD needs STD >= 0, got {std:g}", option=option)
        return rng.normal(mean, std, depth)
    lo, hi = _floats(args, option)
    if not lo <= hi:
        raise GradsimError(f"uniform:LO,HI needs LO <= HI, got {lo:g} > {hi:g}", option=option)
    if math.isfinite(hi - lo):
        return rng.uniform(lo, hi, depth)
    u = rng.random(depth)  # the draws rng.uniform makes; (1 - u) lo + u hi, as HI - LO is beyond float64
    return (1.0 - u) * lo + u * hi


def layer_values(spec: Spec, depth: int, rng: np.random.Generator, option: str = "--weights",
                 allow_zero_z: bool = False) -> np.ndarray | None:
    """One value per layer from a SPEC; None for `zero-z` (biases chosen so that every z_j = 0)."""
    if not isinstance(spec, str):
        values = np.atleast_1d(np.asarray(spec, dtype=float))
        spec = ",".join(repr(float(v)) for v in values)
    text = spec.strip().lower()
    if text == "zero-z":
        if not allow_zero_z:
            raise GradsimError("zero-z is for --biases only", option=option)
        return None
    kind, _, args = text.partition(":")
    if kind in ("normal", "uniform"):
        if kind == "uniform" and not args:
            raise GradsimError("uniform needs bounds: uniform:LO,HI", option=option)
        if args and len(args.split(",")) != 2:
            raise GradsimError(f"{spec!r}: give exactly two numbers after '{kind}:'", option=option)
        return _draw(kind, args, depth, rng, option)
    if not text:
        raise GradsimError("empty value; give a number, a list, normal[:MEAN,STD] or uniform:LO,HI", option=option)
    try:
        values = _floats(text, option)
    except GradsimError:
        allowed = "a number, a comma list, normal[:MEAN,STD], uniform:LO,HI" + (" or zero-z" if allow_zero_z else "")
        names = ("normal", "uniform") + (("zero-z",) if allow_zero_z else ())
        raise GradsimError(f"{spec!r} is not a SPEC; use {allowed}.{suggestion(kind, names)}", option=option) from None
    if len(values) == 1:
        return np.full(depth, values[0])
    if len(values) != depth:
        raise GradsimError(f"a list needs exactly one number per layer: got {len(values)}, depth is {depth}",
                           option=option)
    return np.array(values)


# ---------------------------------------------------------------- forward and backward
#: |z| beyond this is "huge": f is taken from its asymptote (f(z) = c z, or a constant).
EDGE = 1e300
LN_FLOAT_MAX = math.log(np.finfo(float).max)


@dataclass(frozen=True)
class Forward:
    """The forward pass; z and a are also carried as sign and ln|.|, so values beyond float64 keep their size."""

    b: np.ndarray
    z: np.ndarray  # +-inf where |z| exceeds float64
    a: np.ndarray  # a[0] is the input
    ln_abs_z: np.ndarray
    ln_abs_a: np.ndarray
    sign_a: np.ndarray


def _ln_abs(v: float) -> float:
    return math.log(abs(v)) if v != 0 else -math.inf


def _linear_at_edge(act: Activation, sign: float) -> float | None:
    """c if f(z) ~ c z as z -> sign * inf (relu, elu, gelu, linear ... on their open side), else None."""
    edge = sign * EDGE
    f_edge = act.f1(edge)
    return f_edge / edge if abs(f_edge) > 1e250 else None


def _huge_z(w: float, sign_a: float, ln_a: float, b: float) -> tuple[float, float]:
    """sign and ln|z| of z = w a + b when |w a| is beyond float64: z = w a (1 + b / (w a))."""
    ln_wa = _ln_abs(w) + ln_a
    ratio = 1.0 + b * math.exp(-ln_wa) / (math.copysign(1.0, w) * sign_a)
    return math.copysign(1.0, w) * sign_a * math.copysign(1.0, ratio), ln_wa + _ln_abs(ratio)


def _huge_a(act: Activation, sign_z: float, ln_z: float) -> tuple[float, float]:
    """sign and ln|f(z)| for |z| = e^ln_z beyond float64, from f's asymptote."""
    c = _linear_at_edge(act, sign_z)
    if c is None:
        f_edge = act.f1(sign_z * EDGE)
        return float(np.sign(f_edge)), _ln_abs(f_edge)
    return float(np.sign(c)) * sign_z, ln_z + _ln_abs(c)


def forward(act: Activation, w: np.ndarray, b: np.ndarray | None, x: float) -> Forward:
    """z_j = w_j a_{j-1} + b_j, a_j = f(z_j); b None means b_j = -w_j a_{j-1} (z_j = 0)."""
    depth = len(w)
    zs, bs, ln_z = np.empty(depth), np.empty(depth), np.empty(depth)
    a_s, ln_a, sign_a = np.empty(depth + 1), np.empty(depth + 1), np.empty(depth + 1)
    a_s[0], ln_a[0], sign_a[0] = x, _ln_abs(x), np.sign(x)
    with np.errstate(over="ignore", invalid="ignore"):
        for j in range(depth):
            bs[j] = -w[j] * a_s[j] if b is None else b[j]
            z = 0.0 if b is None else w[j] * a_s[j] + bs[j]
            if math.isfinite(z):
                zs[j], ln_z[j] = z, _ln_abs(z)
                a = act.f1(z)
                a_s[j + 1], ln_a[j + 1], sign_a[j + 1] = a, _ln_abs(a), np.sign(a)
                continue
            sz, ln_z[j] = _huge_z(w[j], sign_a[j], ln_a[j], bs[j])
            zs[j] = sz * math.inf
            sign_a[j + 1], ln_a[j + 1] = _huge_a(act, sz, ln_z[j])
            a_s[j + 1] = sign_a[j + 1] * math.exp(ln_a[j + 1]) if ln_a[j + 1] < LN_FLOAT_MAX else sign_a[j + 1] * math.inf
    return Forward(bs, zs, a_s, ln_z, ln_a, sign_a)


def dact_and_log(act: Activation, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f'(z) and ln|f'(z)|; at z = +-inf (beyond float64) from f's asymptote: c if f ~ c z, else 0."""
    with np.errstate(invalid="ignore"):
        dact, ln_dact = act.dact(z), act.log_dact(z)
    for j in np.flatnonzero(np.isinf(z)):
        sign = float(np.sign(z[j]))
        linear = _linear_at_edge(act, sign) is not None
        dact[j] = float(act.dact(sign * EDGE)) if linear else 0.0
        ln_dact[j] = float(act.log_dact(sign * EDGE)) if linear else -math.inf
    return dact, ln_dact


def _suffix_sum(v: np.ndarray) -> np.ndarray:
    """s_j = sum_{k>j} v_k (s_L = 0)."""
    s = np.cumsum(v[::-1])[::-1]
    return np.append(s[1:], 0.0)


def _suffix_product(v: np.ndarray) -> np.ndarray:
    """p_j = prod_{k>j} v_k (p_L = 1), in float64 (may over- or underflow)."""
    p = np.cumprod(v[::-1])[::-1]
    return np.append(p[1:], 1.0)


def _error(fw: Forward, target: float) -> tuple[float, float, float]:
    """a_L - target as float, sign and ln|.| (target is negligible beside an a_L beyond float64)."""
    if math.isfinite(fw.a[-1]):
        err = float(fw.a[-1] - target)
        return err, float(np.sign(err)), _ln_abs(err)
    return float(fw.a[-1]), float(fw.sign_a[-1]), float(fw.ln_abs_a[-1])


_LN2 = np.log(np.longdouble(2.0))


def from_sign_and_ln(sign: np.ndarray, ln_abs: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """The float64 value of sign * e^ln_abs: `raw` (the plain product) where it is finite and nonzero, else built
    from sign and ln|.| with ldexp (exact 0 where sign is 0; +-inf only beyond float64; 0 only below its range).

    e^ln is taken as 2^k e^(ln - k ln 2), k = floor(ln / ln 2), in long double where the platform has it, so a
    value just below the largest float is not lost to exp overflowing on the rounding of ln.
    """
    out = np.where(np.isfinite(raw) & (raw != 0) & (sign != 0), raw, 0.0)
    for j in np.flatnonzero((out == 0) & (sign != 0)):
        ln = float(ln_abs[j])
        if ln == -math.inf or math.isnan(ln):
            continue
        if ln == math.inf:
            out[j] = sign[j] * math.inf
            continue
        ln = ln_abs[j]
        k = int(np.floor(ln / _LN2))
        try:
            out[j] = sign[j] * math.ldexp(float(np.exp(ln - k * _LN2)), k)
        except OverflowError:
            out[j] = sign[j] * math.inf
    return out


def backward(act: Activation, w: np.ndarray, fw: Forward, target: float) -> dict[str, np.ndarray]:
    """dC/db_j and dC/dw_j, raw (float64) and as sign and log10 magnitude (exact at any depth).

    Signs come from the signs of the factors (f'(z) from `Activation.sign_dact`, right where f' underflows), and a
    float64 value is given wherever the exact one fits, whatever the plain product did (`from_sign_and_ln`).
    """
    err, sign_err, ln_err = _error(fw, target)
    dact, ln_dact = dact_and_log(act, fw.z)
    sign_dact = np.where(np.isneginf(ln_dact), 0.0, act.sign_dact(np.where(np.isinf(fw.z), 0.0, fw.z)))
    sign_dact = np.where(np.isinf(fw.z), np.sign(dact), sign_dact)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        gain = w * dact
        raw_b = dact * _suffix_product(gain) * err
        raw_w = raw_b * fw.a[:-1]
        # the suffix sums in long double: summed in float64, 200 layers of ln ~ 700 lose ~1e-11 relative
        ln_gain = (np.log(np.abs(w)) + ln_dact).astype(np.longdouble)
        ln_b = ln_dact + _suffix_sum(ln_gain) + ln_err
        ln_w = ln_b + fw.ln_abs_a[:-1]
    sign_b = sign_dact * _suffix_product(np.sign(w) * sign_dact) * sign_err
    sign_w = sign_b * fw.sign_a[:-1]
    return dict(dact=dact, gain=gain, grad_b=from_sign_and_ln(sign_b, ln_b, raw_b),
                grad_w=from_sign_and_ln(sign_w, ln_w, raw_w),
                log10_grad_b=(ln_b / LN10).astype(float), log10_grad_w=(ln_w / LN10).astype(float),
                sign_grad_b=sign_b, sign_grad_w=sign_w)


# ---------------------------------------------------------------- the verdict
def regime(log10_grad_b: np.ndarray) -> tuple[str, float | None, float | None]:
    """vanishing if |dC/db_1| < |dC/db_L| / 10, exploding if > 10 |dC/db_L|, else stable; also the log10 ratio and factor per layer."""
    first, last = float(log10_grad_b[0]), float(log10_grad_b[-1])
    depth = len(log10_grad_b)
    if depth == 1 or math.isnan(first) or math.isnan(last):
        return "stable", None, None
    if first == -math.inf:
        return "vanishing", (None if last == -math.inf else -math.inf), 0.0
    if last == -math.inf or first == math.inf:
        return "exploding", math.inf, math.inf
    ratio = first - last
    factor = 10.0 ** (ratio / (depth - 1)) if abs(ratio / (depth - 1)) < 300 else (0.0 if ratio < 0 else math.inf)
    name = "vanishing" if ratio < -REGIME_LOG10 else "exploding" if ratio > REGIME_LOG10 else "stable"
    return name, ratio, factor


def explain(act: Activation, w: np.ndarray, z: np.ndarray, gain: np.ndarray, name: str, err: float) -> str:
    """One sentence on why the chain is in its regime."""
    if err == 0:
        return "the output already equals the target, so every gradient is zero."
    inner = np.abs(gain[1:])
    if inner.size == 0:
        return "a single layer has nothing to compare with."
    _, ln_dact = dact_and_log(act, z)
    if name == "vanishing" and np.any(np.isneginf(ln_dact)):
        dead = int(np.count_nonzero(np.isneginf(ln_dact)))
        return f"{dead} layer(s) have f'(z) = 0 (a dead or fully saturated {act.name} unit), which stops the gradient."
    peak = activations.peak_dact(act).value
    max_w = float(np.max(np.abs(w[1:])))
    saturated = np.abs(z) > 30
    if name == "vanishing" and act.name in ("sigmoid", "tanh", "softsign") and np.mean(saturated) >= 0.5:
        return (f"most {act.name} units are saturated (|z| up to {float(np.max(np.abs(z))):.3g}), where f'(z) is tiny, "
                "so each layer multiplies the gradient by almost 0.")
    n_small, n_big = int(np.count_nonzero(inner < 1)), int(np.count_nonzero(inner > 1))
    if name == "vanishing" and peak * max_w < 1:
        return (f"every {act.name} factor f'(z) <= {peak:.4g} and every |w| < {1 / peak:.4g} here, "
                "so each layer multiplies the gradient by less than 1.")
    if name == "vanishing":
        return f"{n_small} of {inner.size} layers have |w f'(z)| < 1, and their product outweighs the rest."
    if name == "exploding" and n_big == inner.size:
        lo = float(np.min(inner))
        return f"every factor |w f'(z)| >= {lo:.4g} > 1 here (|w| up to {max_w:.4g}), so the product grows with depth."
    if name == "exploding":
        return f"{n_big} of {inner.size} layers have |w f'(z)| > 1, and their product outweighs the rest."
    return "the factors |w f'(z)| multiply to within a factor of 10 of 1 across the chain."


# ---------------------------------------------------------------- the whole run
def _check(depth: int, x: float, target: float, lr: float | None, act: Activation) -> None:
    if not isinstance(depth, (int, np.integer)) or not 1 <= depth <= MAX_DEPTH:
        raise GradsimError(f"depth must be a whole number from 1 to {MAX_DEPTH:,}, got {depth}", option="--depth")
    if not math.isfinite(x):
        raise GradsimError(f"input must be a finite number, got {x}", option="--input")
    if not math.isfinite(target):
        raise GradsimError(f"target must be a finite number, got {target}", option="--target")
    if not act.lo <= target <= act.hi:
        raise GradsimError(f"target {target:g} is outside the range of {act.name}, {act.range_text()}", option="--target")
    if lr is not None and not (math.isfinite(lr) and lr > 0):
        raise GradsimError(f"learning rate must be a finite number > 0, got {lr}", option="--lr")


def resolve_preset(preset: str | None, **given) -> dict:
    """The preset's settings (or the defaults) with every option given (not None) on top."""
    if preset is not None and preset not in PRESETS:
        raise unknown("preset", preset, PRESETS, "--preset")
    settings = dict(PRESETS[preset] if preset else DEFAULTS)
    settings.update({k: v for k, v in given.items() if v is not None})
    return settings


def run_chain(act: Activation, w: np.ndarray, b: np.ndarray | None, x: float, target: float,
              lr: float | None = None, **labels) -> ChainResult:
    """Forward and backward through the chain with weights w and biases b (None: zero-z)."""
    fw = forward(act, w, b, x)
    g = backward(act, w, fw, target)
    err, _, ln_err = _error(fw, target)
    name, ratio, factor = regime(g["log10_grad_b"]) if err != 0 else ("stable", None, None)
    cost = 0.5 * err * err if ln_err < LN_FLOAT_MAX / 2 else math.inf
    return ChainResult(activation=act.name, alpha=act.alpha, depth=len(w), input=x, target=target, w=w, b=fw.b,
                       z=fw.z, a=fw.a, log10_abs_z=fw.ln_abs_z / LN10, log10_abs_a=fw.ln_abs_a / LN10,
                       sign_a=fw.sign_a, cost=cost, log10_cost=(2 * ln_err - math.log(2)) / LN10, lr=lr,
                       regime=name, log10_ratio=ratio, factor_per_layer=factor,
                       why=explain(act, w, fw.z, g["gain"], name, err), **g,
                       **{"seed": None, "weights_spec": "given", "biases_spec": "given", "preset": None, **labels})


def vanish(depth: int | None = None, act: str | None = None, alpha: float | None = None, weights: Spec | None = None,
           biases: Spec | None = None, input: float | None = None, target: float | None = None,
           seed: int | None = None, lr: float | None = None, preset: str | None = None) -> ChainResult:
    """Follow the gradient back through a chain of single neurons (Nielsen, ch. 5); see `run_chain`."""
    s = resolve_preset(preset, depth=depth, act=act, weights=weights, biases=biases, input=input, target=target,
                       seed=seed)
    activation = activations.get(s["act"], alpha)
    _check(s["depth"], float(s["input"]), float(s["target"]), lr, activation)
    rng = np.random.default_rng(s["seed"])
    w = layer_values(s["weights"], s["depth"], rng, "--weights")
    b = layer_values(s["biases"], s["depth"], rng, "--biases", allow_zero_z=True)
    spec_text = {k: s[k] if isinstance(s[k], str) else "given" for k in ("weights", "biases")}
    return run_chain(activation, w, b, float(s["input"]), float(s["target"]), lr, seed=s["seed"],
                     weights_spec=spec_text["weights"], biases_spec=spec_text["biases"], preset=preset)
