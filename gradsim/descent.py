"""Steps to a target: gradient descent on an activation's own value (Microsoft AI-edu, "Activation functions": sigmoid 67 steps, relu 2).

x_0 = f^-1(start) on the increasing branch of f;  x_{k+1} = x_k - lr f'(x_k)  (+ lr f'(x_k) when start < target);
the count is the first k with f(x_k) at or past the target, within REL_TOL * max(|start|, |target|)
(in float64 0.9 - 0.2 - 0.2 = 0.49999999999999994, which is 0.5).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from . import activations
from .activations import Activation
from .errors import GradsimError

#: The AI-edu experiment ("Activation functions"): from f = 0.9 to f = 0.5 with learning rate 0.2, sigmoid beside relu.
START, TARGET, LR = 0.9, 0.5, 0.2
DEFAULT_ACTS = ("sigmoid", "relu")
#: Default cap on the steps of one walk; hitting it is a result (reached: false), not an error.
MAX_STEPS = 100_000
#: The largest cap accepted: a walk costs 0.15-0.9 s per 10^6 steps, so --act all stays under ~5 s.
MAX_STEPS_LIMIT = 1_000_000
#: f(x) counts as at the target within REL_TOL * max(|start|, |target|).
REL_TOL = 1e-12


# ---------------------------------------------------------------- results
@dataclass(frozen=True)
class Walk:
    """One activation's walk from x0 = f^-1(start) towards the target."""

    activation: str
    alpha: float | None
    branch: str  # where f^-1 is taken: the increasing branch of f
    monotone: bool  # f never decreases (False for gelu, gelu-tanh, swish: they dip to a minimum first)
    x0: float
    dact0: float  # f'(x0)
    steps: int | None  # the first k with f(x_k) at or past the target; None if not reached
    reached: bool
    stop: str  # "reached", "dead" (f' = 0), "stuck" (the step no longer moves x), "max-steps", "overflow"
    reason: str | None  # why the target was not reached, in words
    taken: int  # steps taken (= steps when reached)
    final_x: float
    final_value: float
    x: np.ndarray | None = None  # the trace, k = 0..taken (None unless asked for)
    value: np.ndarray | None = None  # f(x_k)
    dact: np.ndarray | None = None  # f'(x_k)

    @property
    def dx(self) -> np.ndarray | None:
        """The change of x at each step, x_k - x_(k-1) (nan at k = 0)."""
        return None if self.x is None else np.concatenate(([np.nan], np.diff(self.x)))


@dataclass(frozen=True)
class StepsResult:
    """The descent experiment for each chosen activation."""

    start: float
    target: float
    lr: float
    max_steps: int
    tolerance: float
    results: list[Walk]  # one walk per activation, in the order asked (JSON `results`)

    @property
    def direction(self) -> str:
        """down (x <- x - lr f'), up (x <- x + lr f') or none (start == target)."""
        return "down" if self.start > self.target else "up" if self.start < self.target else "none"

    @property
    def fastest(self) -> Walk | None:
        """The walk that reached the target in the fewest steps (the first listed on a tie)."""
        done = [w for w in self.results if w.reached]
        return min(done, key=lambda w: w.steps) if done else None

    @property
    def slowest(self) -> Walk | None:
        """The walk that reached the target in the most steps (the first listed on a tie)."""
        done = [w for w in self.results if w.reached]
        return max(done, key=lambda w: w.steps) if done else None

    @property
    def times_fewer(self) -> float | None:
        """slowest steps / fastest steps, when two walks reached the target and the fastest took a step."""
        fast, slow = self.fastest, self.slowest
        if fast is None or fast is slow or fast.steps == 0:
            return None
        return slow.steps / fast.steps


# ---------------------------------------------------------------- the walk
def _reason(stop: str, act: Activation, x: float, d: float, value: float, lr: float, taken: int, target: float,
            direction: str) -> str | None:
    """Why a walk stopped short of the target, in words."""
    if stop == "dead":
        return (f"dead: f'(x) = 0 at x = {x:.4g}, so every step is zero and f stays at {value + 0.0:.4g}"
                f" (a dead {act.name} unit)")
    if stop == "stuck":
        return (f"stuck: the step lr f'(x) = {lr * d:.3g} no longer changes x = {x:.8g} in float64,"
                f" so f stays at {value:.8g}")
    if stop == "max-steps":
        side = "above" if direction == "down" else "below"
        return f"max-steps: f(x) = {value:.8g} after {taken:,} steps (the cap), still {side} the target {target:g}"
    if stop == "overflow" and taken == 0:
        return f"overflow: x0 = f^-1(start) = {x} lies beyond float64"
    if stop == "overflow":
        return f"overflow: step {taken:,} took x to {x}, beyond float64 (lr f'(x) too large)"
    return None


def _monotone(act: Activation) -> bool:
    """Whether f never decreases: false when f left of its increasing branch lies above the branch's minimum."""
    edge = act.branch_start
    return not math.isfinite(edge) or float(act.f(edge - 1.0)) <= float(act.f(edge))


def walk(act: Activation, start: float = START, target: float = TARGET, lr: float = LR, max_steps: int = MAX_STEPS,
         trace: bool = False) -> Walk:
    """x <- x - lr f'(x) (+ when start < target) from x0 = f^-1(start) until f(x) is at or past `target`.

    One float per step, so f and f' are the registry's plain-`math` forms act.f1, act.df1 (numpy: 3-30 us a call).
    """
    f, df = act.f1, act.df1
    sign = -1.0 if start > target else 1.0
    tol = REL_TOL * max(abs(start), abs(target))
    xs, values, dacts = array("d"), array("d"), array("d")
    with np.errstate(over="ignore"):  # f^-1 of a start near the edge of float64 may be +-inf: a result
        x0 = x = float(act.inverse(start))
    value = f(x)
    d0 = d = df(x)
    stop, k = "reached", 0
    for k in range(max_steps + 1):
        if trace:
            xs.append(x)
            values.append(value)
            dacts.append(d)
        if not math.isfinite(x):
            stop = "overflow"
            break
        if sign * (value - target) >= -tol or start == target:
            break
        if k == max_steps:
            stop = "max-steps"
            break
        x_new = x + sign * lr * d
        if x_new == x:
            stop = "dead" if d == 0 else "stuck"
            break
        x, value, d = x_new, f(x_new), df(x_new)
    reached = stop == "reached"
    direction = "down" if sign < 0 else "up"
    arrays = dict(x=np.array(xs), value=np.array(values), dact=np.array(dacts)) if trace else {}
    return Walk(activation=act.name, alpha=act.alpha, branch=act.branch, monotone=_monotone(act), x0=x0, dact0=d0,
                steps=k if reached else None, reached=reached, stop=stop,
                reason=_reason(stop, act, x, d, value, lr, k, target, direction), taken=k, final_x=x,
                final_value=value, **arrays)


# ---------------------------------------------------------------- the experiment
def _check(acts: Sequence[Activation], start: float, target: float, lr: float, max_steps: int) -> None:
    for value, option in ((start, "--start"), (target, "--target")):
        if not math.isfinite(value):
            raise GradsimError(f"{option.lstrip('-')} must be a finite number, got {value}", option=option)
        for a in acts:
            if not a.in_range(value):
                raise GradsimError(f"{option.lstrip('-')} {value:g} is outside the range of {a.name}, "
                                   f"{a.range_text()}; give a value f can take", option=option)
    if not (math.isfinite(lr) and lr > 0):
        raise GradsimError(f"learning rate must be a finite number > 0, got {lr}", option="--lr")
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) \
            or not 1 <= max_steps <= MAX_STEPS_LIMIT:
        raise GradsimError(f"max steps must be a whole number from 1 to {MAX_STEPS_LIMIT:,}, got {max_steps}",
                           option="--max-steps")


def steps(act: str | Sequence[str] | None = None, start: float = START, target: float = TARGET, lr: float = LR,
          max_steps: int = MAX_STEPS, alpha: float | None = None, trace: bool = False,
          progress: Callable[[int, int], None] | None = None) -> StepsResult:
    """Count the steps x <- x -/+ lr f'(x) needs to bring f(x) from `start` to `target`, for each activation.

    `act`: a name, a comma list, 'all' or a list of those (default sigmoid and relu). start == target takes
    0 steps. `progress(done, total)` is called before the first walk and after each.
    """
    names = [act] if isinstance(act, str) else list(act or DEFAULT_ACTS)
    chosen = activations.resolve_many(names, alpha)
    start, target, lr = float(start), float(target), float(lr)
    _check(chosen, start, target, lr, max_steps)
    walks: list[Walk] = []
    for a in chosen:
        if progress is not None:
            progress(len(walks), len(chosen))
        walks.append(walk(a, start, target, lr, int(max_steps), trace))
    if progress is not None:
        progress(len(walks), len(chosen))
    return StepsResult(start=start, target=target, lr=lr, max_steps=int(max_steps),
                       tolerance=REL_TOL * max(abs(start), abs(target)), results=walks)
