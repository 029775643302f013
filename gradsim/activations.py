"""The activation registry: value f, derivative f', ln|f'|, output range and inverse.

Every activation comes in two forms: f, f' (`.f`, `.dact`) vectorised over numpy
arrays, and f1, df1 on one python float in plain `math` (a sequential loop, a
descent walk or a chain's forward pass, calls f once per step: numpy costs 3-30 us
a call there, `math` 0.1-1 us). Both are stable for large |x|: no overflow
warnings or exceptions, no nan, derivatives computed so that they do not lose
all their digits in the tails (sigmoid'(40) is 4.2e-18, not 0). A formula that
needs no branch is written once and serves both forms.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Sequence

import numpy as np

from .errors import GradsimError, unknown

Array = np.ndarray
Fn = Callable[[Array], Array]
#: f or f' on one python float (plain `math`; never raises, math.exp only sees arguments <= 0).
Scalar = Callable[[float], float]

#: SELU constants (Klambauer et al. 2017), to the digits C. Hansen, "Activation Functions Explained" (mlfromscratch) quotes.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946
#: sqrt(2 / pi), the constant of the tanh form of GELU.
GELU_C = math.sqrt(2.0 / math.pi)
GELU_K = 0.044715
_LN_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT2 = math.sqrt(2.0)
#: Beyond |x| = HUGE, x phi(x) and x u' sigma(-2u) meet inf * 0: f' is taken as its limit, 1 or 0.
HUGE = 1e100
#: f(c x) = c f(x) for c > 0: for symmetric x, E f(x)^2 = k E x^2, and the correlation map does not depend on the
#: scale of its inputs.
POSITIVELY_HOMOGENEOUS = ("relu", "leaky-relu", "prelu", "linear")


def _arr(x) -> Array:
    return np.asarray(x, dtype=float)


def _on_arrays(fn: Callable) -> Fn:
    """`fn`, a formula written once for floats and arrays alike, on np.asarray(x); overflow to inf is a result."""

    def on_arrays(x):
        with np.errstate(over="ignore"):
            return fn(_arr(x))

    return on_arrays


# ---------------------------------------------------------------- building blocks
def sigmoid(x) -> Array:
    """sigma(x) = 1 / (1 + e^-x), evaluated without overflow for any x."""
    x = _arr(x)
    # e^min(x,0) / (1 + e^-|x|): the two branches in one expression (no np.where: 2.4x faster on mixed signs)
    return np.exp(np.minimum(x, 0.0)) / (1.0 + np.exp(-np.abs(x)))


def sigmoid1(x: float) -> float:
    """sigma(x) for one float, via e^-|x| as `sigmoid`."""
    e = math.exp(-abs(x))
    return 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)


def log_sigmoid(x) -> Array:
    """ln sigma(x) = -softplus(-x)."""
    return -softplus(-_arr(x))


def softplus(x) -> Array:
    """ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|)."""
    x = _arr(x)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def softplus1(x: float) -> float:
    """softplus(x) for one float, as `softplus`."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _bell(e, k: float = 1.0):
    """k e / (1 + e)^2: sigma'(x) with e = e^-|x|, tanh'(x) with e = e^-2|x| and k = 4 (floats or arrays)."""
    d = 1.0 + e
    return k * e / (d * d)


def dsigmoid(x) -> Array:
    """sigma'(x) = sigma(x)(1 - sigma(x)) = e^-|x| / (1 + e^-|x|)^2 (symmetric form keeps the tails)."""
    return _bell(np.exp(-np.abs(_arr(x))))


def sigmoid_and_d(x) -> tuple[Array, Array]:
    """(sigma(x), sigma'(x)) sharing e = e^-|x|: the same numbers as `sigmoid` and `dsigmoid`, in 9 passes, not 14."""
    x = _arr(x)
    e, d, f = np.empty_like(x), np.empty_like(x), np.empty_like(x)  # outs, so a 0-d x stays an array throughout
    np.abs(x, out=e)
    np.negative(e, out=e)
    np.exp(e, out=e)
    np.add(e, 1.0, out=d)
    np.minimum(x, 0.0, out=f)
    np.exp(f, out=f)
    f /= d
    d *= d
    np.divide(e, d, out=e)
    return f, e


def dsigmoid1(x: float) -> float:
    """sigma'(x) for one float, as `dsigmoid`."""
    return _bell(math.exp(-abs(x)))


def log_dsigmoid(x) -> Array:
    """ln sigma'(x) = -softplus(x) - softplus(-x)."""
    x = _arr(x)
    return -softplus(x) - softplus(-x)


def norm_cdf1(x: float) -> float:
    """Phi(x) = erfc(-x / sqrt 2) / 2 for one float."""
    return 0.5 * math.erfc(-x / _SQRT2)


#: Depth of the continued fraction `mills` for t >= each band's start (measured against mpmath to 3e-16).
_MILLS_DEPTH = ((10.0, 6), (6.0, 12), (4.0, 16), (3.0, 24))


def mills(t) -> Array:
    """The Mills ratio R(t) = Phi(-t) / phi(t) for t >= 3, to 3e-16: the even part of Laplace's continued fraction
    R = 1/(t + 1/(t + 2/(t + 3/(t + ...)))), that is t / (t^2 + 1 - 1*2 / (t^2 + 5 - 3*4 / (t^2 + 9 - ...))).

    Evaluated backwards to a depth chosen per band of t (24 terms at t = 3, 6 beyond t = 10); inf gives 0.
    """
    t = _arr(t)
    out = np.zeros(t.shape)
    lower = np.inf
    for start, depth in _MILLS_DEPTH:
        band = (t >= start) & (t < lower)
        lower = start
        tb = t[band]
        if tb.size == 0:
            continue
        huge = tb > 1e8  # R(t) = 1/t (1 - 1/t^2 + ...): 1/t to 1e-16, and t^2 would overflow past 1e154
        t2 = np.where(huge, 1.0, tb) ** 2
        r = np.zeros(tb.shape)
        for k in range(depth, 0, -1):
            r = (2 * k - 1) * (2 * k) / (t2 + (4 * k + 1) - r)
        out[band] = np.where(huge, 1.0 / tb, tb / (t2 + 1.0 - r))
    return out


def _erf_series(y) -> Array:
    """erf(y) = 2/sqrt(pi) e^(-y^2) sum_n (2 y^2)^n y / (1 3 5 ... (2n+1)): every term positive; 24 terms for |y| < 1.07."""
    term = y.copy()
    total = y.copy()
    y2 = 2.0 * y * y
    for n in range(1, 24):
        term *= y2 / (2 * n + 1)
        total += term
    return total * np.exp(-y * y) * (2.0 / math.sqrt(math.pi))


def norm_cdf(x) -> Array:
    """Phi(x) = erfc(-x / sqrt 2) / 2, vectorised: a positive series for |x| < 1.5, phi(x) R(|x|) (`mills`) in the
    tails |x| >= 3, and `norm_cdf1` (math.erfc) on each element between."""
    x = _arr(x)
    out = np.empty(x.shape)
    t = np.abs(x)
    small, tail = t < 1.5, t >= 3.0
    out[small] = 0.5 + 0.5 * _erf_series(x[small] / _SQRT2)
    upper = norm_pdf(t[tail]) * mills(t[tail])  # Phi(-t)
    out[tail] = np.where(x[tail] < 0, upper, 1.0 - upper)
    middle = ~(small | tail)  # and nan
    erfc = np.fromiter(map(math.erfc, (-x[middle] / _SQRT2).tolist()), dtype=float, count=int(middle.sum()))
    out[middle] = 0.5 * erfc  # bit for bit norm_cdf1 (math.erfc) in the middle band
    return out.reshape(x.shape) if x.ndim else out[()]


def norm_pdf(x) -> Array:
    """phi(x) = e^(-x^2/2) / sqrt(2 pi)."""
    x = _arr(x)
    with np.errstate(over="ignore"):
        return np.exp(-0.5 * x * x - _LN_SQRT_2PI)


def norm_pdf1(x: float) -> float:
    """phi(x) for one float, as `norm_pdf` (x^2 may be inf: e^-inf = 0)."""
    return math.exp(-0.5 * x * x - _LN_SQRT_2PI)


def _log_abs(x) -> Array:
    """ln|x|, with ln 0 = -inf and no warning."""
    with np.errstate(divide="ignore"):
        return np.log(np.abs(x))


def _limits_beyond_huge(df: Fn) -> Fn:
    """f'(x) from `df`, but its limit 1 for x > HUGE and 0 for x < -HUGE (where df meets inf * 0)."""

    def on_arrays(x):
        x = _arr(x)
        with np.errstate(over="ignore", invalid="ignore"):
            return np.where(np.abs(x) > HUGE, np.where(x > 0, 1.0, 0.0), df(x))

    return on_arrays


def _limits_beyond_huge1(df1: Scalar) -> Scalar:
    """`_limits_beyond_huge` for one float."""

    def on_float(x: float) -> float:
        if abs(x) > HUGE:
            return 1.0 if x > 0 else 0.0
        return df1(x)

    return on_float


@dataclass(frozen=True)
class _Kit:
    """The building blocks a formula written once is given: on arrays (numpy) or on one float (`math`)."""

    sigmoid: Callable
    norm_cdf: Callable
    norm_pdf: Callable


_ARRAYS = _Kit(sigmoid, norm_cdf, norm_pdf)
_FLOATS = _Kit(sigmoid1, norm_cdf1, norm_pdf1)


class _Forms(NamedTuple):
    """f and f' on arrays, f1 and df1 on one float."""

    f: Fn
    df: Fn
    f1: Scalar
    df1: Scalar


def _both_forms(forms: Callable[[_Kit], tuple[Callable, Callable]], limit_tails: bool = False) -> _Forms:
    """f, f' on arrays and f1, df1 on floats from one formula `forms(kit)`; limit_tails: f' -> 1, 0 beyond +-HUGE."""
    f, df = (_on_arrays(fn) for fn in forms(_ARRAYS))
    f1, df1 = forms(_FLOATS)
    if limit_tails:
        df, df1 = _limits_beyond_huge(df), _limits_beyond_huge1(df1)
    return _Forms(f, df, f1, df1)


# ---------------------------------------------------------------- the activations
def _tanh_d(x):
    """tanh'(x) = 1 - tanh^2 x = 4 e^-2|x| / (1 + e^-2|x|)^2."""
    e = np.exp(-np.abs(_arr(x)))
    return _bell(e * e, 4.0)


def _tanh_d1(x: float) -> float:
    """tanh'(x) for one float, as `_tanh_d`."""
    e = math.exp(-abs(x))
    return _bell(e * e, 4.0)


def _tanh_logd(x):
    """ln tanh'(x) = ln 4 - 2|x| - 2 ln(1 + e^-2|x|)."""
    ax = np.abs(_arr(x))
    with np.errstate(over="ignore"):
        return math.log(4.0) - 2.0 * ax - 2.0 * np.log1p(np.exp(-ax) ** 2)


def _relu_family(alpha: float) -> tuple[Fn, Fn, Scalar, Scalar]:
    """f(x) = x for x > 0 else alpha x;  f'(x) = 1 for x > 0 else alpha (PyTorch: f'(0) = alpha); f1, df1 on floats."""

    def f(x):
        x = _arr(x)
        with np.errstate(over="ignore"):  # alpha 1000 at -1e308: -inf is the value, not a warning
            return np.where(x > 0, x, alpha * x) + 0.0  # + 0.0 turns -0.0 into 0.0

    def df(x):
        x = _arr(x)
        return np.where(x > 0, 1.0, alpha)

    def f1(x: float) -> float:
        return x if x > 0 else alpha * x + 0.0

    def df1(x: float) -> float:
        return 1.0 if x > 0 else alpha

    return f, df, f1, df1


def _elu_family(alpha: float, scale: float) -> tuple[Fn, Fn, Fn, Scalar, Scalar]:
    """f(x) = scale * (x if x > 0 else alpha (e^x - 1)); f'(x) = scale * (1 if x > 0 else alpha e^x); ln f'; floats."""

    def f(x):
        x = _arr(x)
        return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))

    def df(x):
        x = _arr(x)
        return scale * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))

    def logd(x):
        x = _arr(x)
        return math.log(scale) + np.where(x > 0, 0.0, math.log(alpha) + np.minimum(x, 0.0))

    def f1(x: float) -> float:
        return scale * (x if x > 0 else alpha * math.expm1(x))

    def df1(x: float) -> float:
        return scale * (1.0 if x > 0 else alpha * math.exp(x))

    return f, df, logd, f1, df1


def _gelu_forms(kit: _Kit) -> tuple[Callable, Callable]:
    """GELU(x) = x Phi(x) and GELU'(x) = Phi(x) + x phi(x)."""
    cdf, pdf = kit.norm_cdf, kit.norm_pdf
    return (lambda x: x * cdf(x)), (lambda x: cdf(x) + x * pdf(x))


def _gelu_logd(x):
    """ln|Phi(x) + x phi(x)|; for x <= -3 as ln phi(x) + ln(|x| - R(|x|)) with the Mills ratio R (`mills`)."""
    x = _arr(x)
    direct = _log_abs(_GELU.df(np.maximum(x, -3.0)))
    t = np.abs(np.minimum(x, -3.0))
    with np.errstate(over="ignore", invalid="ignore"):
        tail = -0.5 * t * t - _LN_SQRT_2PI + np.log(t - mills(t))
    return np.where(x < -3.0, tail, direct)


def _gelu_tanh_2u(x):
    """2u = 2 sqrt(2/pi) (x + 0.044715 x^3), with x^3 as x*x*x (inf on a float, not OverflowError)."""
    return 2.0 * GELU_C * (x + GELU_K * (x * x * x))


def _gelu_tanh_inner(x, two_u, sig: Callable):
    """1 + 2 x u' sigma(-2u), u' = sqrt(2/pi) (1 + 3 * 0.044715 x^2)."""
    du = GELU_C * (1.0 + 3.0 * GELU_K * x * x)
    return 1.0 + 2.0 * x * du * sig(-two_u)


def _gelu_tanh_forms(kit: _Kit) -> tuple[Callable, Callable]:
    """0.5 x (1 + tanh u) = x sigma(2u) and its derivative sigma(2u) [1 + 2 x u' sigma(-2u)]."""
    sig = kit.sigmoid

    def f(x):
        return x * sig(_gelu_tanh_2u(x))

    def df(x):
        two_u = _gelu_tanh_2u(x)
        return sig(two_u) * _gelu_tanh_inner(x, two_u, sig)

    return f, df


def _gelu_tanh_logd(x):
    """ln sigma(2u) + ln|1 + 2 x u' sigma(-2u)|."""
    x = _arr(x)
    with np.errstate(over="ignore", invalid="ignore"):
        two_u = _gelu_tanh_2u(x)
        inner = _gelu_tanh_inner(x, two_u, sigmoid)
        return np.where(np.abs(x) > HUGE, np.where(x > 0, 0.0, -np.inf), log_sigmoid(two_u) + _log_abs(inner))


def _swish_inner(x, sig: Callable):
    """1 + x sigma(-x), so that swish'(x) = sigma(x) (1 + x sigma(-x))."""
    return 1.0 + x * sig(-x)


def _swish_forms(kit: _Kit) -> tuple[Callable, Callable]:
    """swish(x) = x sigma(x) (SiLU) and swish'(x) = sigma(x) [1 + x sigma(-x)]."""
    sig = kit.sigmoid
    return (lambda x: x * sig(x)), (lambda x: sig(x) * _swish_inner(x, sig))


def _swish_logd(x):
    """ln sigma(x) + ln|1 + x sigma(-x)|."""
    x = _arr(x)
    return log_sigmoid(x) + _log_abs(_swish_inner(x, sigmoid))


def _softsign(x):
    """x / (1 + |x|) (floats or arrays)."""
    return x / (1.0 + abs(x))


def _softsign_d(x):
    """1 / (1 + |x|)^2 (floats or arrays; (1 + |x|)^2 may be inf)."""
    d = 1.0 + abs(x)
    return 1.0 / (d * d)


_GELU = _both_forms(_gelu_forms, limit_tails=True)
_GELU_TANH = _both_forms(_gelu_tanh_forms, limit_tails=True)
_SWISH = _both_forms(_swish_forms)
_SOFTSIGN = _Forms(_on_arrays(_softsign), _on_arrays(_softsign_d), _softsign, _softsign_d)


# ---------------------------------------------------------------- inverses
def _logit(y):
    """sigma^-1(y) = ln y - ln(1 - y)."""
    y = _arr(y)
    with np.errstate(divide="ignore"):
        return np.log(y) - np.log1p(-y)


def _inverse_relu_family(alpha: float) -> Fn:
    """y for y >= 0, y / alpha below (alpha > 0)."""

    def inv(y):
        y = _arr(y)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # -1e308 / 0.01 is -inf
            return np.where(y >= 0, y, y / alpha if alpha > 0 else np.nan)

    return inv


def _inverse_elu_family(alpha: float, scale: float) -> Fn:
    """y / scale for y > 0, ln(1 + y / (scale alpha)) below."""

    def inv(y):
        y = _arr(y)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(y > 0, y / scale, np.log1p(np.minimum(y, 0.0) / (scale * alpha)))

    return inv


def _inverse_softplus(y):
    """ln(e^y - 1) = y + ln(1 - e^-y)."""
    y = _arr(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        return y + np.log(-np.expm1(-y))


def _inverse_softsign(y):
    """y / (1 - |y|)."""
    y = _arr(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        return y / (1.0 - np.abs(y))


def _branch_minimum(df: Fn, lo: float = -4.0, hi: float = 0.0) -> float:
    """The x in [lo, hi] where f'(x) = 0 (f' < 0 left of it, > 0 right), by bisection."""
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if df(mid) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _bisection_inverse(f: Fn, x_min: float) -> Fn:
    """f^-1 on the increasing branch x >= x_min, vectorised bisection (f(x) >= x for x > 0 here)."""

    def inv(y):
        y = _arr(y)
        lo = np.full(y.shape, x_min)
        hi = np.maximum(np.abs(y), 1.0) + 1.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            below = f(mid) < y
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        return 0.5 * (lo + hi)

    return inv


# ---------------------------------------------------------------- the registry
@dataclass(frozen=True)
class Activation:
    """A scalar activation f with f', ln|f'| and f^-1 on its increasing branch; f1, df1: f and f' on one float."""

    name: str
    formula: str
    f: Fn = field(repr=False)
    df: Fn = field(repr=False)
    lo: float
    hi: float
    lo_closed: bool = False
    hi_closed: bool = False
    inverse: Fn | None = field(default=None, repr=False)
    log_df: Fn | None = field(default=None, repr=False)
    alpha: float | None = None
    branch: str = "the whole line (f is increasing)"
    branch_start: float = -math.inf
    f1: Scalar = field(kw_only=True, repr=False)
    df1: Scalar = field(kw_only=True, repr=False)
    f_df: Callable[[Array], tuple[Array, Array]] | None = field(default=None, kw_only=True, repr=False)
    #: The sign of f'(x) far left, where f'(x) may underflow to 0 (gelu, gelu-tanh and swish dip below 0 there).
    left_tail_sign: float = field(default=1.0, kw_only=True)

    def dact(self, x) -> Array:
        """f'(x)."""
        return self.df(x)

    def value_and_dact(self, x) -> tuple[Array, Array]:
        """(f(x), f'(x)): the numbers of `f` and `dact`, computed together where a fused form shares the work."""
        if self.f_df is not None:
            return self.f_df(x)
        return self.f(x), self.df(x)

    def sign_dact(self, x) -> Array:
        """The sign of f'(x), right even where f'(x) underflows to 0 but ln|f'(x)| is finite.

        Where it underflows |x| is large: f' has the sign of its tail there (left_tail_sign for x < 0; +1 for x > 0,
        where every activation here increases).
        """
        x = _arr(x)
        with np.errstate(invalid="ignore", over="ignore"):
            d = np.sign(self.df(x))
            tiny = (d == 0) & np.isfinite(self.log_dact(x))
        return np.where(tiny, np.where(x < 0, self.left_tail_sign, 1.0), d)

    def log_dact(self, x) -> Array:
        """ln|f'(x)|, finite wherever f'(x) != 0 even if f'(x) underflows."""
        if self.log_df is not None:
            return self.log_df(x)
        return _log_abs(self.df(x))

    def in_range(self, y: float) -> bool:
        """Whether y is a value f can take."""
        above = y >= self.lo if self.lo_closed else y > self.lo
        below = y <= self.hi if self.hi_closed else y < self.hi
        return bool(above and below)

    def range_text(self) -> str:
        """The output range in interval notation, e.g. (0, 1) or [0, inf)."""
        def num(v):
            return "inf" if v == math.inf else "-inf" if v == -math.inf else f"{v:.4g}"
        return f"{'[' if self.lo_closed else '('}{num(self.lo)}, {num(self.hi)}{']' if self.hi_closed else ')'}"


#: Activations with a parameter, and its default (leaky-relu 0.01, prelu 0.25, elu 1.0).
ALPHA_DEFAULTS = {"leaky-relu": 0.01, "prelu": 0.25, "elu": 1.0}
#: The largest alpha: a negative-side slope (or elu scale) of 1000 is already far outside practice, and it
#: keeps alpha^2 and the theory's searches inside float64.
ALPHA_MAX = 1000.0


def _make_sigmoid(_):
    return Activation("sigmoid", "1 / (1 + e^-x)", sigmoid, dsigmoid, 0.0, 1.0,
                      inverse=_logit, log_df=log_dsigmoid, f1=sigmoid1, df1=dsigmoid1,
                      f_df=sigmoid_and_d)


def _make_tanh(_):
    return Activation("tanh", "(e^x - e^-x)/(e^x + e^-x)", lambda x: np.tanh(_arr(x)), _tanh_d,
                      -1.0, 1.0, inverse=lambda y: np.arctanh(_arr(y)), log_df=_tanh_logd, f1=math.tanh, df1=_tanh_d1)


def _make_relu_like(name: str):
    def make(alpha):
        a = 0.0 if name == "relu" else alpha
        formula = "max(0, x)" if name == "relu" else f"x if x > 0 else {a:g}x"
        f, df, f1, df1 = _relu_family(a)
        lo, closed = (0.0, True) if a == 0 else (-math.inf, False)
        branch = "x >= 0 (f is flat below 0)" if a == 0 else Activation.branch
        return Activation(name, formula, f, df, lo, math.inf, lo_closed=closed, inverse=_inverse_relu_family(a),
                          alpha=None if name == "relu" else a, branch=branch, branch_start=0.0 if a == 0 else -math.inf,
                          f1=f1, df1=df1)
    return make


def _make_elu(alpha):
    f, df, logd, f1, df1 = _elu_family(alpha, 1.0)
    return Activation("elu", f"x if x > 0 else {alpha:g}(e^x - 1)", f, df, -alpha, math.inf,
                      inverse=_inverse_elu_family(alpha, 1.0), log_df=logd, alpha=alpha, f1=f1, df1=df1)


def _make_selu(_):
    f, df, logd, f1, df1 = _elu_family(SELU_ALPHA, SELU_LAMBDA)
    return Activation("selu", "lambda elu(x; alpha)", f, df, -SELU_LAMBDA * SELU_ALPHA, math.inf,
                      inverse=_inverse_elu_family(SELU_ALPHA, SELU_LAMBDA), log_df=logd, f1=f1, df1=df1)


def _make_non_monotone(name, formula, forms: _Forms, logd):
    def make(_):
        x_min = _branch_minimum(forms.df)
        f_min = float(forms.f(x_min))
        return Activation(name, formula, forms.f, forms.df, f_min, math.inf, lo_closed=True,
                          inverse=_bisection_inverse(forms.f, x_min), log_df=logd,
                          branch=f"x >= {x_min:.4f} (the increasing branch, right of the minimum {f_min:.5f})",
                          branch_start=x_min, f1=forms.f1, df1=forms.df1, left_tail_sign=-1.0)
    return make


def _make_softsign(_):
    return Activation("softsign", "x / (1 + |x|)", _SOFTSIGN.f, _SOFTSIGN.df, -1.0, 1.0, inverse=_inverse_softsign,
                      log_df=lambda x: -2.0 * np.log1p(np.abs(_arr(x))), f1=_SOFTSIGN.f1, df1=_SOFTSIGN.df1)


def _make_softplus(_):
    return Activation("softplus", "ln(1 + e^x)", softplus, sigmoid, 0.0, math.inf,
                      inverse=_inverse_softplus, log_df=log_sigmoid, f1=softplus1, df1=sigmoid1)


def _make_linear(_):
    return Activation("linear", "x", lambda x: _arr(x) * 1.0, lambda x: np.ones_like(_arr(x)),
                      -math.inf, math.inf, inverse=lambda y: _arr(y) * 1.0, log_df=lambda x: np.zeros_like(_arr(x)),
                      f1=float, df1=lambda x: 1.0)


_FACTORIES: dict[str, Callable[[float | None], Activation]] = {
    "sigmoid": _make_sigmoid,
    "tanh": _make_tanh,
    "relu": _make_relu_like("relu"),
    "leaky-relu": _make_relu_like("leaky-relu"),
    "prelu": _make_relu_like("prelu"),
    "elu": _make_elu,
    "selu": _make_selu,
    "gelu": _make_non_monotone("gelu", "x Phi(x)", _GELU, _gelu_logd),
    "gelu-tanh": _make_non_monotone("gelu-tanh", "0.5x(1+tanh(0.79788(x+0.044715x^3)))",
                                    _GELU_TANH, _gelu_tanh_logd),
    "softsign": _make_softsign,
    "softplus": _make_softplus,
    "swish": _make_non_monotone("swish", "x sigma(x)", _SWISH, _swish_logd),
    "linear": _make_linear,
}

#: Every chain activation name, in the order tables list them.
NAMES: tuple[str, ...] = tuple(_FACTORIES)


def get(name: str, alpha: float | None = None) -> Activation:
    """The activation called `name`, with parameter `alpha` where it has one."""
    key = name.strip().lower()
    if key not in _FACTORIES:
        raise unknown("activation", name, NAMES, "--act")
    if alpha is not None and key not in ALPHA_DEFAULTS:
        raise GradsimError(f"{key} has no parameter; --alpha applies to {', '.join(ALPHA_DEFAULTS)}", option="--alpha")
    if alpha is None:
        alpha = ALPHA_DEFAULTS.get(key)
    elif not 0 <= alpha <= ALPHA_MAX or (key == "elu" and alpha == 0):
        raise GradsimError(f"alpha must be a number in [0, {ALPHA_MAX:g}] (> 0 for elu), got {alpha}", option="--alpha")
    return _cached(key, alpha)


_CACHE: dict[tuple[str, float | None], Activation] = {}


def _cached(key: str, alpha: float | None) -> Activation:
    if (key, alpha) not in _CACHE:
        _CACHE[(key, alpha)] = _FACTORIES[key](alpha)
    return _CACHE[(key, alpha)]


def resolve_many(names: list[str] | None, alpha: float | None = None, default: tuple[str, ...] = NAMES) -> list[Activation]:
    """Activations for repeated --act values; 'all' or none means `default`; --alpha goes to those that take it."""
    chosen: list[str] = []
    for n in names or ["all"]:
        for part in n.split(","):
            part = part.strip().lower()
            keys = default if part == "all" else (part,)
            chosen.extend(k for k in keys if k not in chosen)
    if alpha is not None and not any(k in ALPHA_DEFAULTS for k in chosen):
        raise GradsimError(f"none of {', '.join(chosen)} has a parameter; --alpha applies to "
                           f"{', '.join(ALPHA_DEFAULTS)}", option="--alpha")
    return [get(k, alpha if k in ALPHA_DEFAULTS else None) for k in chosen]


# ---------------------------------------------------------------- softmax (a vector function)
def softmax(x) -> Array:
    """s_i = e^(x_i - max x) / sum_j e^(x_j - max x)."""
    x = _arr(x)
    with np.errstate(over="ignore"):  # x_i - max x may pass -1.8e308: -inf, and e^-inf = 0 is right
        e = np.exp(x - np.max(x))
    return e / e.sum()


#: `acts --softmax` gives the Jacobian (N^2 entries) up to this many values; the softmax itself for any number.
JACOBIAN_MAX = 100


def softmax_jacobian(x) -> Array:
    """ds_i/dx_j = s_i (delta_ij - s_j) = diag(s) - s s^T."""
    s = softmax(x)
    return np.diag(s) - np.outer(s, s)


# ---------------------------------------------------------------- summaries
@dataclass(frozen=True)
class Peak:
    """sup |f'(x)| over the real line, where it is reached, and whether it is reached at all."""

    value: float
    where: str
    at: float | None
    attained: bool = True


def _golden_max(g: Fn, a: float, b: float) -> float:
    """The x in [a, b] maximising g, by golden-section search."""
    r = (math.sqrt(5) - 1) / 2
    for _ in range(80):
        c, e = b - r * (b - a), a + r * (b - a)
        if g(c) > g(e):
            b = e
        else:
            a = c
    return 0.5 * (a + b)


@functools.lru_cache(maxsize=None)
def peak_dact(act: Activation) -> Peak:
    """sup |f'| from a fine grid over [-20, 20], refined by golden section; plateaus and limits said as such."""
    grid = np.linspace(-20.0, 20.0, 80_001)
    d = np.abs(act.dact(grid))
    top = float(d.max())
    on_top = np.flatnonzero(d >= top * (1 - 1e-12))
    lo, hi = float(grid[on_top[0]]), float(grid[on_top[-1]])
    flat = hi - lo > 0.1
    if flat and lo <= -20.0 and hi >= 20.0:
        return Peak(top, "all x", None)
    if flat:
        x0 = round(lo, 3)
        if hi < 20.0:
            return Peak(top, f"{x0:g} <= x <= {round(hi, 3):g}", None)
        return Peak(top, f"x {'>=' if abs(act.dact(x0)) >= top * (1 - 1e-12) else '>'} {x0:g}", None)
    if hi >= 20.0 or lo <= -20.0:
        edge = 1e6 if hi >= 20.0 else -1e6
        return Peak(float(abs(act.dact(edge))), f"x -> {'inf' if edge > 0 else '-inf'}", None, False)
    i = int(on_top[0])
    x = _golden_max(lambda t: abs(float(act.dact(t))), float(grid[i - 1]), float(grid[i + 1]))
    value = max(top, float(abs(act.dact(x))))
    if abs(x) < 1e-6:  # the peak is at 0 (sigmoid, tanh, softsign, selu): its value is f'(0) itself, not the
        x = 0.0        # rounding of f' a hair away from 0 (sigmoid's 0.25000000000000006 on the grid)
        value = float(abs(act.dact(0.0))) if abs(act.dact(0.0)) >= value * (1 - 1e-12) else value
    return Peak(value, f"x = {x:.4g}", x)


# ---------------------------------------------------------------- the catalogue (`gradsim acts`)
@dataclass(frozen=True)
class ActSummary:
    """One activation's row in the catalogue."""

    activation: Activation
    dact0: float
    peak: Peak

    @property
    def keeps_gradient(self) -> bool:
        """A chain can keep gradients from shrinking only if max |f'| >= 1 (given |w| <= 1)."""
        return self.peak.attained and self.peak.value >= 1 - 1e-9


@dataclass(frozen=True)
class ActsResult:
    """The catalogue, optional evaluations at points, optional softmax with its Jacobian."""

    summaries: list[ActSummary]
    points: np.ndarray | None
    values: np.ndarray | None  # shape (n_acts, n_points)
    derivatives: np.ndarray | None
    softmax_input: np.ndarray | None
    softmax_output: np.ndarray | None
    softmax_jacobian: np.ndarray | None  # None beyond JACOBIAN_MAX values


def parse_points(text: str | Sequence[float], option: str) -> np.ndarray:
    """A comma list of finite numbers."""
    if isinstance(text, str):
        try:
            values = [float(p) for p in text.split(",")]
        except ValueError:
            raise GradsimError(f"{text!r} is not a comma-separated list of numbers", option=option) from None
    else:
        values = [float(v) for v in text]
    if not values or not all(math.isfinite(v) for v in values):
        raise GradsimError("give one or more finite numbers (no nan or inf)", option=option)
    return np.array(values)


def acts(act: list[str] | None = None, alpha: float | None = None, at: str | Sequence[float] | None = None,
         softmax_of: str | Sequence[float] | None = None) -> ActsResult:
    """Every (or the chosen) activation: formula, range, f'(0), max |f'|; values at points; softmax and Jacobian."""
    chosen = resolve_many(act, alpha)
    summaries = [ActSummary(a, float(a.dact(0.0)), peak_dact(a)) for a in chosen]
    points = values = derivatives = s_in = s_out = s_jac = None
    if at is not None:
        points = parse_points(at, "--at")
        values = np.array([a.f(points) for a in chosen])
        derivatives = np.array([a.dact(points) for a in chosen])
    if softmax_of is not None:
        s_in = parse_points(softmax_of, "--softmax")
        s_out = softmax(s_in)
        s_jac = softmax_jacobian(s_in) if len(s_in) <= JACOBIAN_MAX else None  # N^2: 65,000 values would be 34 GB
    return ActsResult(summaries, points, values, derivatives, s_in, s_out, s_jac)
