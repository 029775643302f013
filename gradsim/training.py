"""Mini-batch gradient descent on a fully connected network, with Nielsen's per-layer speed of learning.

Layers l = 1..L (L - 1 hidden, then the output): z^l = W^l a^(l-1) + b^l, a^l = f(z^l), a^0 = x.
Output: softmax with cross-entropy C = -ln softmax(z^L)_y, or sigmoid with quadratic C = ||sigma(z^L) - y||^2 / 2.
Backward: delta^l = dC/dz^l = (W^(l+1)^T delta^(l+1)) * f'(z^l); dC/db^l = delta^l, dC/dW^l = delta^l a^(l-1)^T.
Speed of learning of hidden layer l (Nielsen, ch. 5): ||dC/db^l||, C the mean cost over the training set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from . import activations, clipping, datasets, dropout as dropouts, optimizers, playground, regions
from .init import INITS as RULES, init_sigma_w2
from .activations import Activation
from .errors import GradsimError, unknown
from .optimizers import Optimizer

#: Initialisations: Nielsen's (N(0,1)/sqrt(fan_in) weights, N(0,1) biases) and those of gradsim.init.
INITS: tuple[str, ...] = ("nielsen",) + tuple(i for i in RULES if i != "nielsen") + ("zeros",)
#: --init auto: each activation's customary initialisation. lecun for selu (Klambauer et al.), he for the relu
#: family and for the activations that are relu-like for large z (elu, gelu, swish, softplus: Clevert et al. used
#: He's init for elu), xavier for the saturating sigmoid, tanh and softsign, lecun for linear.
AUTO_INIT = {"selu": "lecun", "relu": "he", "leaky-relu": "he", "prelu": "he", "elu": "he", "gelu": "he",
             "gelu-tanh": "he", "swish": "he", "softplus": "he", "sigmoid": "xavier", "tanh": "xavier",
             "softsign": "xavier", "linear": "lecun"}
COSTS = ("cross-entropy", "quadratic")
CLIP_MODES = ("none",) + tuple(clipping.MODES)
#: Activations whose units can die: f'(z) = 0 (relu) or alpha (leaky-relu, prelu) for z <= 0.
RELU_LIKE = ("relu", "leaky-relu", "prelu")
#: Limits that keep a run within seconds to minutes and within memory (4e6 weights: 32 MB a copy).
MAX_LAYERS, MAX_WIDTH, MAX_EPOCHS, MAX_WEIGHTS = 64, 4096, 10_000, 4_000_000
DEFAULTS = dict(hidden=(30, 30, 30, 30), act="sigmoid", init="nielsen", cost="cross-entropy", lr=0.1, epochs=10,
                batch=10, seed=0)

Params = tuple[list[np.ndarray], list[np.ndarray]]  # weights W^l (n_l x n_(l-1)), biases b^l


# ---------------------------------------------------------------- options
def parse_hidden(spec: str | int | Sequence[int] | None) -> tuple[int, ...]:
    """Hidden layer sizes from '30,30,30,30' (or a list): each an integer from 1 to MAX_WIDTH."""
    if spec is None:
        return DEFAULTS["hidden"]
    parts = str(spec).split(",") if isinstance(spec, (str, int)) else list(spec)
    sizes = []
    for p in parts:
        try:
            size = int(str(p).strip())
        except ValueError:
            raise GradsimError(f"{str(spec)!r} is not a comma list of layer sizes, e.g. 30,30,30,30",
                               option="--hidden") from None
        if not 1 <= size <= MAX_WIDTH:
            raise GradsimError(f"a layer size must be from 1 to {MAX_WIDTH}, got {size}", option="--hidden")
        sizes.append(size)
    if not 1 <= len(sizes) <= MAX_LAYERS:
        raise GradsimError(f"give 1 to {MAX_LAYERS} hidden layer sizes, got {len(sizes)}", option="--hidden")
    return tuple(sizes)


def _choice(value: str | None, allowed: Sequence[str], default: str, option: str, what: str) -> str:
    key = (default if value is None else value).strip().lower()
    if key not in allowed:
        raise unknown(what, value, allowed, option)
    return key


def _check_numbers(lr: float, epochs: int, batch: int, seed: int, clip_mode: str,
                   clip_threshold: float | None) -> None:
    if not (math.isfinite(lr) and lr > 0):
        raise GradsimError(f"the learning rate must be a finite number > 0, got {lr}", option="--lr")
    if not 1 <= epochs <= MAX_EPOCHS:
        raise GradsimError(f"epochs must be from 1 to {MAX_EPOCHS}, got {epochs}", option="--epochs")
    if batch < 1:
        raise GradsimError(f"the mini-batch size must be >= 1, got {batch}", option="--batch")
    if seed < 0:
        raise GradsimError(f"the seed must be >= 0, got {seed}", option="--seed")
    if clip_mode == "none" and clip_threshold is not None:
        raise GradsimError("a clip threshold needs --clip-mode (value, norm, global-norm or adaptive)",
                           option="--clip-threshold")
    if clip_mode != "none" and clip_threshold is None:
        raise GradsimError(f"--clip-mode {clip_mode} needs a threshold", option="--clip-threshold")
    if clip_threshold is not None and not (math.isfinite(clip_threshold) and clip_threshold > 0):
        raise GradsimError(f"the clip threshold must be a finite number > 0, got {clip_threshold}",
                           option="--clip-threshold")


#: At most this many frames of an animation (--frames).
MAX_FRAMES = 100


def _check_scale(init_scale: float | None, frames: int) -> float:
    scale = 1.0 if init_scale is None else float(init_scale)
    if not (math.isfinite(scale) and scale > 0):
        raise GradsimError(f"the init scale must be a finite number > 0 (--init zeros for 0), got {init_scale}",
                           option="--init-scale")
    if not 0 <= frames <= MAX_FRAMES:
        raise GradsimError(f"frames must be from 1 to {MAX_FRAMES}, got {frames}", option="--frames")
    return scale


def frame_epochs(epochs: int, frames: int) -> set[int]:
    """`frames` epochs spread evenly over 0..epochs, the first and the last among them (all if frames > epochs)."""
    if frames <= 0:
        return set()
    return {round(i * epochs / (frames - 1)) for i in range(frames)} if frames > 1 else {epochs}


def _check_size(sizes: Sequence[int]) -> None:
    weights = sum(n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    if weights > MAX_WEIGHTS:
        raise GradsimError(f"layer sizes {','.join(map(str, sizes[1:-1]))} give {weights:,} weights; at most "
                           f"{MAX_WEIGHTS:,} are allowed", option="--hidden")


# ---------------------------------------------------------------- initialisation
def _orthogonal(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """A (semi-)orthogonal rows x cols matrix: Q of the QR factorisation of a Gaussian, signs fixed."""
    a = rng.normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return q if rows >= cols else q.T


def resolve_init(init: str, act: Activation) -> str:
    """The initialisation for `act`: `init` itself, or for 'auto' the activation's customary one (AUTO_INIT)."""
    return AUTO_INIT.get(act.name, "lecun") if init == "auto" else init


def standard_draws(sizes: Sequence[int], rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Standard-normal draws (G^l, g^l) for every layer's weights and biases, in the order init_params draws them
    for Nielsen's init (W^1, b^1, W^2, ...), so that several activations can share them."""
    return [(rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def params_from_draws(draws: Sequence[tuple[np.ndarray, np.ndarray]], init: str, act: Activation) -> Params:
    """init_params from given standard-normal draws: W^l = sqrt(sigma_w^2 / n_in) G^l (orthogonal: sigma_w times
    the Q of G^l), b^l = g^l for Nielsen's init and 0 otherwise."""
    ws, bs = [], []
    sigma_w2 = 1.0 if init in ("nielsen", "zeros") else init_sigma_w2(init, act)  # zeros: set to 0 by `start`
    for g_w, g_b in draws:
        n_out, n_in = g_w.shape
        if init == "orthogonal":
            ws.append(math.sqrt(sigma_w2) * _q_of(g_w if n_out >= n_in else g_w.T, n_out >= n_in))
        else:
            ws.append(math.sqrt(sigma_w2 / n_in) * g_w)
        bs.append(g_b.copy() if init == "nielsen" else np.zeros(n_out))
    return ws, bs


def _q_of(a: np.ndarray, tall: bool) -> np.ndarray:
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    return q if tall else q.T


def init_params(sizes: Sequence[int], init: str, act: Activation, rng: np.random.Generator) -> Params:
    """W^l and b^l for layer sizes (n_0, ..., n_L).

    nielsen: W ~ N(0, 1/n_in), b ~ N(0, 1). Others: W ~ N(0, sigma_w^2 / n_in) (orthogonal: sigma_w Q), b = 0,
    with sigma_w^2 from gradsim.init.init_sigma_w2.
    """
    ws, bs = [], []
    sigma_w2 = 1.0 if init in ("nielsen", "zeros") else init_sigma_w2(init, act)  # zeros: set to 0 by `start`
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        if init == "orthogonal":
            ws.append(math.sqrt(sigma_w2) * _orthogonal(n_out, n_in, rng))
        else:
            ws.append(rng.normal(0.0, math.sqrt(sigma_w2 / n_in), (n_out, n_in)))
        bs.append(rng.normal(0.0, 1.0, n_out) if init == "nielsen" else np.zeros(n_out))
    return ws, bs


def start(ws: Sequence[np.ndarray], bs: Sequence[np.ndarray], init: str, scale: float) -> Params:
    """The parameters training starts from: every W^l times `scale`; zeros: every W^l and b^l 0 (no symmetry
    breaking: all units of a layer compute the same function and get the same gradient)."""
    if init == "zeros":
        return [np.zeros_like(w) for w in ws], [np.zeros_like(b) for b in bs]
    with np.errstate(over="ignore"):  # K = 1e308 overflows to inf weights: a run that diverges, not a warning
        return [scale * w for w in ws], list(bs)


# ---------------------------------------------------------------- forward and backward
def forward(ws: Sequence[np.ndarray], bs: Sequence[np.ndarray], act: Activation, x: np.ndarray,
            masks: Sequence[dropouts.Mask] | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pre-activations z^1..z^L and activations a^0..a^(L-1) for a batch of inputs in rows (z^L is the output).

    `masks`: one dropout mask per hidden layer (training only), a^l = mask(f(z^l)).
    """
    zs, outs = [], [x]
    for layer, (w, b) in enumerate(zip(ws, bs)):
        z = outs[-1] @ w.T + b
        zs.append(z)
        if layer < len(ws) - 1:
            outs.append(act.f(z) if masks is None else masks[layer].apply(act.f(z)))
    return zs, outs


def forward_blocks(ws: Sequence[np.ndarray], bs: Sequence[np.ndarray], act: Activation,
                   x: np.ndarray) -> list[np.ndarray]:
    """z^1..z^L of `forward` for many rows, 4 BLOCKs of rows at a time (see BLOCK: larger blocks were slower)."""
    parts = [forward(ws, bs, act, x[b])[0] for b in _blocks(len(x), 4 * BLOCK)]
    return [np.concatenate(layer) for layer in zip(*parts)]


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """ln softmax(z) row by row: z - max z - ln sum e^(z - max z)."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def output_cost(z: np.ndarray, labels: np.ndarray, cost: str) -> tuple[np.ndarray, np.ndarray]:
    """Cost per example and delta^L = dC/dz^L.

    cross-entropy: C = -ln s_y with s = softmax(z), delta = s - e_y.
    quadratic: C = ||sigma(z) - e_y||^2 / 2, delta = (sigma(z) - e_y) sigma'(z).
    """
    if cost == "cross-entropy":
        log_s = _log_softmax(z)
        rows = np.arange(len(labels))
        delta = np.exp(log_s)
        delta[rows, labels] -= 1.0  # s - e_y: the same subtraction as with a one-hot matrix, only where it is 1
        return -log_s[rows, labels], delta
    onehot = np.eye(z.shape[1])[labels]
    out = activations.sigmoid(z)
    return 0.5 * ((out - onehot) ** 2).sum(axis=1), (out - onehot) * activations.dsigmoid(z)


def backward(ws: Sequence[np.ndarray], zs: Sequence[np.ndarray], outs: Sequence[np.ndarray], act: Activation,
             delta: np.ndarray, masks: Sequence[dropouts.Mask] | None = None,
             dacts: Sequence[np.ndarray] | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """dC/dW^l and dC/db^l of the mean cost over the batch, from delta^L (one row per example).

    With dropout masks, delta^l also carries the mask's factor: (W^(l+1)^T delta^(l+1)) * f'(z^l) * mult^l.
    `dacts`: f'(z^l) of the hidden layers if already computed.
    """
    m = delta.shape[0]
    grads_w, grads_b = [None] * len(ws), [None] * len(ws)
    for layer in range(len(ws) - 1, -1, -1):
        grads_w[layer] = delta.T @ outs[layer] / m
        grads_b[layer] = np.add.reduce(delta, axis=0) / m  # delta.mean(axis=0), bit for bit, without its overhead
        if layer > 0:
            delta = (delta @ ws[layer]) * (act.dact(zs[layer - 1]) if dacts is None else dacts[layer - 1])
            if masks is not None:
                delta = delta * masks[layer - 1].mult
    return grads_w, grads_b


@dataclass(frozen=True)
class Gradients:
    """The mean cost of a batch and its gradients, with the hidden pre-activations for dead-unit counts."""

    loss: float
    grads_w: list[np.ndarray]
    grads_b: list[np.ndarray]
    hidden_z: list[np.ndarray]
    hidden_dact: list[np.ndarray] | None = None  # f'(z^l) of the hidden layers


def gradients(ws: Sequence[np.ndarray], bs: Sequence[np.ndarray], act: Activation, cost: str, x: np.ndarray,
              labels: np.ndarray, masks: Sequence[dropouts.Mask] | None = None) -> Gradients:
    """Forward and backward pass: C = mean over the batch of the per-example cost."""
    zs, outs = forward(ws, bs, act, x, masks)
    per_example, delta = output_cost(zs[-1], labels, cost)
    dacts = [act.dact(z) for z in zs[:-1]]
    grads_w, grads_b = backward(ws, zs, outs, act, delta, masks, dacts)
    return Gradients(float(per_example.mean()), grads_w, grads_b, zs[:-1], dacts)


# ---------------------------------------------------------------- clipping in the loop
def _finite(ws, bs) -> bool:
    """Whether every weight and bias is a finite number."""
    return all(np.isfinite(p).all() for p in (*ws, *bs))


def clip_gradients(grads_w: list[np.ndarray], grads_b: list[np.ndarray], ws: list[np.ndarray],
                   bs: list[np.ndarray], mode: str, threshold: float | None) -> tuple[list, list, bool]:
    """The gradients after clipping every tensor (W^1, b^1, W^2, ...) by `mode`, and whether any changed."""
    if mode == "none":
        return grads_w, grads_b, False
    grads = [g for pair in zip(grads_w, grads_b) for g in pair]
    if mode == "value":
        clipped = [clipping.clip_by_value(g, threshold) for g in grads]
    elif mode == "norm":
        clipped = [clipping.clip_by_norm(g, threshold) for g in grads]
    elif mode == "global-norm":
        clipped = clipping.clip_by_global_norm(grads, threshold)
    elif not _finite(ws, bs):  # a diverged run: AGC has no weight norms to scale by, so the step stays as it is
        return grads_w, grads_b, False
    else:
        params = [p for pair in zip(ws, bs) for p in pair]
        clipped = clipping.clip_adaptive(grads, params, threshold)
    changed = any(not np.array_equal(c, g) for c, g in zip(clipped, grads))
    return list(clipped[0::2]), list(clipped[1::2]), changed


# ---------------------------------------------------------------- measuring
@dataclass(frozen=True)
class Epoch:
    """The state after `epoch` epochs (0: at initialisation)."""

    epoch: int
    loss: float  # mean cost over the training set
    accuracy: float  # share of held-out examples classified right
    test_loss: float
    speeds: np.ndarray  # ||dC/db^l|| for each hidden layer, first first
    dead_fraction: np.ndarray | None  # per hidden layer: share of units with z <= 0 on every training example
    clipped_steps: int  # steps of this epoch whose gradient clipping changed
    steps: int
    #: per hidden layer: share of units with |f'(z)| < SATURATED * max|f'| on most training examples
    saturated_fraction: np.ndarray | None = None
    #: per hidden layer: log10(std(update of W^l) / std(W^l)) on the epoch's last step (None at epoch 0)
    update_ratio_log10: np.ndarray | None = None
    regions: regions.Regions | None = None  # linear regions over a 2-D set's window (relu family only)

    @property
    def log10_ratio(self) -> float | None:
        """log10 of speed(last hidden layer) / speed(first); None if either is 0 or not finite."""
        first, last = float(self.speeds[0]), float(self.speeds[-1])
        if not (first > 0 and last > 0 and math.isfinite(first) and math.isfinite(last)):
            return None
        return math.log10(last) - math.log10(first)

    @property
    def ratio(self) -> float | None:
        return None if self.log10_ratio is None else 10.0 ** self.log10_ratio


#: Rows per block when a pass covers a whole data set. Measured on a busy 2-core machine: one 1438-row product made
#: the passes 5-10x slower (BLAS threads waiting for a core); 128-row blocks ran as fast as OPENBLAS_NUM_THREADS=1.
BLOCK = 128


def _blocks(n: int, rows: int = BLOCK) -> list[slice]:
    return [slice(i, min(i + rows, n)) for i in range(0, n, rows)]


def full_gradients(ws, bs, act: Activation, cost: str, x: np.ndarray, labels: np.ndarray,
                   weights: bool = True) -> Gradients:
    """`gradients` of the mean cost over all rows, block by block, each block weighted by its share of the rows.

    weights=False leaves grads_w empty (measuring needs only dC/db).
    """
    blocks = _blocks(len(labels))
    parts = [gradients(ws, bs, act, cost, x[b], labels[b]) for b in blocks]
    shares = [(b.stop - b.start) / len(labels) for b in blocks]

    def mix(tensors_of) -> list[np.ndarray]:
        return [sum(w * t for w, t in zip(shares, layer)) for layer in zip(*(tensors_of(p) for p in parts))]

    return Gradients(sum(w * p.loss for w, p in zip(shares, parts)), mix(lambda p: p.grads_w) if weights else [],
                     mix(lambda p: p.grads_b), [np.concatenate(zs) for zs in zip(*(p.hidden_z for p in parts))],
                     [np.concatenate(ds) for ds in zip(*(p.hidden_dact for p in parts))])


def accuracy(ws, bs, act: Activation, cost: str, x: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Share of examples with argmax_k z^L_k == label, and the mean cost over them (block by block)."""
    right = total = 0.0
    for b in _blocks(len(labels)):
        zs, _ = forward(ws, bs, act, x[b])
        per_example, _ = output_cost(zs[-1], labels[b], cost)
        right += float(np.sum(np.argmax(zs[-1], axis=1) == labels[b]))
        total += float(per_example.sum())
    return right / len(labels), total / len(labels)


def dead_fraction(hidden_z: Sequence[np.ndarray]) -> np.ndarray:
    """Per hidden layer, the share of units with z <= 0 on every example (relu outputs 0 for all of them)."""
    return np.array([float(np.mean(np.all(z <= 0, axis=0))) for z in hidden_z])


#: A unit is saturated on an example when |f'(z)| < SATURATED * max |f'| (the sigmoid/tanh analogue of a dead relu).
SATURATED = 0.01


def saturated_fraction(hidden_dact: Sequence[np.ndarray], act: Activation) -> np.ndarray:
    """Per hidden layer, the share of units with |f'(z)| < 1% of max |f'| on more than half of the examples.

    `hidden_dact`: f'(z) of each hidden layer, one row per example.
    """
    bound = SATURATED * activations.peak_dact(act).value
    return np.array([float(np.mean(np.mean(np.abs(d) < bound, axis=0) > 0.5)) for d in hidden_dact])


def update_ratio_log10(before: Sequence[np.ndarray], after: Sequence[np.ndarray]) -> np.ndarray:
    """log10(std(W_after - W_before) / std(W_before)) per weight matrix (Karpathy: near -3 is healthy); nan if 0."""
    out = []
    for b, a in zip(before, after):
        num, den = float(np.std(a - b)), float(np.std(b))
        ok = num > 0 and den > 0 and math.isfinite(num) and math.isfinite(den)
        out.append(math.log10(num) - math.log10(den) if ok else math.nan)
    return np.array(out)


def distinct_units(ws: Sequence[np.ndarray], bs: Sequence[np.ndarray]) -> tuple[int, ...]:
    """Per hidden layer, the number of distinct units: distinct rows (W^l_i, b^l_i), compared exactly."""
    return tuple(len(np.unique(np.column_stack([w, b]), axis=0)) for w, b in zip(ws[:-1], bs[:-1]))


def plane_regions(ws, bs, act: Activation, data: datasets.Dataset) -> regions.Regions | None:
    """The linear regions of the net over a 2-D set's window grid (None for other data, smooth activations, or
    parameters that are no longer finite)."""
    if not isinstance(data, playground.PlaneData) or act.name not in regions.PIECEWISE_LINEAR or not _finite(ws, bs):
        return None
    return regions.count(forward_blocks(ws, bs, act, data.inputs(data.window.points()))[:-1], act.name)


def measure(ws, bs, act: Activation, cost: str, data: datasets.Dataset, epoch: int, clipped_steps: int = 0,
            steps: int = 0, update_ratio: np.ndarray | None = None) -> Epoch:
    """Loss and per-layer speed over the whole training set, accuracy on the held-out part (no dropout)."""
    g = full_gradients(ws, bs, act, cost, data.x_train, data.y_train, weights=False)
    acc, test_loss = accuracy(ws, bs, act, cost, data.x_test, data.y_test)
    speeds = np.array([np.linalg.norm(gb) for gb in g.grads_b[:-1]])
    dead = dead_fraction(g.hidden_z) if act.name in RELU_LIKE else None
    return Epoch(epoch, g.loss, acc, test_loss, speeds, dead, clipped_steps, steps,
                 saturated_fraction(g.hidden_dact, act), update_ratio, plane_regions(ws, bs, act, data))


# ---------------------------------------------------------------- training
def train_epoch(ws: list[np.ndarray], bs: list[np.ndarray], act: Activation, cost: str, data: datasets.Dataset,
                lr: float, batch: int, clip_mode: str, clip_threshold: float | None,
                rng: np.random.Generator, optimizer: Optimizer | None = None,
                state: optimizers.State | None = None, dropout: float = 0.0,
                drop_rng: np.random.Generator | None = None, record: list | None = None) -> tuple[int, int]:
    """One pass over the shuffled training set in mini-batches, updating ws and bs in place.

    Each step: gradient of the mini-batch (with fresh dropout masks if `dropout` > 0), clipped by `clip_mode`,
    then the optimizer's update (default: sgd with `lr`, theta -= lr g). Returns (steps, steps whose gradient
    clipping changed); `record`, if given, receives the hidden layers' update ratios of the last step.
    """
    optimizer = optimizer or Optimizer("sgd", lr)
    state = state if state is not None else optimizers.State()
    how = dropouts.kind(act.name, dropout)
    order = rng.permutation(data.n_train)
    steps = clipped = 0
    hidden = len(ws) - 1
    params = [p for pair in zip(ws, bs) for p in pair]  # updated in place, so the list stays valid
    for start in range(0, len(order), batch):
        rows = order[start:start + batch]
        masks = None if how == "none" else [dropouts.draw((len(rows), w.shape[0]), dropout, how, drop_rng)
                                            for w in ws[:-1]]
        g = gradients(ws, bs, act, cost, data.x_train[rows], data.y_train[rows], masks)
        gw, gb, changed = clip_gradients(g.grads_w, g.grads_b, ws, bs, clip_mode, clip_threshold)
        last = record is not None and start + batch >= len(order)
        before = [w.copy() for w in ws[:hidden]] if last else None
        optimizers.step(optimizer, state, params, [g for pair in zip(gw, gb) for g in pair])
        if last:
            record[:] = list(update_ratio_log10(before, ws[:hidden]))
        steps, clipped = steps + 1, clipped + int(changed)
    return steps, clipped


@dataclass(frozen=True)
class TrainResult:
    """Per-epoch loss, held-out accuracy, per-layer speed of learning and dead units of one training run."""

    activation: str
    alpha: float | None
    hidden: tuple[int, ...]
    init: str
    cost: str
    data: str
    data_description: str
    n_train: int
    n_test: int
    n_features: int
    n_classes: int
    lr: float
    epochs_requested: int
    batch: int
    clip_mode: str
    clip_threshold: float | None
    seed: int
    epochs: tuple[Epoch, ...]  # epochs[0] is at initialisation
    weights: tuple[np.ndarray, ...]  # after training
    biases: tuple[np.ndarray, ...]
    diverged_at: int | None  # first epoch after which a parameter was no longer finite
    optimizer: Optimizer = Optimizer()
    dropout: float = 0.0  # probability of dropping a hidden unit in training
    dropout_kind: str = "none"  # none, inverted or alpha (AlphaDropout, selu)
    init_scale: float = 1.0
    distinct_units: tuple[int, ...] = ()  # per hidden layer at the end
    dataset: datasets.Dataset | None = None  # the data trained on (a 2-D set carries its window and points)
    snapshots: tuple[tuple[int, tuple, tuple], ...] = ()  # (epoch, weights, biases) at the recorded epochs

    @property
    def speeds(self) -> np.ndarray:
        """Speeds as an (epochs + 1) x hidden-layers array."""
        return np.array([e.speeds for e in self.epochs])


@dataclass(frozen=True)
class _Setup:
    """What every activation of a run shares: options, data, layer sizes and the seeds of the random streams."""

    hidden: tuple[int, ...]
    init: str
    cost: str
    clip_mode: str
    clip_threshold: float | None
    optimizer: Optimizer
    epochs: int
    batch: int
    seed: int
    dropout: float
    dataset: datasets.Dataset
    sizes: tuple[int, ...]
    streams: tuple[np.random.SeedSequence, ...]  # data, init, shuffle, dropout
    init_scale: float = 1.0
    frames: frozenset[int] = frozenset()  # epochs whose parameters are kept (for animations)


def _setup(hidden, init, cost, data, lr, epochs, batch, clip_mode, clip_threshold, seed, optimizer, momentum,
           beta1, beta2, adam_eps, dropout, default_init: str, samples=None, noise=None, features=None,
           init_scale=None, frames: int = 0) -> _Setup:
    """Check every option (naming it on error) and load the data once."""
    sizes_hidden = parse_hidden(hidden)
    init = _choice(init, INITS + ("auto",), default_init, "--init", "initialisation")
    cost = _choice(cost, COSTS, DEFAULTS["cost"], "--cost", "cost")
    clip_mode = _choice(clip_mode, CLIP_MODES, "none", "--clip-mode", "clip mode")
    opt = optimizers.make(optimizer, lr, momentum, beta1, beta2, adam_eps)
    epochs, batch = (DEFAULTS["epochs"] if epochs is None else int(epochs),
                     DEFAULTS["batch"] if batch is None else int(batch))
    seed = DEFAULTS["seed"] if seed is None else int(seed)
    _check_numbers(opt.lr, epochs, batch, seed, clip_mode, clip_threshold)
    p = dropouts.check_rate(dropout)
    # the first three streams are those of SeedSequence(seed).spawn(3): runs without dropout are as before
    streams = tuple(np.random.SeedSequence(seed).spawn(4))
    init_scale = _check_scale(init_scale, frames)
    dataset = datasets.load(data, np.random.default_rng(streams[0]), samples=samples, noise=noise, features=features)
    sizes = (dataset.n_features, *sizes_hidden, dataset.n_classes)
    _check_size(sizes)
    return _Setup(sizes_hidden, init, cost, clip_mode, clip_threshold, opt, epochs, min(batch, dataset.n_train),
                  seed, p, dataset, sizes, streams, init_scale, frozenset(frame_epochs(epochs, frames)))


def _fit(s: _Setup, activation: Activation, init: str, ws: list[np.ndarray], bs: list[np.ndarray],
         progress: Callable[[int, int], None] | None = None) -> TrainResult:
    """Train from (ws, bs) with a fresh shuffling and dropout stream, measuring every epoch."""
    shuffle_rng, drop_rng = np.random.default_rng(s.streams[2]), np.random.default_rng(s.streams[3])
    state, record = optimizers.State(), []
    diverged_at = None
    ws, bs = start(ws, bs, init, s.init_scale)
    snapshots = []

    def keep(epoch: int) -> None:
        if epoch in s.frames:
            snapshots.append((epoch, tuple(w.copy() for w in ws), tuple(b.copy() for b in bs)))

    keep(0)
    with np.errstate(all="ignore"):  # a diverging run is a result (non-finite loss), not a warning
        history = [measure(ws, bs, activation, s.cost, s.dataset, 0)]
        for epoch in range(1, s.epochs + 1):
            steps, clipped = train_epoch(ws, bs, activation, s.cost, s.dataset, s.optimizer.lr, s.batch,
                                         s.clip_mode, s.clip_threshold, shuffle_rng, s.optimizer, state,
                                         s.dropout, drop_rng, record)
            history.append(measure(ws, bs, activation, s.cost, s.dataset, epoch, clipped, steps, np.array(record)))
            keep(epoch)
            if progress is not None:
                progress(epoch, s.epochs)
            if not _finite(ws, bs):
                diverged_at = epoch
                break
    d = s.dataset
    return TrainResult(activation.name, activation.alpha, s.hidden, init, s.cost, d.name, d.description, d.n_train,
                       d.n_test, d.n_features, d.n_classes, s.optimizer.lr, s.epochs, s.batch, s.clip_mode,
                       s.clip_threshold, s.seed, tuple(history), tuple(ws), tuple(bs), diverged_at, s.optimizer,
                       s.dropout, dropouts.kind(activation.name, s.dropout), s.init_scale, distinct_units(ws, bs), d,
                       tuple(snapshots))


def train(hidden: str | Sequence[int] | None = None, act: str | None = None, init: str | None = None,
          cost: str | None = None, data: str | None = None, lr: float | None = None, epochs: int | None = None,
          batch: int | None = None, clip_mode: str | None = None, clip_threshold: float | None = None,
          seed: int | None = None, alpha: float | None = None,
          progress: Callable[[int, int], None] | None = None, optimizer: str | None = None,
          momentum: float | None = None, beta1: float | None = None, beta2: float | None = None,
          adam_eps: float | None = None, dropout: float | None = None, samples: int | None = None,
          noise: float | None = None, features: str | Sequence[str] | None = None, init_scale: float | None = None,
          frames: int = 0) -> TrainResult:
    """Train a fully connected net with mini-batch gradient descent; measure every layer's speed each epoch.

    The data, the initial parameters, the shuffling and the dropout masks draw from four streams spawned from
    `seed`, so two runs that differ only in activation or initialisation see the same split. `progress(done,
    total)` is called after every epoch. The optimizer (sgd, momentum or adam, see gradsim.optimizers) receives
    the gradient after clipping. A 2-D set (data circle, xor, gauss, spiral, moons) takes `samples`, `noise` and
    `features`; `init_scale` multiplies the initial weights; `frames` > 0 keeps the parameters at that many epochs
    spread evenly from 0 to the last (TrainResult.snapshots, for animations).
    """
    activation = activations.get(DEFAULTS["act"] if act is None else act, alpha)
    s = _setup(hidden, init, cost, data, lr, epochs, batch, clip_mode, clip_threshold, seed, optimizer, momentum,
               beta1, beta2, adam_eps, dropout, DEFAULTS["init"], samples, noise, features, init_scale, frames)
    init = resolve_init(s.init, activation)
    ws, bs = init_params(s.sizes, init, activation, np.random.default_rng(s.streams[1]))
    return _fit(s, activation, init, ws, bs, progress)


def train_many(acts: str | Sequence[str] | None = None, hidden: str | Sequence[int] | None = None,
               init: str | None = None, cost: str | None = None, data: str | None = None, lr: float | None = None,
               epochs: int | None = None, batch: int | None = None, clip_mode: str | None = None,
               clip_threshold: float | None = None, seed: int | None = None, alpha: float | None = None,
               progress: Callable[[int, int], None] | None = None, optimizer: str | None = None,
               momentum: float | None = None, beta1: float | None = None, beta2: float | None = None,
               adam_eps: float | None = None, dropout: float | None = None, samples: int | None = None,
               noise: float | None = None, features: str | Sequence[str] | None = None,
               init_scale: float | None = None, frames: int = 0) -> list[TrainResult]:
    """Train the same net once per activation ('a,b,c', a list, or 'all'), in the order given.

    Every activation sees the same data split, the same mini-batch order, the same dropout draws and the same
    standard-normal draws for its initial weights, scaled by its own initialisation (`init`; 'auto', the default
    for several activations, is each one's customary init, AUTO_INIT). One activation is exactly `train`.
    """
    names = [acts] if isinstance(acts, str) or acts is None else list(acts)
    chosen = activations.resolve_many(names, alpha) if acts is not None else [activations.get(DEFAULTS["act"], alpha)]
    if len(chosen) == 1:
        return [train(hidden, chosen[0].name, init, cost, data, lr, epochs, batch, clip_mode, clip_threshold, seed,
                      alpha if chosen[0].name in activations.ALPHA_DEFAULTS else None, progress, optimizer,
                      momentum, beta1, beta2, adam_eps, dropout, samples, noise, features, init_scale, frames)]
    s = _setup(hidden, init, cost, data, lr, epochs, batch, clip_mode, clip_threshold, seed, optimizer, momentum,
               beta1, beta2, adam_eps, dropout, "auto", samples, noise, features, init_scale, frames)
    draws = standard_draws(s.sizes, np.random.default_rng(s.streams[1]))
    results = []
    for k, activation in enumerate(chosen):
        init_k = resolve_init(s.init, activation)
        ws, bs = params_from_draws(draws, init_k, activation)
        tick = None if progress is None else (lambda done, total, k=k: progress(k * total + done,
                                                                                len(chosen) * total))
        results.append(_fit(s, activation, init_k, ws, bs, tick))
    return results


@dataclass(frozen=True)
class Comparison:
    """One activation's summary in a comparison run."""

    activation: str
    init: str
    final_accuracy: float
    best_accuracy: float
    best_epoch: int
    final_test_loss: float
    best_test_loss: float
    best_loss_epoch: int
    log10_ratio_init: float | None  # log10 speed(last hidden) / speed(first) at initialisation
    log10_ratio_end: float | None
    dead_fraction: float | None  # share of all hidden units dead at the end (relu family)
    saturated_fraction: float | None  # share of all hidden units saturated at the end (None if diverged)
    diverged_at: int | None


def compare(r: TrainResult) -> Comparison:
    """The comparison row of one run: final and best held-out accuracy and loss, speeds ratio, dead/saturated."""
    acc = np.array([e.accuracy for e in r.epochs])
    loss = np.array([e.test_loss for e in r.epochs])
    best = int(np.argmax(acc))
    finite = np.where(np.isfinite(loss), loss, np.inf)
    best_loss = int(np.argmin(finite))
    first, last = r.epochs[0], r.epochs[-1]
    units = np.array(r.hidden, dtype=float)

    def share(fractions: np.ndarray | None) -> float | None:
        # a diverged net's units are neither dead nor saturated: its z are not numbers
        if fractions is None or r.diverged_at is not None:
            return None
        return float(np.sum(fractions * units) / units.sum())

    return Comparison(r.activation, r.init, float(acc[-1]), float(acc[best]), r.epochs[best].epoch, float(loss[-1]),
                      float(loss[best_loss]), r.epochs[best_loss].epoch, first.log10_ratio, last.log10_ratio,
                      share(last.dead_fraction), share(last.saturated_fraction), r.diverged_at)
