"""Pascanu et al.'s cliff: the cost of a one-unit RNN over (w, b) and gradient descent across it, clipped or not.

h_t = f(w h_(t-1) + u x_t + b), C(w, b) = (h_T - y)^2 / 2. The wall lies where the map h -> f(w h + b) has a
fixed point h* that changes stability, |w f'(w h* + b)| = 1 (Pascanu, Mikolov & Bengio 2013, section 2.3);
there h_T jumps from one branch to the other and the gradient grows with T.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import clipping
from .activations import Activation
from .errors import GradsimError
from .window import window_intervals

#: The default grid (w, b) and start point: sigmoid with h0 = 0 and y = 0.7, a start just left of the wall.
W_RANGE, B_RANGE = (0.0, 10.0), (-8.0, 2.0)
GRID, MAX_GRID = 121, 401
START = (6.0, -3.2)
TARGET = 0.7
LR, DESCENT_STEPS, MAX_DESCENT = 1.0, 30, 10_000
THRESHOLD = 1.0
#: grid^2 x T, and descent steps x T x runs, above which a surface is refused (seconds of numpy beyond them).
MAX_GRID_WORK, MAX_DESCENT_WORK = 3e8, 3e5


@dataclass(frozen=True)
class Trajectory:
    """Gradient descent on (w, b) from the start point; mode 'none' is not clipped."""

    mode: str
    w: np.ndarray  # (k+1,) every point visited
    b: np.ndarray
    cost: np.ndarray
    log10_grad_norm: np.ndarray
    step_length: np.ndarray  # (k,) ||(dw, db)|| of each step
    clipped_steps: int
    diverged_at: int | None


@dataclass(frozen=True)
class Surface:
    """C(w, b) on a grid (rows: b, columns: w), the gradient norm and the wall."""

    w: np.ndarray
    b: np.ndarray
    cost: np.ndarray  # (len(b), len(w))
    log10_grad_norm: np.ndarray
    wall_w: np.ndarray  # points (w, b) where a fixed point has |w f'| = 1
    wall_b: np.ndarray
    target: float
    lr: float
    threshold: float
    trajectories: tuple[Trajectory, ...]


def forward_mode(act: Activation, w, b, u: float, x: np.ndarray, h0: float, target: float):
    """h_T, C, dC/dw and dC/db for arrays of (w, b), by forward-mode differentiation through the T steps."""
    w, b = np.asarray(w, dtype=float), np.asarray(b, dtype=float)
    h, dw, db = np.full(np.broadcast(w, b).shape, h0), np.zeros(np.broadcast(w, b).shape), 0.0
    with np.errstate(all="ignore"):
        for xt in x:
            z = w * h + (u * xt + b)
            d = act.dact(z)
            dw, db = d * (h + w * dw), d * (1.0 + w * db)
            h = act.f(z)
        e = h - target
        return h, 0.5 * e * e, e * dw, e * db


def _log10_norm(gw, gb) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.log10(np.hypot(gw, gb))


def wall(act: Activation, ws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(w, b) where h = f(w h + b) has a fixed point with |w f'| = 1: the edges x of Nielsen's window
    {x : |w f'(x)| >= 1} (gradsim.window), each giving h* = f(x) and b = x - w h*."""
    out_w, out_b = [], []
    for w in ws:
        if w == 0:
            continue
        for lo, hi in window_intervals(act, abs(float(w))):
            for x in (lo, hi):
                if math.isfinite(x):
                    out_w.append(w)
                    out_b.append(x - w * float(act.f(x)))
    return np.array(out_w), np.array(out_b)


def _clip(mode: str, g: np.ndarray, p: np.ndarray, threshold: float) -> np.ndarray:
    """The gradient (dC/dw, dC/db) clipped by `mode` (adaptive: the unit (w, b), lambda = threshold)."""
    if mode == "none":
        return g
    return clipping.clip_blocks(mode, [g[None]], threshold, lam=threshold, weights=[p[None]])[0][0]


def descend(act: Activation, start: tuple[float, float], u: float, x: np.ndarray, h0: float, target: float,
            lr: float, steps: int, mode: str, threshold: float) -> Trajectory:
    """(w, b) <- (w, b) - lr clip(dC/dw, dC/db) for `steps` steps."""
    p = np.array(start, dtype=float)
    ws, bs, costs, norms, lengths = [], [], [], [], []
    clipped, diverged = 0, None
    for k in range(steps + 1):
        _, c, gw, gb = forward_mode(act, p[0], p[1], u, x, h0, target)
        ws.append(p[0]), bs.append(p[1]), costs.append(float(c)), norms.append(float(_log10_norm(gw, gb)))
        if k == steps:
            break
        g = np.array([float(gw), float(gb)])
        step = _clip(mode, g, p, threshold)
        clipped += mode != "none" and not np.array_equal(step, g)
        with np.errstate(all="ignore"):
            p = p - lr * step
            lengths.append(float(np.hypot(*(lr * step))))
        if not np.all(np.isfinite(p)):
            diverged = k + 1
            break
    return Trajectory(mode, np.array(ws), np.array(bs), np.array(costs), np.array(norms), np.array(lengths),
                      int(clipped), diverged)


def _range(value: str | Sequence[float] | None, default: tuple[float, float], option: str) -> tuple[float, float]:
    if value is None:
        return default
    try:
        lo, hi = (float(v) for v in (value.split(",") if isinstance(value, str) else value))
    except (ValueError, TypeError):
        raise GradsimError(f"{value!r} is not LO,HI (two numbers)", option=option) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi and max(abs(lo), abs(hi)) <= 1e6):
        raise GradsimError(f"{value!r}: give LO < HI, both finite with |value| <= 1e6", option=option)
    return lo, hi


def check_descent(lr: float, steps: int, threshold: float) -> None:
    clipping.check_clipped_step(lr, threshold)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= MAX_DESCENT:
        raise GradsimError(f"give a whole number from 1 to {MAX_DESCENT:,}, got {steps}", option="--epochs")


def surface(act: Activation, x: np.ndarray, u: float, h0: float, target: float, start: tuple[float, float],
            modes: Sequence[str], lr: float = LR, steps: int = DESCENT_STEPS, threshold: float = THRESHOLD,
            w_range=None, b_range=None, grid: int = GRID) -> Surface:
    """C(w, b) over the grid, the wall, and descent from `start` unclipped and with each mode."""
    check_descent(lr, steps, threshold)
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or not 3 <= grid <= MAX_GRID:
        raise GradsimError(f"give a whole number from 3 to {MAX_GRID}, got {grid}", option="--grid")
    if grid * grid * len(x) > MAX_GRID_WORK:
        raise GradsimError(f"a {grid} x {grid} grid allows at most {int(MAX_GRID_WORK // grid ** 2):,} steps",
                           option="--steps")
    if steps * len(x) * (len(modes) + 1) > MAX_DESCENT_WORK:
        raise GradsimError(f"{steps} descent steps x T {len(x)} x {len(modes) + 1} runs is too long; keep the "
                           f"product <= {MAX_DESCENT_WORK:,.0f}", option="--epochs")
    ws = np.linspace(*_range(w_range, W_RANGE, "--w-range"), grid)
    bs = np.linspace(*_range(b_range, B_RANGE, "--b-range"), grid)
    wg, bg = np.meshgrid(ws, bs)
    _, cost, gw, gb = forward_mode(act, wg, bg, u, x, h0, target)
    wall_w, wall_b = wall(act, ws)
    inside = (wall_b >= bs[0]) & (wall_b <= bs[-1])
    runs = tuple(descend(act, start, u, x, h0, target, lr, steps, m, threshold) for m in ("none", *modes))
    return Surface(ws, bs, cost, _log10_norm(gw, gb), wall_w[inside], wall_b[inside], target, lr, threshold, runs)
