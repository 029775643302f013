"""Nielsen's window: the inputs z where a weight w makes |w f'(z)| >= 1, so the gradient does not shrink.

Nielsen (Neural Networks and Deep Learning, ch. 5, problem): for the sigmoid the set of z with |w s'(z)| >= 1
is an interval of width (2/|w|) ln(|w| (1 + sqrt(1 - 4/|w|)) / 2 - 1) in a = sigma(z) once |w| >= 4; it is widest near |w| = 6.9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from . import activations
from .activations import Activation
from .errors import GradsimError
from .meanfield import X_INF, ActLike, Array, as_activation, peak

#: Where the numerical window search starts (|x| <= WINDOW_X) and where it calls a side unbounded.
WINDOW_X = 40.0
WINDOW_X_LIMIT = 1e12
#: Grid points of the numerical window search (edges are then refined by bisection).
WINDOW_GRID = 40_001
#: |w| scanned for the largest window, as multiples of the |w| where the window opens.
WINDOW_SCAN = np.geomspace(1.0, 1e3, 61)


def sigmoid_window_width(abs_w) -> Array:
    """Width in a of {a : |w sigma'(w a + b)| >= 1} = (2/|w|) ln(|w| (1 + sqrt(1 - 4/|w|)) / 2 - 1), 0 for |w| < 4.

    sigma' = s(1 - s) >= 1/|w| holds for s between s_-+ = (1 -+ r)/2, r = sqrt(1 - 4/|w|); x = logit s runs over
    [-2 artanh r, 2 artanh r], of width 2 ln((1 + r)/(1 - r)) = 2 ln(|w|(1 + r)/2 - 1); a = (x - b)/w divides by |w|.
    """
    w = np.abs(np.asarray(abs_w, dtype=float))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        r = np.sqrt(np.maximum(1.0 - 4.0 / w, 0.0))
        return np.where(w >= 4.0, 2.0 / w * np.log(w * (1.0 + r) / 2.0 - 1.0), 0.0)


def sigmoid_window_edge(abs_w) -> Array:
    """x_+ = 2 artanh(sqrt(1 - 4/|w|)): the window in x = w a + b is [-x_+, x_+] (nan for |w| < 4)."""
    w = np.abs(np.asarray(abs_w, dtype=float))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return np.where(w >= 4.0, 2.0 * np.arctanh(np.sqrt(np.maximum(1.0 - 4.0 / w, 0.0))), np.nan)


def _reach(inside: Callable[[Array], Array], sign: float) -> float:
    """How far out (|x|, doubling from WINDOW_X) the window may reach on one side; inf past WINDOW_X_LIMIT."""
    x = WINDOW_X
    while inside(np.array([sign * x]))[0]:
        x *= 2.0
        if x > WINDOW_X_LIMIT:
            return math.inf
    return x


def _edges(margin: Callable[[Array], Array], lo: Array, hi: Array) -> Array:
    """The sign change of margin between lo (one sign) and hi (the other), by 100 vectorised bisections."""
    m_lo = margin(lo) >= 0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        same = (margin(mid) >= 0) == m_lo
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    return 0.5 * (lo + hi)


def window_intervals(act: ActLike, abs_w: float) -> list[tuple[float, float]]:
    """The pieces of {x : |w f'(x)| >= 1} (x = w a + b), found on a grid and refined by bisection; +-inf if unbounded.

    The grid covers |x| <= X, doubled from WINDOW_X until |w f'| < 1 at both ends (else that side is unbounded),
    and it includes the point where |f'| is largest, so a window narrower than the grid step is still found.
    """
    act = as_activation(act)
    top = peak(act)
    if top.at is not None and abs_w * top.value == 1.0:
        # |w| = 1 / max|f'| touches only the peak: one point (float64 rounds f' to its peak for |x - at| < ~1e-8)
        return [(float(top.at), float(top.at))]
    log_w = math.log(abs_w)

    def margin(x):
        """ln|w f'(x)|: >= 0 inside the window."""
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            return act.log_dact(x) + log_w

    def inside(x):
        return margin(x) >= 0

    left, right = _reach(inside, -1.0), _reach(inside, 1.0)
    span = max(min(left, WINDOW_X_LIMIT), min(right, WINDOW_X_LIMIT))
    x = np.linspace(-span, span, WINDOW_GRID)
    at = peak(act).at
    if at is not None:
        x = np.sort(np.append(x, at))
    flags = inside(x)
    change = np.flatnonzero(flags[1:] != flags[:-1])
    edges = _edges(margin, x[change], x[change + 1]) if change.size else np.empty(0)
    starts = ([-math.inf] if flags[0] else []) + [e for e, c in zip(edges, change) if flags[c + 1]]
    ends = [e for e, c in zip(edges, change) if flags[c]] + ([math.inf] if flags[-1] else [])
    starts = [-math.inf if s == -span and left == math.inf else s for s in starts]
    return [(float(s), float(e) if not (e == span and right == math.inf) else math.inf) for s, e in zip(starts, ends)]


def window_width(act: ActLike, abs_w: float) -> float:
    """Width in a of {a : |w f'(w a + b)| >= 1}, numerically: the total length of `window_intervals` over |w|."""
    pieces = window_intervals(act, abs_w)
    return sum(hi - lo for lo, hi in pieces) / abs_w


@dataclass(frozen=True)
class WindowRow:
    """The window at one |w|: closed form (sigmoid only) and numerical, and where it lies in x = w a + b."""

    abs_w: float
    width: float  # the closed form for sigmoid, else the numerical width (inf if unbounded)
    width_closed_form: float | None
    width_numerical: float
    x_lo: float | None  # leftmost point of the window in x (None if empty)
    x_hi: float | None
    pieces: int  # 1 when the window is an interval


@dataclass(frozen=True)
class WindowResult:
    """|w f'(w a + b)| >= 1 holds for a in a window; its width against |w|, and the widest window."""

    activation: str
    alpha: float | None
    closed_form: bool
    opens_at: float  # |w| = 1 / sup|f'|: no window below it
    rows: list[WindowRow]
    max_width: float  # inf if the window is unbounded for some |w|
    at_abs_w: float | None
    max_width_numerical: float
    at_abs_w_numerical: float | None
    unbounded_from: float | None  # |w| beyond which the window is unbounded (f' does not decay on one side)


def _widest(width: Callable[[float], float], opens_at: float) -> tuple[float, float | None]:
    """(max width, |w| there): a scan over opens_at x WINDOW_SCAN, refined by golden section next to the best."""
    scan = opens_at * WINDOW_SCAN
    widths = np.array([width(w) for w in scan])
    if np.isinf(widths).any():
        return math.inf, None
    i = int(np.argmax(widths))
    lo, hi = scan[max(i - 1, 0)], scan[min(i + 1, scan.size - 1)]
    at = activations._golden_max(width, lo, hi)
    return float(width(at)), float(at)


def _unbounded_from(act: Activation) -> float | None:
    """1 / max |f'(+-inf)|: the |w| beyond which |w f'| >= 1 holds on a half line (None if f' decays both ways)."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        tail = float(np.max(np.abs(act.dact(np.array([X_INF, -X_INF])))))
    return 1.0 / tail if tail > 0 else None


#: The default |w| rows, as multiples of the |w| where the window opens (4 for sigmoid: 4, 4.5, ..., 12, 16, ...).
WINDOW_ROWS = tuple(1.0 + k / 8.0 for k in range(17)) + (4.0, 5.0, 10.0, 25.0)


def _decimal(x: float) -> float:
    """x to 12 significant digits: the |w| rows are the numbers the table prints (4, not 3.999999999999999)."""
    return float(f"{x:.12g}")


def window(act: str = "sigmoid", alpha: float | None = None, abs_w: str | Sequence[float] | None = None) -> WindowResult:
    """Width of {a : |w f'(w a + b)| >= 1} against |w|: Nielsen's closed form for sigmoid beside a numerical check.

    The width does not depend on b (b only shifts the window). Other activations are done numerically.
    """
    activation = activations.get(act, alpha)
    opens_at = _decimal(1.0 / peak(activation).value)
    if abs_w is None:
        ws = np.array([_decimal(opens_at * k) for k in WINDOW_ROWS])
    else:
        ws = np.abs(activations.parse_points(abs_w, "--abs-w"))
        if np.any(ws == 0) or np.any(ws > 1e15):
            raise GradsimError("every |w| must be > 0 and <= 1e15", option="--abs-w")
    closed = activation.name == "sigmoid"
    rows = []
    for w in ws:
        pieces = window_intervals(activation, float(w))
        numerical = sum(hi - lo for lo, hi in pieces) / w
        closed_width = float(sigmoid_window_width(w)) if closed else None
        rows.append(WindowRow(float(w), closed_width if closed else numerical, closed_width, numerical,
                              pieces[0][0] if pieces else None, pieces[-1][1] if pieces else None, len(pieces)))
    best, at = _widest(lambda w: window_width(activation, w), opens_at)
    if closed:
        max_width, max_at = _widest(lambda w: float(sigmoid_window_width(w)), opens_at)
    else:
        max_width, max_at = best, at
    return WindowResult(activation.name, activation.alpha, closed, opens_at, rows, max_width, max_at, best, at,
                        _unbounded_from(activation))
