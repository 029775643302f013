"""Training an RNN on a task that needs memory over T steps, with plain SGD and with each clipping mode.

The task: x_1 = +-1, then T - 1 steps of N(0, NOISE^2) noise; the output y = v . h_T + c must recall x_1,
C = mean (y - x_1)^2 / 2. h_t = f(W h_(t-1) + U x_t + b); BPTT in float64, SGD on mini-batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from . import clipping
from .activations import Activation
from .errors import GradsimError

SEQUENCES, BATCH, NOISE = 64, 8, 0.5
MAX_EPOCHS = 2_000
#: steps x epochs x runs (x units/16) above which training is refused (each unit costs ~0.4 ms: about a minute).
MAX_WORK = 150_000
NAMES = ("W", "U", "b", "v", "c")


@dataclass(frozen=True)
class TrainRun:
    """One run: mean cost per epoch (epoch 0 = at initialisation; nan once diverged)."""

    mode: str
    costs: np.ndarray
    accuracy: float  # fraction of sequences whose output has the sign of x_1, after the last epoch
    max_grad_norm: float  # inf when it overflowed
    log10_max_grad_norm: float
    clipped_steps: int
    steps_taken: int
    diverged_at: int | None  # the epoch in which a parameter or the cost left float64


@dataclass(frozen=True)
class Training:
    steps: int
    units: int
    lr: float
    epochs: int
    threshold: float
    runs: tuple[TrainRun, ...]


def task(steps: int, rng: np.random.Generator, n: int = SEQUENCES) -> tuple[np.ndarray, np.ndarray]:
    """(inputs (n, T), targets (n,)): x_1 = +-1 to remember, then noise."""
    y = rng.choice([-1.0, 1.0], n)
    x = NOISE * rng.standard_normal((n, steps))
    x[:, 0] = y
    return x, y


def _forward(act: Activation, p: list[np.ndarray], x: np.ndarray, h0: float):
    w, u, b, v, c = p
    hs, zs = [np.full((x.shape[0], w.shape[0]), h0)], []
    with np.errstate(all="ignore"):
        for t in range(x.shape[1]):
            zs.append(hs[-1] @ w.T + np.outer(x[:, t], u) + b)
            hs.append(act.f(zs[-1]))
        out = hs[-1] @ v + c[0]
    return hs, zs, out


def cost(act: Activation, p: list[np.ndarray], x: np.ndarray, y: np.ndarray, h0: float) -> tuple[float, float]:
    """Mean cost and the fraction of correct signs."""
    out = _forward(act, p, x, h0)[2]
    with np.errstate(all="ignore"):
        return float(np.mean(0.5 * (out - y) ** 2)), float(np.mean(np.sign(out) == y))


def gradient(act: Activation, p: list[np.ndarray], x: np.ndarray, y: np.ndarray, h0: float) -> list[np.ndarray]:
    """dC/d(W, U, b, v, c) by BPTT, C the mean cost over the batch."""
    w, u, b, v, c = p
    hs, zs, out = _forward(act, p, x, h0)
    with np.errstate(all="ignore"):
        e = (out - y) / len(y)
        gw, gu, gb = np.zeros_like(w), np.zeros_like(u), np.zeros_like(b)
        dh = np.outer(e, v)
        for t in range(x.shape[1] - 1, -1, -1):
            dz = dh * act.dact(zs[t])
            gw += dz.T @ hs[t]
            gu += x[:, t] @ dz
            gb += dz.sum(axis=0)
            dh = dz @ w
        return [gw, gu, gb, hs[-1].T @ e, np.array([e.sum()])]


def _run(act: Activation, p0: list[np.ndarray], x: np.ndarray, y: np.ndarray, h0: float, mode: str, lr: float,
         epochs: int, threshold: float, rng: np.random.Generator, tick: Callable[[], None]) -> TrainRun:
    p = [a.copy() for a in p0]
    costs = np.full(epochs + 1, np.nan)
    costs[0], accuracy = cost(act, p, x, y, h0)
    top, clipped, taken, diverged = 0.0, 0, 0, None
    for epoch in range(1, epochs + 1):
        for batch in np.split(rng.permutation(len(y)), len(y) // BATCH):
            g = gradient(act, p, x[batch], y[batch], h0)
            top = max(top, clipping.global_norm(g))
            if mode != "none":
                c = clipping.clip_blocks(mode, [a[None] for a in g], threshold, lam=threshold,
                                         weights=[a[None] for a in p])
                step = [a[0] for a in c]
                clipped += not all(np.array_equal(s, a) for s, a in zip(step, g))
            else:
                step = g
            with np.errstate(all="ignore"):
                p = [a - lr * s for a, s in zip(p, step)]
            taken += 1
        tick()
        costs[epoch], accuracy = cost(act, p, x, y, h0)
        if not (math.isfinite(costs[epoch]) and all(np.all(np.isfinite(a)) for a in p)):
            costs[epoch], accuracy, diverged = np.nan, math.nan, epoch
            break
    with np.errstate(divide="ignore"):
        log_top = math.log10(top) if math.isfinite(top) else math.inf
    return TrainRun(mode, costs, accuracy, top, log_top, int(clipped), taken, diverged)


def check_training(steps: int, units: int, lr: float, epochs: int, threshold: float, modes: Sequence[str]) -> int:
    """Refuse settings `train` cannot run (before any work: the caller checks them ahead of the forward run, which
    at 256 units takes seconds); return the number of runs (unclipped and each mode)."""
    clipping.check_clipped_step(lr, threshold)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or not 1 <= epochs <= MAX_EPOCHS:
        raise GradsimError(f"give a whole number from 1 to {MAX_EPOCHS:,}, got {epochs}", option="--epochs")
    runs_n = len(modes) + 1
    if steps * epochs * runs_n * max(1, units // 16) > MAX_WORK:
        raise GradsimError(f"{steps} steps x {epochs} epochs x {runs_n} runs is too long a training; "
                           f"keep steps x epochs x runs <= {MAX_WORK:,}", option="--epochs")
    return runs_n


def train(act: Activation, w: np.ndarray, u: np.ndarray, steps: int, bias: float, h0: float, lr: float, epochs: int,
          threshold: float, modes: Sequence[str], seed: int,
          progress: Callable[[int, int], None] | None = None) -> Training:
    """The network with initial W and U trained unclipped and with each mode (same data, same mini-batches)."""
    runs_n = check_training(steps, w.shape[0], lr, epochs, threshold, modes)
    units = w.shape[0]
    rng = np.random.default_rng([seed, 2])
    x, y = task(steps, rng)
    p0 = [w, u, np.full(units, bias), rng.standard_normal(units) / math.sqrt(units), np.zeros(1)]
    total, done = epochs * runs_n, [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    runs = tuple(_run(act, p0, x, y, h0, m, lr, epochs, threshold, np.random.default_rng([seed, 1]),
                      tick) for m in ("none", *modes))
    return Training(steps, units, lr, epochs, threshold, runs)
