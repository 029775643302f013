"""What a run will cost before it starts: seconds = sum of counts x seconds per unit, bytes likewise.

The counts come from the options alone (normals to draw, multiply-adds, layers printed), so the formula is the
same on every machine; the seconds per unit were measured once on the development machine (2 shared cores,
Dec 2026; see `UNIT_SECONDS`) and err on the slow side. A run over LIMIT_SECONDS or LIMIT_BYTES is refused
unless the user passes --yes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import GradsimError

#: Seconds per unit of work, measured with /usr/bin/time on the development machine (2 cores shared by 8 jobs;
#: at a load of 8 a run's wall time is ~3.5 x its CPU time, and the units sit between the two):
#: ensemble --trials 100000 (chain), --width 100/400 --depth 10; train --hidden 100,100 and 300,300,300;
#: vanish and clip --depth 100000 with each format; acts --softmax of 3000 values.
UNIT_SECONDS = {
    "chain-layer": 1.0e-7,  # one trial through one layer of a width-1 chain, forward and back
    "weight": 4.0e-8,  # one normal drawn and used forward and back in a wide net
    "multiply-add": 1.0e-8,  # one weight x one example in training (forward, backward, update): 4e-9 s of CPU, x2
    "table-layer": 1.0e-5,  # one layer of vanish / clip computed and kept for a table
    "json-layer": 1.8e-4,  # one layer of vanish / clip written as JSON or CSV
    "clip-step": 4.0e-4,  # one step of clip --steps for one mode (2e-4 s of CPU measured, x2)
    "clip-step-layer": 5.0e-6,  # and per layer of the chain in that step
    # ensemble's signal statistics (--forward, --norm, --residual, --inputs 2): width 2, depth 1000, 200 trials took
    # 10 s (plain), 27 s (--norm batch, batch 256) of CPU; width 1024, depth 20, batch 256, 4 trials 2.4 s wall
    "signal-layer": 2.0e-4,  # one layer of one trial in Python (normalisation, residual branch, statistics)
    "signal-multiply-add": 4.0e-10,  # one weight x one example, forward and back (BLAS)
}
#: Bytes per unit held at once (peak RSS per layer: vanish 1.1 KB as a table, 5.6 KB as JSON; clip 1.6 KB, 6.5 KB).
UNIT_BYTES = {"table-layer": 1_600, "json-layer": 7_000}
#: An ensemble thread holds its histogram (2^21 int64 counts) and its chunk (about 32 MB).
THREAD_BYTES = 48 * 2**20
#: Refuse above these without --yes.
LIMIT_SECONDS = 60.0
LIMIT_BYTES = 2 * 2**30


@dataclass(frozen=True)
class Cost:
    """An estimate: seconds on the development machine, peak bytes, the counts in words, the option that drives it."""

    seconds: float
    bytes: float
    work: str
    option: str

    @property
    def too_much(self) -> bool:
        return self.seconds > LIMIT_SECONDS or self.bytes > LIMIT_BYTES


def duration(seconds: float) -> str:
    """'45 s', '12 min', '3.5 h', '2.1e+04 days'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.2g} days"


def size(n: float) -> str:
    """'640 MB', '5.6 GB'."""
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def ensemble_cost(depth: int, width: int, trials: int, threads: int = 1) -> Cost:
    """trials x depth chain layers (width 1), or trials x depth x width^2 weights drawn; a histogram per thread."""
    if width == 1:
        units, unit = float(trials) * depth, "chain-layer"
        work = f"{units:.2g} trial-layers"
    else:
        units, unit = float(trials) * depth * width * width, "weight"
        work = f"{units:.2g} normals to draw ({trials:,} trials x {depth} layers x {width}^2 weights)"
    workers = max(1, min(threads, trials))
    option = "--trials" if trials > 10**5 else "--width" if width > 1 else "--depth"
    return Cost(units * UNIT_SECONDS[unit], workers * THREAD_BYTES, work, option)


def signal_cost(depth: int, width: int, batch: int, trials: int) -> Cost:
    """trials x depth layers, each drawing width^2 normals and running batch examples through them; memory: every
    layer's weights and three batch x width arrays kept for the backward pass, and ln ||delta_l|| of every trial."""
    layers = float(trials) * depth
    normals, macs = layers * width * width, layers * width * width * batch
    seconds = (layers * UNIT_SECONDS["signal-layer"] + normals * UNIT_SECONDS["weight"]
               + macs * UNIT_SECONDS["signal-multiply-add"])
    biggest = max((layers * UNIT_SECONDS["signal-layer"], "--depth"), (normals * UNIT_SECONDS["weight"], "--width"),
                  (macs * UNIT_SECONDS["signal-multiply-add"], "--batch" if batch > 1 else "--width"))
    option = "--trials" if trials > 1000 else biggest[1]
    return Cost(seconds, 8.0 * depth * (width * width + 3 * batch * width + trials),
                f"{trials:,} trials x {depth} layers of {width}^2 weights x {batch} examples", option)


#: The largest data set `train` uses: the 8x8 digits, 1797 examples of 64 features in 10 classes.
EXAMPLES, FEATURES, CLASSES = 1797, 64, 10


def train_cost(hidden: tuple[int, ...], epochs: int, n_examples: int = EXAMPLES, runs: int = 1,
               features: int = FEATURES, classes: int = CLASSES, measured: int = 0) -> Cost:
    """runs x ((epochs + 1 measurements + epochs of steps) x examples + (epochs + 1) x `measured` grid points
    (forward only)) x weights multiply-adds; memory: the weights (and the data, examples x features)."""
    sizes = (features, *hidden, classes)
    weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
    per_weight = float(2 * epochs + 1) * n_examples + float(epochs + 1) * measured
    units = float(runs) * per_weight * weights
    option = "--epochs" if epochs > 100 else "--hidden"
    each = f"{runs} activations x " if runs > 1 else ""
    grid = f" + {measured:,} grid points an epoch" if measured else ""
    return Cost(units * UNIT_SECONDS["multiply-add"], 8.0 * weights * 4 + 8.0 * n_examples * features,
                f"{units:.2g} multiply-adds ({each}{epochs} epochs x {n_examples} examples{grid} x {weights:,} weights)",
                option)


def layers_cost(depth: int, fmt: str) -> Cost:
    """A chain of `depth` layers (vanish, clip): JSON and CSV write every layer, a table keeps them for its rows."""
    unit = "table-layer" if fmt == "table" else "json-layer"
    return Cost(depth * UNIT_SECONDS[unit], depth * UNIT_BYTES[unit], f"{depth:,} layers as {fmt}", "--depth")


def clip_cost(depth: int, fmt: str, steps: int, runs: int) -> Cost:
    """The chain's layers (see `layers_cost`) plus `runs` trainings (no clipping and each mode) of `steps` steps."""
    layers = layers_cost(depth, fmt)
    units = float(steps) * runs
    seconds = units * (UNIT_SECONDS["clip-step"] + depth * UNIT_SECONDS["clip-step-layer"])
    if seconds <= layers.seconds:
        return layers
    return Cost(layers.seconds + seconds, layers.bytes, f"{steps:,} steps x {runs} runs of a depth-{depth} chain",
                "--steps")


def check(cost: Cost, allow: bool) -> None:
    """Refuse a run over the limits unless `allow` (--yes), naming the estimate and the way out."""
    if allow or not cost.too_much:
        return
    seconds = duration(cost.seconds) if math.isfinite(cost.seconds) else "forever"
    raise GradsimError(f"this run would take about {seconds} and {size(cost.bytes)} of memory ({cost.work}); "
                       f"the limits are {duration(LIMIT_SECONDS)} and {size(LIMIT_BYTES)}. Make it smaller, or "
                       f"pass --yes to run it anyway", option=cost.option)
