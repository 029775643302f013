"""Monte Carlo over random deep networks: the spread of ||dC/dh_l|| per layer beside the mean-field theory.

h_l = W_l a_(l-1) + b_l, a_l = f(h_l), W_ij ~ N(0, sigma_w^2 / N_in) (or sigma_w Q, Q Haar orthogonal),
b_i ~ N(0, sigma_b^2), C = ||a_L - target||^2 / 2:
delta_L = f'(h_L) (a_L - target), delta_l = f'(h_l) (W_(l+1)^T delta_(l+1)) (= dC/db_l),
and the mean field predicts E||delta_l||^2 = chi1^(L - l) E||delta_L||^2.

Trials run in chunks of a fixed size, each from its own `SeedSequence(seed).spawn(...)` child, so the output
does not depend on the number of threads. Magnitudes are carried in log space (ln ||delta_l||), and each
layer's values go into a `LogHistogram`, so memory stays flat however many trials run.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import activations, meanfield, running
from .init import init_sigma_w2
from .activations import Activation
from .chain import LN10, REGIME_LOG10
from .errors import GradsimError

#: Limits of a run (the cost is trials x depth x width^2 normal draws).
MAX_DEPTH = 10_000
MAX_WIDTH = 4096
MAX_TRIALS = 10**9
MAX_THREADS = 256
#: The default number of trials: about DEFAULT_DRAWS / (depth x width^2), within these bounds.
DEFAULT_DRAWS = 2 * 10**7
DEFAULT_TRIALS = (100, 100_000)
#: Percentiles reported per layer.
PERCENTILES = (5.0, 50.0, 95.0)
#: Each chunk's trials are split into up to BATCHES batches; the measured factor's interval is a bootstrap over
#: all batches (RESAMPLES resamples, from the run's seed): the 2.5 and 97.5 percentiles.
BATCHES = 16
RESAMPLES = 400
#: Width-1 runs up to this depth also get the exact mean squares (gradsim.chainmoments).
EXACT_MAX_DEPTH = 1000
#: Histogram bins are BIN_LOG10 x 2^level decades wide; the level is the smallest that fits every layer's range.
BIN_LOG10 = 2.0**-10
#: Bins per layer: the most for up to 256 layers, fewer for deeper nets (BIN_CELLS in all).
BINS_MAX = 8192
BIN_CELLS = 2**21
#: Trials per chunk of a width-1 chain: about CHAIN_CELLS / depth (a chunk holds 2 x depth x trials floats).
CHAIN_CELLS = 2**21
CHAIN_CHUNK = (256, 32768)
#: Wider nets: trials per chunk so that its weights take about WIDE_BYTES; all threads' weights are kept for the
#: backward pass while they take at most KEEP_BYTES, otherwise they are drawn again (same numbers, twice the work).
WIDE_BYTES = 32 * 2**20
KEEP_BYTES = 256 * 2**20
#: |ln ||delta||| beyond LN_LIMIT (10^(+-4e14)) counts as 0 or as an overflow: the bin indices stay in int64.
LN_LIMIT = 1e15
#: |log10 ||delta||| beyond FAR_LOG10 goes to a histogram of its own (`LogHistogram.far`), in the coordinate
#: +-T (1 + ln(|ln| / T)), T = FAR_LOG10 ln 10, binned with relative precision: a few trials with
#: log10 ||delta|| ~ -1e13 (ln f' falls like -h^2 in gelu's and swish's tails) no longer widen every bin.
FAR_LOG10 = 1000.0
_FAR_LN = FAR_LOG10 * LN10
_SCALE = 1.0 / (LN10 * BIN_LOG10)  # ln ||delta|| -> index of its level-0 bin
_BIG = np.iinfo(np.int64).max


# ---------------------------------------------------------------- a histogram of log magnitudes
class LogHistogram:
    """Counts of log10 ||delta|| per layer in bins of a fixed lattice: memory flat in the number of values.

    Bin k of level j holds log10 values in [k, k + 1) x BIN_LOG10 x 2^j; each layer keeps a window of `bins`
    bins, and the level is the smallest that fits every layer's range in its window. Counts are integers and
    the level depends only on the ranges, so adding values or merging histograms in any order gives the same
    counts. Zeros (ln = -inf, or below -LN_LIMIT) and overflows (above LN_LIMIT, or nan after float64
    overflowed) are counted apart.
    """

    def __init__(self, layers: int, bins: int, far: bool = True):
        self.far = LogHistogram(layers, bins, far=False) if far else None  # |log10| > FAR_LOG10, see far_ln
        self.bins = bins
        self.level = 0
        self.counts = np.zeros((layers, bins), dtype=np.int64)
        self.start = np.zeros(layers, dtype=np.int64)  # lattice index of each window's first bin
        self.lo = np.full(layers, _BIG, dtype=np.int64)  # smallest and largest level-0 index seen
        self.hi = np.full(layers, -_BIG, dtype=np.int64)
        self.zeros = np.zeros(layers, dtype=np.int64)
        self.overflows = np.zeros(layers, dtype=np.int64)

    @property
    def width(self) -> float:
        """The bin width in decades (log10 units)."""
        return BIN_LOG10 * 2.0**self.level

    def add(self, first: int, ln: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Count the values ln ||delta|| of layers first, first + 1, ... (one row each, shape (rows, trials)).

        Returns the rows with every non-finite value set to -inf, and each row's largest finite value (-inf if
        it has none): what `square_sums` needs.
        """
        rows = len(ln)
        lo, hi = ln.min(axis=1), ln.max(axis=1)
        finite = None
        if not (np.all(lo >= -LN_LIMIT) and np.all(hi <= LN_LIMIT)):  # zeros, overflows or nan
            finite = np.abs(ln) <= LN_LIMIT
            zeros = np.count_nonzero(ln < -LN_LIMIT, axis=1)
            self.zeros[first:first + rows] += zeros
            self.overflows[first:first + rows] += ln.shape[1] - zeros - np.count_nonzero(finite, axis=1)
            ln = np.where(finite, ln, -math.inf)
            lo, hi = np.where(finite, ln, math.inf).min(axis=1), ln.max(axis=1)
        top = hi
        inside = finite
        if self.far is not None and (np.any(lo < -_FAR_LN) or np.any(hi > _FAR_LN)):
            far = np.abs(ln) > _FAR_LN
            if finite is not None:
                far &= finite
            self.far.add(first, np.where(far, far_ln(ln), -math.inf))  # the rest counts as the far histogram's zeros
            inside = ~far if finite is None else finite & ~far
            lo = np.where(inside, ln, math.inf).min(axis=1)
            hi = np.where(inside, ln, -math.inf).max(axis=1)
        for row in np.flatnonzero(lo <= hi):
            self._cover(first + row, math.floor(lo[row] * _SCALE), math.floor(hi[row] * _SCALE))
        with np.errstate(invalid="ignore"):  # non-finite values are cast to garbage, then sent to a spare bin
            # floor(ln _SCALE 2^-level) = floor(ln _SCALE) >> level: scaling by 2^-level is exact
            k = np.multiply(ln, _SCALE * 2.0**-self.level)
            np.floor(k, out=k)
            index = k.astype(np.int64)
        spare = self.bins + 1  # one spare bin per row
        index -= (self.start[first:first + rows] - np.arange(rows) * spare)[:, None]
        if inside is not None:
            index = np.where(inside, index, (np.arange(rows) * spare + self.bins)[:, None])
        counts = np.bincount(index.ravel(), minlength=rows * spare).reshape(rows, spare)
        self.counts[first:first + rows] += counts[:, :self.bins]
        return ln, top

    def _level_for(self, lo: np.ndarray, hi: np.ndarray) -> int:
        """The smallest level >= the current one at which every range [lo, hi] (level-0 indices) fits `bins` bins."""
        seen = lo <= hi
        lo, hi = lo[seen], hi[seen]
        level = self.level
        while np.any((hi >> level) - (lo >> level) >= self.bins):
            level += 1
        return level

    def _cover(self, layer: int, lo: int, hi: int) -> None:
        """Make the layer's window hold the level-0 indices lo..hi (raise the level, move the window)."""
        lo, hi = min(lo, int(self.lo[layer])), max(hi, int(self.hi[layer]))
        self.lo[layer], self.hi[layer] = lo, hi
        level = self.level
        while (hi >> level) - (lo >> level) >= self.bins:
            level += 1
        if level > self.level:
            self._coarsen(level)
        first, last = lo >> self.level, hi >> self.level
        start = int(self.start[layer])
        if start <= first and last < start + self.bins:
            return
        self._move(layer, first - (self.bins - (last - first + 1)) // 2)

    def _move(self, layer: int, start: int) -> None:
        """Let the layer's window begin at lattice index `start` (its counts stay inside it)."""
        shift = start - int(self.start[layer])
        row = self.counts[layer]
        moved = np.zeros_like(row)
        if 0 <= shift < self.bins:
            moved[:self.bins - shift] = row[shift:]
        elif -self.bins < shift < 0:
            moved[-shift:] = row[:self.bins + shift]
        self.counts[layer] = moved
        self.start[layer] = start

    def _coarsen(self, level: int) -> None:
        """Merge bins 2^(level - current) at a time: lattice index k becomes k >> (level - current).

        Window row l starts at lattice index s_l; new bin j of that row sums the old local bins whose lattice
        index lies in [(s_l >> d) + j, (s_l >> d) + j + 1) x 2^d: differences of the row's running sum.
        """
        d = level - self.level
        running = np.zeros((len(self.start), self.bins + 1), dtype=np.int64)
        np.cumsum(self.counts, axis=1, out=running[:, 1:])
        start = self.start >> d
        edges = ((start[:, None] + np.arange(self.bins + 1)) << d) - self.start[:, None]
        edges = np.clip(edges, 0, self.bins)
        self.counts = np.diff(np.take_along_axis(running, edges, axis=1), axis=1)
        self.start = start
        self.level = level

    def merge(self, other: LogHistogram) -> None:
        """Add the counts of `other` (same layers and bins) to this histogram."""
        level = max(self.level, other.level, self._level_for(np.minimum(self.lo, other.lo),
                                                             np.maximum(self.hi, other.hi)))
        for h in (self, other):
            if level > h.level:
                h._coarsen(level)
        for layer in np.flatnonzero(other.lo <= other.hi):
            self._cover(layer, int(other.lo[layer]), int(other.hi[layer]))
            row = other.counts[layer]
            where = np.flatnonzero(row)
            self.counts[layer, other.start[layer] + where - self.start[layer]] += row[where]
        self.zeros += other.zeros
        self.overflows += other.overflows
        if self.far is not None:
            self.far.merge(other.far)

    @property
    def far_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Per layer, the values below -FAR_LOG10 and above +FAR_LOG10 decades."""
        if self.far is None:
            zero = np.zeros(len(self.start), dtype=np.int64)
            return zero, zero
        upper = (self.far.start[:, None] + np.arange(self.bins)) >= 0  # bins of the upper tail
        return np.where(upper, 0, self.far.counts).sum(axis=1), np.where(upper, self.far.counts, 0).sum(axis=1)

    def _bin_values(self, rank: np.ndarray) -> np.ndarray:
        """ln of the centre of the bin holding the rank-th value among this histogram's binned values, per layer."""
        inside = np.cumsum(self.counts, axis=1)
        where = np.argmax(inside >= np.maximum(rank, 1)[:, None], axis=1)
        return (self.start + where + 0.5) * self.width * LN10

    def percentiles(self, ps: tuple[float, ...] = PERCENTILES) -> np.ndarray:
        """log10 of the p-th percentiles per layer, shape (len(ps), layers): the centre of the bin holding the
        ceil(p T / 100)-th smallest value (numpy's 'inverted_cdf'), so within width / 2 of it; -inf for a zero,
        +inf for an overflow."""
        inside = self.counts.sum(axis=1)
        below, above = self.far_counts
        total = self.zeros + below + inside + above + self.overflows
        out = np.empty((len(ps), len(total)))
        for i, p in enumerate(ps):
            rank = np.maximum(np.ceil(p / 100.0 * total), 1) - self.zeros  # rank among the nonzero finite values
            values = self._bin_values(rank - below) / LN10
            if self.far is not None and np.any(below + above):
                in_far = (rank <= below) | ((rank > below + inside) & (rank <= below + inside + above))
                far_rank = np.where(rank <= below, rank, rank - inside)
                values = np.where(in_far, far_ln_inverse(self.far._bin_values(far_rank)) / LN10, values)
            out[i] = np.where(rank <= 0, -math.inf, np.where(rank > below + inside + above, math.inf, values))
        return out

    @property
    def far_precision(self) -> float:
        """Relative precision of a percentile from the far histogram: |ln| is within this fraction of it."""
        return 0.0 if self.far is None else float(np.expm1(self.far.width * LN10 / 2 / _FAR_LN))


def far_ln(ln: np.ndarray) -> np.ndarray:
    """+-T (1 + ln(|ln| / T)) for |ln| > T = FAR_LOG10 ln 10: continuous, increasing, and relative in |ln|."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sign(ln) * _FAR_LN * (1.0 + np.log(np.abs(ln) / _FAR_LN))


def far_ln_inverse(v: np.ndarray) -> np.ndarray:
    """ln from `far_ln`'s coordinate."""
    with np.errstate(over="ignore"):
        return np.sign(v) * _FAR_LN * np.exp(np.abs(v) / _FAR_LN - 1.0)


def bins_for(depth: int) -> int:
    """Bins per layer: BINS_MAX, or fewer (a power of 2, at least 256) so that depth x bins <= BIN_CELLS."""
    return int(min(BINS_MAX, max(256, 2 ** int(math.log2(BIN_CELLS // depth)))))


# ---------------------------------------------------------------- log-space mean of ||delta||^2
def square_sums(ln: np.ndarray, top: np.ndarray) -> np.ndarray:
    """sum_t exp(2 (ln_t - top)) per row: the sum of ||delta||^2 over trials, divided by exp(2 top); 0 where
    top = -inf (every delta is 0)."""
    t = ln - np.where(top > -math.inf, top, 0.0)[:, None]
    t *= 2.0
    np.exp(t, out=t)
    return t.sum(axis=1)


def merge_square_sums(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two (top, sum) pairs per layer (arrays of shape (2, layers)) as one: logsumexp, in a fixed order."""
    top = np.maximum(a[0], b[0])
    with np.errstate(invalid="ignore"):
        scaled = [np.where(x[0] == -math.inf, 0.0, x[1] * np.exp(2.0 * (x[0] - top))) for x in (a, b)]
    return np.array([top, scaled[0] + scaled[1]])


# ---------------------------------------------------------------- the network and one chunk of trials
def children(seed: np.random.SeedSequence, count: int) -> list[np.random.SeedSequence]:
    """What `seed.spawn(count)` gives on its first call, without changing `seed` (so a chunk can be rerun)."""
    return [_child(seed, i) for i in range(count)]


def _child(seed: np.random.SeedSequence, i: int) -> np.random.SeedSequence:
    """Child i of `seed`, as `children(seed, i + 1)[i]` gives it, without building the others."""
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, i), pool_size=seed.pool_size)


@dataclass(frozen=True)
class Net:
    """What a trial draws and computes: the activation, shape, weight and bias scales, input and target."""

    act: Activation
    depth: int
    width: int
    sigma_w: float
    sigma_w2: float  # sigma_w^2 as given (sqrt(2)^2 is not exactly 2)
    sigma_b: float
    sigma_b2: float
    orthogonal: bool
    input: float | None  # width 1; wider nets draw x ~ N(0, I) per trial
    target: float


Record = Callable[[int, np.ndarray], None]
#: forward(l, h_l, a_l): the pre-activations and activations of layer l (0-based) as the forward pass makes them.
Forward = Callable[[int, np.ndarray, np.ndarray], None]
#: The chain's backward pass and statistics take BLOCK_CELLS values (BLOCK_CELLS / trials layers) at a time.
BLOCK_CELLS = 2**17


def chain_pass(net: Net, w: np.ndarray, bias: Callable[[int, np.ndarray], None], record: Record,
               forward: Forward | None = None) -> None:
    """Width 1, n trials at once: weights w of shape (depth, n) (overwritten); bias(l, out) writes b_l into out.

    Calls record(l, ln) with ln |delta| of layers l, l + 1, ... (rows of ln), from the last layer to the first
    (l 0-based). In log space: ln |delta_l| = ln |delta_(l+1)| + ln |w_(l+1) f'(h_l)|, and ln |w f'(h)| is
    taken as ln |w| + ln |f'(h)| where w f'(h) under- or overflows, so every depth is exact. `forward`, if
    given, sees each layer's h and f(h).
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        _chain_forward(net, w, bias, forward)
        _chain_backward(w, record)


def _chain_forward(net: Net, w: np.ndarray, bias: Callable[[int, np.ndarray], None],
                   forward: Forward | None) -> None:
    """The forward pass; row l of w becomes ln |w_(l+1) f'(h_l)| once w_l is used (the last: ln |delta_L|)."""
    act, (depth, n) = net.act, w.shape
    h, product = np.empty(n), np.empty(n)
    a = np.full(n, net.input)
    for layer in range(depth):
        bias(layer, h)
        h += np.multiply(w[layer], a, out=product)
        if layer == depth - 1:
            a = act.f(h)
            if forward is not None:
                forward(layer, h, a)
            w[layer] = act.log_dact(h) + np.log(np.abs(a - net.target))
            return
        a, dact = act.value_and_dact(h)
        if forward is not None:
            forward(layer, h, a)
        gain = np.multiply(dact, w[layer + 1], out=w[layer])
        np.abs(gain, out=gain)
        np.log(gain, out=gain)
        if not math.isfinite(float(gain.sum())):  # f' = 0, or w f'(h) under- or overflowed: take the log route
            bad = ~np.isfinite(gain)
            gain[bad] = np.log(np.abs(w[layer + 1][bad])) + act.log_dact(h[bad])


def _chain_backward(ln: np.ndarray, record: Record) -> None:
    """Suffix sums of the rows of ln (in place), recorded BLOCK_CELLS values at a time, last layer first."""
    depth, n = ln.shape
    record(depth - 1, ln[depth - 1:])
    rows = max(1, BLOCK_CELLS // n)
    for end in range(depth - 1, 0, -rows):
        start = max(0, end - rows)
        for row in range(end - 1, start - 1, -1):
            ln[row] += ln[row + 1]
        record(start, ln[start:end])


def draw_weights(net: Net, rng: np.random.Generator, n: int) -> np.ndarray:
    """n weight matrices (n, N, N): N(0, sigma_w^2 / N) entries, or sigma_w Q with Q Haar orthogonal."""
    g = rng.standard_normal((n, net.width, net.width))
    if not net.orthogonal:
        g *= net.sigma_w / math.sqrt(net.width)
        return g
    q, r = np.linalg.qr(g)
    signs = np.sign(np.diagonal(r, axis1=1, axis2=2))
    return q * (net.sigma_w * np.where(signs == 0, 1.0, signs))[:, None, :]


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """v / ||v|| per row and ln ||v|| (computed as max|v| ||v / max|v|||, so it neither under- nor overflows)."""
    big = np.max(np.abs(v), axis=1)
    safe = np.where((big > 0) & np.isfinite(big), big, 1.0)[:, None]
    norm = np.sqrt(np.sum((v / safe) ** 2, axis=1)) * safe[:, 0]
    unit = np.divide(v, np.where(norm > 0, norm, 1.0)[:, None])
    return unit, np.log(norm)


def wide_pass(net: Net, x: np.ndarray, layer: Callable[[int, bool], tuple[np.ndarray, np.ndarray | None]],
              record: Record, keep: bool = True, forward: Forward | None = None) -> None:
    """Width N, n trials at once from inputs x (n, N); layer(l, True) gives W_l (n, N, N) and b_l (n, N).

    Calls record(l, ln ||delta_l||) from the last layer to the first; delta is renormalised at every layer
    (its log length carried apart), so depth cannot under- or overflow it. Without `keep` the backward pass
    asks layer(l, False) for W_l again instead of keeping every W_l from the forward pass. `forward`, if given,
    sees each layer's h_l and f(h_l), shape (n, N).
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        _wide_pass(net, x, layer, record, keep, forward)


def _wide_pass(net: Net, x: np.ndarray, layer: Callable[[int, bool], tuple[np.ndarray, np.ndarray | None]],
               record: Record, keep: bool, forward: Forward | None) -> None:
    act, a, h, kept = net.act, x, [], {}
    for index in range(net.depth):
        w, b = layer(index, True)
        h.append(np.matmul(w, a[:, :, None])[:, :, 0] + b)
        if keep and index:
            kept[index] = w
        a = act.f(h[-1])
        if forward is not None:
            forward(index, h[-1], a)
    unit, ln = _unit(act.dact(h[-1]) * (a - net.target))
    record(net.depth - 1, ln[None, :])
    for index in range(net.depth - 2, -1, -1):
        w = kept.pop(index + 1) if keep else layer(index + 1, False)[0]
        unit, step = _unit(act.dact(h[index]) * np.matmul(unit[:, None, :], w)[:, 0, :])
        ln = ln + step
        record(index, ln[None, :])


def layer_source(net: Net, seeds: list[np.random.SeedSequence], n: int):
    """layer(l, with_biases) for `wide_pass`: W_l, then b_l, for n trials from the generator of seeds[l]."""

    def layer(index: int, with_biases: bool) -> tuple[np.ndarray, np.ndarray | None]:
        rng = np.random.default_rng(seeds[index])
        w = draw_weights(net, rng, n)
        return w, rng.standard_normal((n, net.width)) * net.sigma_b if with_biases else None

    return layer


def run_chunk(net: Net, seed: np.random.SeedSequence, n: int, hist: LogHistogram,
              keep: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """n trials from one seed: their log magnitudes go into `hist`; returns the (top, sum) pairs of ||delta||^2,
    shape (2, 1 + batches, depth): the whole chunk, then each of up to BATCHES batches of its trials (in order);
    and the forward moments, shape (2, 2, depth): the (mean, M2) pairs (`gradsim.running`) of h_l and of
    f(h_l), each over the chunk's n x width values.

    Width 1 draws all weights (depth, n), then the biases layer by layer: the order of
    `standard_normal((2, depth, n))`, so a chunk of one trial draws what `chain.vanish` draws from that seed.
    """
    sums = np.zeros((2, net.depth))
    groups = np.array_split(np.arange(n), min(BATCHES, n))  # batches of trials for the bootstrap
    batches = np.zeros((2, len(groups), net.depth))
    moments = np.full((2, 2, net.depth), math.nan)

    def forward(layer: int, h: np.ndarray, a: np.ndarray) -> None:
        moments[:, 0, layer] = running.part(h)
        moments[:, 1, layer] = running.part(a)

    def record(first: int, ln: np.ndarray) -> None:
        clean, top = hist.add(first, ln)
        sums[0, first:first + len(ln)] = top
        sums[1, first:first + len(ln)] = square_sums(clean, top)
        for g, cols in enumerate(groups):
            part = clean[:, cols[0]:cols[-1] + 1]
            part_top = part.max(axis=1)
            batches[0, g, first:first + len(ln)] = part_top
            batches[1, g, first:first + len(ln)] = square_sums(part, part_top)

    with np.errstate(over="ignore"):
        if net.width == 1:
            rng = np.random.default_rng(seed)
            w = rng.standard_normal((net.depth, n))
            if net.orthogonal:
                np.sign(w, out=w)
            if net.sigma_w != 1.0:
                w *= net.sigma_w

            def bias(layer: int, out: np.ndarray) -> None:
                rng.standard_normal(out=out)
                if net.sigma_b != 1.0:
                    out *= net.sigma_b

            chain_pass(net, w, bias, record, forward)
        else:
            seeds = children(seed, net.depth + 1)
            x = np.random.default_rng(seeds[0]).standard_normal((n, net.width))
            wide_pass(net, x, layer_source(net, seeds[1:], n), record, keep, forward)
    return np.concatenate([sums[:, None, :], batches], axis=1), moments


# ---------------------------------------------------------------- many chunks on all cores
def chunk_trials(net: Net) -> int:
    """Trials per chunk: about CHAIN_CELLS / depth for a chain (a power of 2), WIDE_BYTES of weights otherwise."""
    if net.width == 1:
        return int(min(CHAIN_CHUNK[1], max(CHAIN_CHUNK[0], 2 ** int(math.log2(CHAIN_CELLS / net.depth)))))
    return int(min(4096, max(1, WIDE_BYTES // weight_bytes(net))))


def weight_bytes(net: Net) -> int:
    """Bytes of one trial's weights (float64)."""
    return 8 * net.depth * net.width * net.width


def simulate(net: Net, trials: int, seed: int, threads: int, chunk: int,
             progress: Callable[[int, int], None] | None = None) -> tuple[LogHistogram, np.ndarray, tuple, np.ndarray]:
    """Run `trials` trials in chunks of `chunk`, chunk i from child i of SeedSequence(seed), on `threads` threads.

    Each thread takes the next chunk as it gets free and fills its own histogram (integer counts: any order gives
    the same); the (top, sum) pairs of each chunk are merged here in chunk order: the result does not depend on
    `threads`. Also returns each batch's (top, sum) pairs (2, batches, depth) and trial counts, in chunk order,
    and the forward moments (2, 2, depth) of all trials, merged in chunk order. progress(done, total) is called
    from this thread a few times a second.
    """
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait  # here: 4 ms off every start-up

    n_chunks = -(-trials // chunk)  # chunk i has min(chunk, trials - i chunk) trials: no list of 10^9 sizes
    root = np.random.SeedSequence(seed)
    workers = min(threads, n_chunks)
    keep = net.width == 1 or workers * min(chunk, trials) * weight_bytes(net) <= KEEP_BYTES
    stop, lock, queue, done = threading.Event(), threading.Lock(), iter(range(n_chunks)), [0]
    ordered = _InOrder()

    def work() -> LogHistogram:
        hist = LogHistogram(net.depth, bins_for(net.depth))
        while not stop.is_set():
            with lock:
                i = next(queue, None)
            if i is None:
                break
            n = min(chunk, trials - i * chunk)
            chunk_sums, moments = run_chunk(net, _child(root, i), n, hist, keep)
            with lock:
                ordered.add(i, chunk_sums, moments, n, net.width)
                done[0] += n
        return hist

    with ThreadPoolExecutor(workers, thread_name_prefix="gradsim-ensemble") as pool:
        futures = [pool.submit(work) for _ in range(workers)]
        try:
            pending = futures
            while pending:
                finished, pending = wait(futures, timeout=0.2, return_when=FIRST_EXCEPTION)
                if progress is not None:
                    progress(done[0], trials)
                if any(f.exception() is not None for f in finished):
                    break
        finally:
            stop.set()
        results = [f.result() for f in futures]
    hist = results[0]
    for other in results[1:]:
        hist.merge(other)
    batches = (np.concatenate(ordered.batches, axis=1), np.concatenate(ordered.counts))
    return hist, ordered.total, batches, ordered.moments


def batch_sizes(n: int) -> list[int]:
    """Trials in each of min(BATCHES, n) batches of a chunk of n, as np.array_split cuts them."""
    k = min(BATCHES, n)
    q, r = divmod(n, k)
    return [q + 1] * r + [q] * (k - r)


class _InOrder:
    """Merges each chunk's (top, sum) pairs and forward moments in chunk order as they arrive; holds only those
    that came early.

    A chunk's sums are (2, 1 + batches, depth): the whole chunk first, then each batch (for the bootstrap); its
    moments are (mean, M2) pairs (2, 2, depth), `values` values per layer so far."""

    def __init__(self) -> None:
        self.early: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}
        self.next, self.total, self.moments, self.values = 0, None, None, 0
        self.batches: list[np.ndarray] = []
        self.counts: list[list[int]] = []

    def add(self, i: int, sums: np.ndarray, moments: np.ndarray, n: int, width: int) -> None:
        """Chunk i: its sums and moments over n trials of `width` units."""
        self.early[i] = (sums, moments, n)
        while self.next in self.early:
            s, m, size = self.early.pop(self.next)
            self.total = s[:, 0] if self.total is None else merge_square_sums(self.total, s[:, 0])
            self.moments = m if self.moments is None else running.merge(self.values, self.moments, size * width, m)
            self.values += size * width
            self.batches.append(s[:, 1:])
            self.counts.append(batch_sizes(size))
            self.next += 1



# ---------------------------------------------------------------- the result
@dataclass(frozen=True)
class EnsembleResult:
    """Per-layer statistics of ||delta_l|| = ||dC/dh_l|| over random networks, with the mean-field theory."""

    activation: str
    alpha: float | None
    init: str  # xavier, lecun, he, orthogonal, normal, or given (--sigma-w or --sigma-w2)
    depth: int
    width: int
    trials: int
    seed: int
    sigma_w: float
    sigma_w2: float
    sigma_b: float
    sigma_b2: float
    input: float | None
    target: float
    chunk: int
    log10_grad_p5: np.ndarray  # per layer, first layer first
    log10_grad_p50: np.ndarray
    log10_grad_p95: np.ndarray
    log10_mean_sq: np.ndarray  # log10 of the mean over trials of ||delta_l||^2
    zero_fraction: np.ndarray  # trials with delta_l = 0 exactly (dead relu units)
    overflow_fraction: np.ndarray  # trials whose float64 forward pass overflowed
    resolution: float  # percentiles are within this many decades of the exact order statistic
    measured_factor: float | None  # 10^-slope of the least-squares line of log10_mean_sq against l
    fit_intercept: float | None
    chi1: float
    q_star: float
    log10_grad_theory: np.ndarray  # log10 sqrt(c chi1^(L - l)), the level c fitted to the measured points
    depth_scale: float  # -1 / ln(chi1)
    measured_depth_scale: float | None
    verdict: str  # from the measured factor
    theory_verdict: str  # from chi1
    far_fraction: np.ndarray | None = None  # per layer, values beyond +-FAR_LOG10 decades (their own histogram)
    far_precision: float = 0.0  # a percentile among them is within this fraction of its log10
    log10_mean_sq_exact: np.ndarray | None = None  # width 1: exact log10 E[delta_l^2] (gradsim.chainmoments)
    exact_factor: float | None = None  # the fit of `fit_factor` to the exact mean squares
    measured_factor_interval: tuple[float, float] | None = None  # bootstrap 95% interval of measured_factor
    # forward statistics per layer over trials and units (NaN where a forward pass overflowed)
    pre_mean: np.ndarray | None = None  # mean of h_l
    pre_var: np.ndarray | None = None  # variance of h_l
    act_mean: np.ndarray | None = None  # mean of f(h_l)
    act_var: np.ndarray | None = None  # variance of f(h_l)
    q_theory: np.ndarray | None = None  # the mean field's E h_l^2: q_1 from the input, then the length map
    grad_factor_theory: np.ndarray | None = None  # sigma_w^2 E f'(sqrt(q_l) z)^2: delta_(l+1) -> delta_l (last nan)
    theory_factor: float | None = None  # those factors' line, fitted as measured_factor is

    @property
    def pre_q(self) -> np.ndarray | None:
        """The measured mean of h_l^2, beside q_theory."""
        if self.pre_mean is None:
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            return self.pre_var + self.pre_mean**2

    @property
    def log10_grad_rms(self) -> np.ndarray:
        """log10 sqrt(mean ||delta_l||^2)."""
        return self.log10_mean_sq / 2.0


def log10_mean_squares(hist: LogHistogram, sums: np.ndarray, trials: int) -> np.ndarray:
    """log10 (1/T) sum_t ||delta_l||^2 from the (top, sum) pairs: -inf if every delta is 0, inf after overflow."""
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (2.0 * sums[0] + np.log(sums[1]) - math.log(trials)) / LN10
    value = np.where(sums[1] > 0, value, -math.inf)
    return np.where(hist.overflows > 0, math.inf, value)


def fit_factor(log10_mean_sq: np.ndarray) -> tuple[float | None, float | None]:
    """Least squares y_l = c + s l over the finite layers but the last: the factor per layer 10^-s (from l + 1
    back to l) and c. The last layer's delta comes from the cost, not through a weight matrix, so it is left out
    (kept for a net of 2 layers)."""
    points = log10_mean_sq[:-1] if len(log10_mean_sq) > 2 else log10_mean_sq
    layers = np.arange(1, len(points) + 1, dtype=float)
    ok = np.isfinite(points)
    if np.count_nonzero(ok) < 2:
        return None, None
    x, y = layers[ok], points[ok]
    slope = float(np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2))
    return 10.0 ** -slope, float(y.mean() - slope * x.mean())


def factor_steps(factor: np.ndarray) -> np.ndarray:
    """log10 prod_(j >= l) factor_j for each layer l, 0 at the last: log10 E||delta_l||^2 / E||delta_L||^2 from the
    per-layer factors (entry l: delta_(l+1) -> delta_l; the last entry is not used; a factor <= 0 gives nan)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(np.where(factor[:-1] > 0, factor[:-1], np.nan))
    return np.append(np.cumsum(logs[::-1])[::-1], 0.0)


def factor_interval(batches: np.ndarray, counts: np.ndarray, seed: int) -> tuple[float, float] | None:
    """95% bootstrap interval of `fit_factor` over batches of trials: RESAMPLES resamples of the batches with
    replacement (numpy.random.default_rng(seed)), each batch's (top, sum) pair of ||delta||^2 per layer."""
    if len(counts) < 2:
        return None
    top = np.max(batches[0], axis=0)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        scaled = np.where(batches[0] == -math.inf, 0.0, batches[1] * np.exp(2.0 * (batches[0] - top)))
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(counts), np.full(len(counts), 1.0 / len(counts)), size=RESAMPLES)
    factors = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for w in weights:
            total = w @ scaled
            mean = np.where(total > 0, (2.0 * top + np.log(total) - math.log(w @ counts)) / LN10, -math.inf)
            factor = fit_factor(np.where(np.isnan(mean), math.inf, mean))[0]
            if factor is not None and math.isfinite(factor):
                factors.append(factor)
    if len(factors) < RESAMPLES // 2:
        return None
    low, high = np.percentile(factors, [2.5, 97.5])
    return float(low), float(high)


def regime(factor: float | None, depth: int, log10_mean_sq: np.ndarray | None = None) -> str:
    """vanishing / exploding when the RMS gradient changes by more than 10^REGIME_LOG10 from layer L to layer 1
    at `factor` per layer in mean square, else critical. Without a factor (no two finite layers to fit), zero
    gradients are vanishing and overflowed ones exploding."""
    if factor is None:
        found = np.zeros(0) if log10_mean_sq is None else log10_mean_sq
        return "exploding" if np.any(found == math.inf) else "vanishing" if np.any(found == -math.inf) else "critical"
    if depth == 1:
        return "critical"
    with np.errstate(divide="ignore"):
        change = 0.5 * (depth - 1) * float(np.log10(factor))
    return "vanishing" if change < -REGIME_LOG10 else "exploding" if change > REGIME_LOG10 else "critical"


def theory_line(log10_mean_sq: np.ndarray, chi1: float) -> np.ndarray:
    """log10 sqrt(c chi1^(L - l)) for l = 1..L: the mean field's RMS gradient, the level c fitted to the measured
    log10 mean ||delta_l||^2 of the layers the fit uses (least squares with the slope fixed at -log10 chi1)."""
    depth = len(log10_mean_sq)
    points = log10_mean_sq[:-1] if depth > 2 else log10_mean_sq
    ok = np.isfinite(points)
    if chi1 <= 0 or not math.isfinite(chi1) or not np.any(ok):
        return np.full(depth, math.nan)
    steps = np.arange(depth - 1, -1, -1, dtype=float) * math.log10(chi1)
    level = float(np.mean(points[ok] - steps[:len(points)][ok]))
    return 0.5 * (level + steps)


# ---------------------------------------------------------------- the whole run
def _whole(value, name: str, lo: int, hi: int, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise GradsimError(f"{name} must be a whole number from {lo:,} to {hi:,}, got {value}", option=option)
    return int(value)


def _scale(value: float | None, square: float | None, name: str) -> tuple[float, float] | None:
    """(sigma, sigma^2) from --sigma-X or --sigma-X2 (not both), each a finite number >= 0; None if neither."""
    option = f"--sigma-{name}"
    if value is not None and square is not None:
        raise GradsimError(f"give {option} or {option}2, not both", option=option)
    given, option = (value, option) if square is None else (square, option + "2")
    if given is None:
        return None
    if not (math.isfinite(given) and given >= 0 and math.isfinite(given * given)):
        raise GradsimError(f"must be a finite number >= 0 whose square is finite, got {given}", option=option)
    return (float(given), float(given) * float(given)) if square is None else (math.sqrt(given), float(given))


def default_trials(depth: int, width: int) -> int:
    """About DEFAULT_DRAWS / (depth x width^2) trials, within DEFAULT_TRIALS."""
    return int(min(DEFAULT_TRIALS[1], max(DEFAULT_TRIALS[0], DEFAULT_DRAWS // (depth * width * width))))


def default_threads() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def ensemble(depth: int = 50, width: int = 1, act: str = "sigmoid", alpha: float | None = None,
             init: str | None = None, sigma_w: float | None = None, sigma_b: float | None = None,
             sigma_w2: float | None = None, sigma_b2: float | None = None, input: float | None = None,
             target: float = 0.0, trials: int | None = None, seed: int = 0, threads: int | None = None,
             chunk: int | None = None, progress: Callable[[int, int], None] | None = None) -> EnsembleResult:
    """Statistics of ||delta_l|| = ||dC/dh_l|| per layer over `trials` random networks, beside chi1.

    Weights N(0, sigma_w^2 / N_in) (or sigma_w Q for init orthogonal), biases N(0, sigma_b^2); sigma_w from
    `init` (init.init_sigma_w2) unless sigma_w or sigma_w2 is given. Defaults: width 1 is Nielsen's chain
    (init normal: N(0, 1) weights and biases, input 1); wider nets use xavier (sigma_w = 1) with sigma_b = 0
    and a fresh N(0, I) input per trial. The output depends on seed and chunk, never on threads.
    """
    activation = activations.get(act, alpha)
    depth = _whole(depth, "depth", 1, MAX_DEPTH, "--depth")
    width = _whole(width, "width", 1, MAX_WIDTH, "--width")
    trials = default_trials(depth, width) if trials is None else _whole(trials, "trials", 1, MAX_TRIALS, "--trials")
    threads = default_threads() if threads is None else _whole(threads, "threads", 1, MAX_THREADS, "--threads")
    seed = _whole(seed, "seed", 0, 2**128, "--seed")
    init = ("normal" if width == 1 else "xavier") if init is None else init.strip().lower()
    from_init = init_sigma_w2(init, activation)  # also checks the name
    w_scale = _scale(sigma_w, sigma_w2, "w")
    if w_scale is None:
        w_scale = (math.sqrt(from_init), from_init)
    elif init != "orthogonal":
        init = "given"  # the weights are N(0, sigma_w^2 / N) whatever --init said
    b_scale = _scale(sigma_b, sigma_b2, "b") or ((1.0, 1.0) if width == 1 else (0.0, 0.0))
    if input is not None and width > 1:
        raise GradsimError("--input is for width 1; wider nets draw a fresh N(0, I) input per trial", option="--input")
    x = 1.0 if width == 1 and input is None else input
    if x is not None and not math.isfinite(x):
        raise GradsimError(f"input must be a finite number, got {x}", option="--input")
    if not (math.isfinite(target) and activation.lo <= target <= activation.hi):
        raise GradsimError(f"target must be a finite number in the range of {activation.name}, "
                           f"{activation.range_text()}; got {target}", option="--target")
    net = Net(activation, depth, width, *w_scale, *b_scale, init == "orthogonal", x, float(target))
    chunk = chunk_trials(net) if chunk is None else _whole(chunk, "chunk", 1, MAX_TRIALS, "--chunk")
    hist, sums, batches, moments = simulate(net, trials, seed, threads, chunk, progress)
    return summarise(net, hist, sums, trials, seed, chunk, init, batches, moments)


def summarise(net: Net, hist: LogHistogram, sums: np.ndarray, trials: int, seed: int, chunk: int,
              init: str, batches: tuple | None = None, moments: np.ndarray | None = None) -> EnsembleResult:
    """The result of a run from its histogram and mean squares: percentiles, fit, theory, verdicts; at width 1
    (Gaussian weights, depth <= EXACT_MAX_DEPTH) the exact mean squares too; the forward statistics from the
    (mean, M2) pairs of h_l and f(h_l) (`run_chunk`)."""
    p5, p50, p95 = hist.percentiles(PERCENTILES)
    mean_sq = log10_mean_squares(hist, sums, trials)
    factor, intercept = fit_factor(mean_sq)
    w2, b2 = net.sigma_w2, net.sigma_b2
    x2 = net.input * net.input if net.width == 1 else 1.0
    with np.errstate(over="ignore"):
        q_first = w2 * x2 + b2  # the first layer's mean squared h
    q1 = min(q_first, meanfield.Q_MAX)  # (Q_MAX: infinite for the fixed point)
    chi, q_star = (float(v) for v in meanfield.chi1s(net.act, w2, b2, q1))
    measured_scale = meanfield.depth_scale(factor) if factor is not None else None
    exact = None
    if net.width == 1 and not net.orthogonal and net.depth <= EXACT_MAX_DEPTH:
        from .chainmoments import exact_log10_mean_squares

        exact = exact_log10_mean_squares(net.act, net.depth, w2, b2, net.input, net.target)
        exact = None if np.any(np.isnan(exact)) else exact
    q_theory = meanfield.q_trajectory(net.act, net.depth, w2, b2, q_first)
    factors = np.append(meanfield.grad_factors(net.act, q_theory[:-1], w2), math.nan)
    forward = dict(q_theory=q_theory, grad_factor_theory=factors,
                   theory_factor=fit_factor(factor_steps(factors))[0] if net.depth > 1 else None)
    if moments is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            var = running.variance(trials * net.width, moments)
        forward.update(pre_mean=moments[0, 0], pre_var=var[0], act_mean=moments[0, 1], act_var=var[1])
    return EnsembleResult(
        activation=net.act.name, alpha=net.act.alpha, init=init, depth=net.depth, width=net.width, trials=trials,
        seed=seed, sigma_w=net.sigma_w, sigma_w2=w2, sigma_b=net.sigma_b, sigma_b2=b2, input=net.input,
        target=net.target, chunk=chunk,
        log10_grad_p5=p5, log10_grad_p50=p50, log10_grad_p95=p95, log10_mean_sq=mean_sq,
        zero_fraction=hist.zeros / trials, overflow_fraction=hist.overflows / trials, resolution=hist.width / 2,
        measured_factor=factor, fit_intercept=intercept, chi1=chi, q_star=q_star,
        log10_grad_theory=theory_line(mean_sq, chi), depth_scale=meanfield.depth_scale(chi),
        measured_depth_scale=measured_scale, verdict=regime(factor, net.depth, mean_sq),
        theory_verdict=regime(chi, net.depth), far_fraction=np.add(*hist.far_counts) / trials,
        far_precision=hist.far_precision, log10_mean_sq_exact=exact,
        exact_factor=None if exact is None else fit_factor(exact)[0],
        measured_factor_interval=None if batches is None else factor_interval(*batches, seed), **forward)
