"""Forward and backward statistics of random plain, normalised and residual networks, beside their mean field.

Each trial draws one network from `layers`' kinds and runs a batch (B, N) through it: x ~ N(0, I) per example
(with two inputs: cosine exactly c, equal norms). Per layer it records the mean and variance
of the pre-activations ("pre": the dense output h_l, or the residual stream s_l) and of the activations
f(.) over units, examples and trials; Brock, De & Smith's (2021) average channel squared mean and average
channel variance (per unit over the batch, then averaged over units); the correlation of the two inputs'
pre-activations; and ||delta_l||^2 = ||dC/dh_l||^2 (or ||dC/ds_l||^2) for the cost C = sum r * out, r ~ N(0, I)
drawn apart from the network: a gradient direction independent of the forward pass, as the mean field's
backward recursion assumes (with C = ||out||^2 / 2 the top gradient is the forward signal itself, and in a
residual net, whose identity path carries it to every layer, that correlation visibly breaks the recursion). The mean field gives q_l (`q_theory`), the c-map (`correlation_theory`) and the per-layer factor of the
mean squared gradient (`grad_factor_theory`).

Trial t draws from child t of SeedSequence(seed): its inputs from the first grandchild, layer l's weights then
biases from grandchild l + 1, so a run is reproducible and each trial's network can be redrawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import activations, cost
from .activations import Activation
from .chain import LN10
from .correlation import c_trajectory
from .ensemble import children, factor_steps, fit_factor, regime
from .errors import GradsimError
from .init import init_sigma_w2
from .layers import Dense, Nonlinearity, Norm, NormResidual, Residual, norm_factor

MAX_BATCH = 65536
#: Weights of one trial are kept for the backward pass up to this many bytes, else redrawn from their seeds.
KEEP_BYTES = 256 * 2**20
#: Default trials: about DEFAULT_MACS / (depth x batch x width^2), from DEFAULT_TRIALS[0] to [1].
DEFAULT_MACS = 4 * 10**8
DEFAULT_TRIALS = (4, 2000)


@dataclass(frozen=True)
class Arch:
    """The network: activation, depth, width, scales, normalisation, residual branches, batch and inputs."""

    act: Activation
    depth: int
    width: int
    sigma_w2: float
    sigma_b2: float
    norm: str | None  # None, "batch", "layer"
    position: str  # "pre" (before f) or "post" (after f)
    batch: int
    alpha: float | None  # residual branch scale; None: a plain (or normalised) MLP
    beta: float | None  # fixed branch input scale; None: beta_l = sqrt(q_l) (NF-ResNets)
    branch: int
    correlation: float | None  # two inputs of this correlation (batch 2)

    @property
    def dense(self) -> Dense:
        return Dense(self.width, self.sigma_w2, self.sigma_b2)

    @property
    def residual(self) -> Residual | NormResidual | None:
        if self.alpha is None:
            return None
        if self.norm is not None:
            return NormResidual(self.act, self.alpha, self.branch, self.dense, self.norm, self.position, self.batch)
        return Residual(self.act, self.alpha, self.branch, self.dense)

    def describe(self) -> str:
        if self.alpha is not None and self.norm is not None:
            name = "BN" if self.norm == "batch" else "LN"
            inner = f"{self.act.name}({name}(s))" if self.position == "pre" else f"{name}({self.act.name}(s))"
            return f"residual: s + {self.alpha:g} W {inner} + b, branch depth {self.branch}"
        if self.alpha is not None:
            beta = "sqrt(q_l)" if self.beta is None else f"{self.beta:g}"
            return f"residual: s + {self.alpha:g} branch(s / {beta}), branch depth {self.branch}"
        if self.norm is not None:
            name = "BatchNorm" if self.norm == "batch" else "LayerNorm"
            return f"{name} {'before' if self.position == 'pre' else 'after'} {self.act.name}"
        return "plain MLP"


# ---------------------------------------------------------------- theory along the depth
@dataclass(frozen=True)
class Theory:
    """Mean-field q_l, the per-layer gradient factor (delta_(l+1) -> delta_l), beta_l, and the c-map iteration."""

    q: np.ndarray
    grad_factor: np.ndarray  # entry l: E||delta_l||^2 / E||delta_(l+1)||^2 (the last is nan)
    beta: np.ndarray | None
    correlation: np.ndarray | None


def theory(arch: Arch) -> Theory:
    """The mean field of `arch` layer by layer (formulas and sources in `layers`)."""
    unit, dense, L = Nonlinearity(arch.act), arch.dense, arch.depth
    q, factor = np.empty(L), np.full(L, math.nan)
    beta, corr = None, None
    if arch.alpha is not None and arch.norm is not None:
        block, s, v = arch.residual, 1.0, 1.0  # x ~ N(0, I): mean square 1, batch variance 1 per unit
        for layer in range(L):
            if layer:
                factor[layer - 1] = block.grad_factor(s, v)
            s, v = block.next_state(s, v)
            q[layer] = s
    elif arch.alpha is not None:
        block, beta = arch.residual, np.empty(L)
        s = 1.0  # the input's mean square
        for layer in range(L):
            beta[layer] = math.sqrt(s) if arch.beta is None else arch.beta
            s_next = block.q_next(s, beta[layer])
            if layer:
                factor[layer - 1] = block.grad_factor(s, beta[layer])
            q[layer] = s = s_next
        if arch.correlation is not None and arch.branch == 1:
            corr = _residual_correlation(arch, q, beta)
    elif arch.norm is None:
        q[0] = dense.q(1.0)
        for layer in range(1, L):
            q[layer] = dense.q(unit.mean_square(q[layer - 1]))
        factor[:-1] = [arch.sigma_w2 * unit.dact_square(v) for v in q[:-1]]
        if arch.correlation is not None:
            corr = c_trajectory(arch.act, arch.sigma_w2, arch.sigma_b2, q[0], dense.q12(arch.correlation), L)[1]
    else:
        q[0] = dense.q(1.0)
        q[1:] = dense.q(unit.mean_square(1.0) if arch.position == "pre" else 1.0)
        factor[:-1] = [norm_factor(arch.act, arch.norm, arch.position, arch.sigma_w2, arch.sigma_b2, arch.batch, v,
                                   first=layer == 0) for layer, v in enumerate(q[:-1])]
    return Theory(q, factor, beta, corr)


def _residual_correlation(arch: Arch, q: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """c_l of the stream: q12_(l+1) = q12_l + alpha^2 (sigma_w2 E[f(u1) f(u2)] + sigma_b2), u = s / beta_l."""
    from .correlation import bivariate

    out, s, s12 = np.empty(arch.depth), 1.0, arch.correlation
    for layer in range(arch.depth):
        c = min(max(s12 / s, -1.0), 1.0)
        s12 += arch.alpha**2 * (arch.sigma_w2 * float(bivariate(arch.act.f, arch.act.f, s / beta[layer]**2, c))
                                + arch.sigma_b2)
        s = q[layer]
        out[layer] = s12 / s
    return out


# ---------------------------------------------------------------- one trial
class Sums:
    """Per-layer running sums over trials: forward moments, channel metrics, correlations, ln ||delta||^2."""

    KEYS = ("pre", "pre2", "act", "act2", "chan_mean2", "chan_var", "corr")

    def __init__(self, depth: int, trials: int):
        self.values = {k: np.zeros(depth) for k in self.KEYS}
        self.ln_grad = np.empty((trials, depth))  # ln ||delta_l|| per trial

    def forward(self, layer: int, pre: np.ndarray, act: np.ndarray, two: bool) -> None:
        v = self.values
        v["pre"][layer] += pre.mean()
        v["pre2"][layer] += np.mean(pre * pre)
        v["act"][layer] += act.mean()
        v["act2"][layer] += np.mean(act * act)
        if len(pre) > 1:
            m = pre.mean(axis=0)
            v["chan_mean2"][layer] += np.mean(m * m)
            v["chan_var"][layer] += np.mean(np.mean(pre * pre, axis=0) - m * m)
        if two:
            n1, n2 = np.sqrt(np.sum(pre[0] ** 2)), np.sqrt(np.sum(pre[1] ** 2))
            v["corr"][layer] += float(pre[0] @ pre[1]) / (n1 * n2) if n1 > 0 and n2 > 0 else math.nan


def _weights(arch: Arch, seed: np.random.SeedSequence) -> list[tuple[np.ndarray, np.ndarray]]:
    """One layer's (W, b) pairs: one, or `branch` of them in a residual block."""
    rng = np.random.default_rng(seed)
    count = arch.branch if arch.alpha is not None else 1
    return [arch.dense.draw(rng) for _ in range(count)]


def _inputs(arch: Arch, seed: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
    """The inputs x (B, N) and the cost's direction r (B, N), both N(0, I); with two inputs x2 = ||x1|| (c e1 +
    sqrt(1 - c^2) e2), e1 = x1 / ||x1|| and e2 a random unit vector orthogonal to it: cosine exactly c, equal norms."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((arch.batch, arch.width))
    if arch.correlation is not None:
        c, norm = arch.correlation, np.linalg.norm(x[0])
        e1 = x[0] / norm
        e2 = x[1] - (x[1] @ e1) * e1
        x[1] = norm * (c * e1 + math.sqrt(max(1.0 - c * c, 0.0)) * e2 / np.linalg.norm(e2))
    return x, rng.standard_normal((arch.batch, arch.width))


def run_trial(arch: Arch, th: Theory, seed: np.random.SeedSequence, sums: Sums, trial: int) -> None:
    """Forward the batch through one drawn network, recording statistics, then send C's gradient back."""
    seeds = children(seed, arch.depth + 1)
    keep = arch.depth * arch.width**2 * 8 * (arch.branch if arch.alpha is not None else 1) <= KEEP_BYTES
    kept: dict[int, list] = {}

    def weights(layer: int) -> list[tuple[np.ndarray, np.ndarray]]:
        if layer in kept:
            return kept.pop(layer)
        return _weights(arch, seeds[layer + 1])

    a, readout = _inputs(arch, seeds[0])
    two = arch.correlation is not None
    f, norm = Nonlinearity(arch.act), (Norm(arch.norm) if arch.norm else None)
    cache = []
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        for layer in range(arch.depth):
            ws = _weights(arch, seeds[layer + 1])
            if keep:
                kept[layer] = ws
            if arch.alpha is not None:
                v = a if norm is not None else a / th.beta[layer]
                steps, record_act = [], None
                for w, b in ws:
                    u, z, step = _unit_forward(f, norm, arch.position, v)
                    record_act = z if record_act is None else record_act
                    steps.append(step)
                    v = Dense.forward(u, w, b)
                a = a + arch.alpha * v
                cache.append(steps)
                sums.forward(layer, a, record_act, two)
                continue
            h = Dense.forward(a, *ws[0])
            a, z, step = _unit_forward(f, norm, arch.position, h)
            cache.append(step)
            sums.forward(layer, h, z, two)
        g = readout
        ln = 0.0
        for layer in range(arch.depth - 1, -1, -1):
            ws = weights(layer)
            if arch.alpha is not None:
                ln = _record(sums, trial, layer, g, ln)
                g, ln = _renorm(g, ln)
                steps = cache.pop()
                back = arch.alpha * g
                for (w, _), step in zip(ws[::-1], steps[::-1]):
                    back = _unit_backward(norm, Dense.backward(back, w), step)
                g = g + (back if norm is not None else back / th.beta[layer])
                continue
            g = _unit_backward(norm, g, cache.pop())
            ln = _record(sums, trial, layer, g, ln)
            g, ln = _renorm(g, ln)
            g = Dense.backward(g, ws[0][0])


def _unit_forward(f: Nonlinearity, norm: Norm | None, position: str, x: np.ndarray):
    """[Norm] -> f -> [Norm] on x (the norm before f at position pre, after it at post): (output, f(.), the cache
    `_unit_backward` needs)."""
    y, inv_pre = norm.forward(x) if norm and position == "pre" else (x, None)
    z, d = f.forward(y)
    out, inv_post = norm.forward(z) if norm and position == "post" else (z, None)
    return out, z, (y, inv_pre, d, out, inv_post)


def _unit_backward(norm: Norm | None, g: np.ndarray, cache: tuple) -> np.ndarray:
    """dC/dx from dC/d(output) through `_unit_forward`'s [Norm] -> f -> [Norm]."""
    y, inv_pre, d, out, inv_post = cache
    if inv_post is not None:
        g = norm.backward(g, out, inv_post)
    g = g * d
    if inv_pre is not None:
        g = norm.backward(g, y, inv_pre)
    return g


def _record(sums: Sums, trial: int, layer: int, g: np.ndarray, ln: float) -> float:
    n = math.sqrt(float(np.sum(g * g)))
    sums.ln_grad[trial, layer] = ln + (math.log(n) if n > 0 else -math.inf)
    return ln


def _renorm(g: np.ndarray, ln: float) -> tuple[np.ndarray, float]:
    """g / ||g|| and ln + ln ||g||: the gradient's scale is carried in log space, so no depth overflows it."""
    n = math.sqrt(float(np.sum(g * g)))
    if n == 0 or not math.isfinite(n):
        return g, ln
    return g / n, ln + math.log(n)


# ---------------------------------------------------------------- the result
@dataclass(frozen=True)
class SignalResult:
    """Per-layer forward and backward statistics of a random network (first layer first), beside the mean field."""

    arch: Arch
    activation: str
    init: str
    trials: int
    seed: int
    pre_mean: np.ndarray
    pre_var: np.ndarray
    pre_q: np.ndarray  # mean square of the pre-activations
    act_mean: np.ndarray
    act_var: np.ndarray
    chan_sq_mean: np.ndarray | None  # Brock et al.: mean over units of (batch mean)^2 (batch >= 2)
    chan_var: np.ndarray | None  # mean over units of the batch variance
    correlation: np.ndarray | None
    q_theory: np.ndarray
    correlation_theory: np.ndarray | None
    beta: np.ndarray | None
    log10_grad_p5: np.ndarray
    log10_grad_p50: np.ndarray
    log10_grad_p95: np.ndarray
    log10_mean_sq: np.ndarray
    grad_factor_theory: np.ndarray
    log10_grad_theory: np.ndarray
    measured_factor: float | None
    theory_factor: float | None
    verdict: str
    theory_verdict: str | None


def _log10_mean_sq(ln: np.ndarray) -> np.ndarray:
    """log10 mean_t ||delta||^2 per layer from ln ||delta|| (trials, layers), in log space."""
    top = np.max(ln, axis=0)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        value = (2.0 * safe + np.log(np.mean(np.exp(2.0 * (ln - safe)), axis=0))) / LN10
    return np.where(np.isfinite(top), value, top)


def _theory_line(mean_sq: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """log10 RMS of the theory: steps log10 prod_(j >= l) factor_j from the top, the level fitted to the measured
    mean squares of layers 1..L-1 (the last layer's delta comes straight from the cost)."""
    depth = len(mean_sq)
    steps = factor_steps(factor)
    points = mean_sq[:-1] if depth > 2 else mean_sq
    ok = np.isfinite(points) & np.isfinite(steps[:len(points)])
    if not np.any(ok):
        return np.full(depth, math.nan)
    level = float(np.mean(points[ok] - steps[:len(points)][ok]))
    return 0.5 * (level + steps)


def summarise(arch: Arch, th: Theory, sums: Sums, trials: int, seed: int, init: str) -> SignalResult:
    v = {k: s / trials for k, s in sums.values.items()}
    batch2 = arch.batch > 1
    p5, p50, p95 = np.percentile(sums.ln_grad, [5.0, 50.0, 95.0], axis=0, method="inverted_cdf") / LN10
    mean_sq = _log10_mean_sq(sums.ln_grad)
    factor, _ = fit_factor(mean_sq[1:] if arch.depth > 3 else mean_sq)  # layers 2..L-1: the first sees raw x
    line = _theory_line(mean_sq, th.grad_factor)
    # the theory's per-layer factors fitted over the same layers as the measurement (BN, LN: the constant itself;
    # plain and residual nets: the slope along q_l, not chi1 at a q* the net may be far from)
    theory_factor = fit_factor(2 * line[1:] if arch.depth > 3 else 2 * line)[0] if arch.depth > 1 else None
    return SignalResult(
        arch=arch, activation=arch.act.name, init=init, trials=trials, seed=seed,
        pre_mean=v["pre"], pre_var=v["pre2"] - v["pre"] ** 2, pre_q=v["pre2"], act_mean=v["act"],
        act_var=v["act2"] - v["act"] ** 2, chan_sq_mean=v["chan_mean2"] if batch2 else None,
        chan_var=v["chan_var"] if batch2 else None, correlation=v["corr"] if arch.correlation is not None else None,
        q_theory=th.q, correlation_theory=th.correlation, beta=th.beta,
        log10_grad_p5=p5, log10_grad_p50=p50, log10_grad_p95=p95, log10_mean_sq=mean_sq,
        grad_factor_theory=th.grad_factor, log10_grad_theory=line,
        measured_factor=factor, theory_factor=theory_factor, verdict=regime(factor, arch.depth, mean_sq),
        theory_verdict=None if theory_factor is None else regime(theory_factor, arch.depth))


# ---------------------------------------------------------------- the whole run
def _choice(value: str | None, allowed: tuple[str, ...], option: str) -> str | None:
    if value is None:
        return None
    key = value.strip().lower()
    if key not in allowed:
        raise GradsimError(f"{value!r} is not one of {', '.join(allowed)}", option=option)
    return key


def _number(value: float | None, option: str, lo: float, hi: float, open_lo: bool = False) -> float | None:
    if value is None:
        return None
    ok = math.isfinite(value) and (value > lo if open_lo else value >= lo) and value <= hi
    if not ok:
        raise GradsimError(f"must be a finite number {'>' if open_lo else '>='} {lo:g} and <= {hi:g}, got {value}",
                           option=option)
    return float(value)


#: The smallest fixed branch scale: q / beta^2 stays far from float64's overflow.
MIN_BETA = 1e-100
#: The largest forward mean square q_l the statistics hold: their squares (q_l^2, Var) stay below float64's 1.8e308.
MAX_Q = 1e150


def _bounded(arch: Arch) -> Theory:
    """The mean field of `arch`, refused (naming the option that drives it) where q_l passes MAX_Q or is not finite."""
    with np.errstate(all="ignore"):
        th = theory(arch)
    bad = np.flatnonzero(~(np.isfinite(th.q) & (th.q <= MAX_Q)))
    if bad.size:
        option = "--residual-beta" if arch.beta is not None and arch.beta < 1.0 else \
            "--residual" if arch.alpha is not None else "--sigma-w2" if arch.sigma_w2 >= arch.sigma_b2 \
            else "--sigma-b2"
        raise GradsimError(f"the forward signal's mean square q_l passes {MAX_Q:.0e} at layer {bad[0] + 1} (the mean "
                           f"field), beyond what float64 statistics of it hold; make {option} or --depth smaller",
                           option=option)
    return th


def default_trials(depth: int, width: int, batch: int) -> int:
    """About DEFAULT_MACS / (depth x batch x width^2) trials, within DEFAULT_TRIALS."""
    return int(min(DEFAULT_TRIALS[1], max(DEFAULT_TRIALS[0], DEFAULT_MACS // (depth * batch * width * width))))


def signal(depth: int = 50, width: int = 256, act: str | Activation = "tanh", alpha: float | None = None,
           init: str | None = None, sigma_w2: float | None = None, sigma_b2: float = 0.0,
           norm: str | None = None, position: str = "pre", batch: int | None = None,
           residual: float | None = None, beta: float | None = None, branch: int = 1,
           inputs: int = 1, correlation: float | None = None,
           trials: int | None = None, seed: int = 0,
           progress: Callable[[int, int], None] | None = None, guard: bool = False) -> SignalResult:
    """Forward and backward statistics per layer over `trials` random networks of this architecture, with theory.

    Weights N(0, sigma_w2 / N) (sigma_w2 from `init`, default xavier: 1), biases N(0, sigma_b2). `norm` batch|layer
    before (`position` pre) or after (post) the activation; `residual` alpha with `beta` (default sqrt(q_l)) and
    `branch` 1|2; `inputs` 2 with `correlation` c: two inputs of correlation c through each network.
    `guard`: refuse a run over `cost`'s limits (the command's default; --yes turns it off).
    """
    activation = activations.get(act, alpha) if isinstance(act, str) else act
    if isinstance(depth, bool) or not 1 <= depth <= 10_000:
        raise GradsimError(f"depth must be a whole number from 1 to 10,000, got {depth}", option="--depth")
    if isinstance(width, bool) or not 2 <= width <= 4096:
        raise GradsimError(f"the signal statistics need width 2 to 4,096, got {width}", option="--width")
    norm = _choice(norm, ("batch", "layer"), "--norm")
    position = _choice(position, ("pre", "post"), "--norm-position")
    if branch not in (1, 2):
        raise GradsimError(f"the branch has 1 or 2 layers, got {branch}", option="--branch")
    if inputs not in (1, 2):
        raise GradsimError(f"give 1 or 2 inputs, got {inputs}", option="--inputs")
    if norm is None and position != "pre":
        raise GradsimError("--norm-position places a normalisation: give --norm batch|layer too",
                           option="--norm-position")
    residual = _number(residual, "--residual", 0.0, 1e3)
    if branch != 1 and residual is None:
        raise GradsimError("--branch sets the layers of a residual branch: give --residual ALPHA too", option="--branch")
    beta = _number(beta, "--residual-beta", MIN_BETA, 1e6)
    if beta is not None and residual is None:
        raise GradsimError("--residual-beta scales a residual branch: give --residual ALPHA too", option="--residual-beta")
    if residual is not None and norm is not None and beta is not None:
        raise GradsimError("a normalised branch needs no input scale: leave out --residual-beta with --norm",
                           option="--residual-beta")
    correlation = _number(correlation, "--correlation", -1.0, 1.0)
    if (correlation is None) != (inputs == 1):
        raise GradsimError("--inputs 2 and --correlation C go together", option="--correlation")
    if inputs == 2 and norm == "batch":
        raise GradsimError("--inputs 2 runs two inputs as the batch; BatchNorm needs --batch B instead",
                           option="--inputs")
    if batch is None:
        batch = 2 if inputs == 2 else (256 if norm == "batch" else 1)
    if isinstance(batch, bool) or not 1 <= batch <= MAX_BATCH:
        raise GradsimError(f"batch must be a whole number from 1 to {MAX_BATCH:,}, got {batch}", option="--batch")
    if inputs == 2 and batch != 2:
        raise GradsimError("--inputs 2 makes the batch the two inputs (batch 2)", option="--batch")
    if norm == "batch" and batch < 2:
        raise GradsimError("BatchNorm normalises over the batch: give --batch 2 or more", option="--batch")
    init = "xavier" if init is None else init.strip().lower()
    w2 = init_sigma_w2(init, activation)
    if init == "orthogonal":
        raise GradsimError("the signal statistics draw Gaussian weights; orthogonal ones are for the plain ensemble",
                           option="--init")
    if sigma_w2 is not None:
        w2, init = float(_number(sigma_w2, "--sigma-w2", 0.0, 1e6)), "given"
    b2 = float(_number(sigma_b2, "--sigma-b2", 0.0, 1e6))
    trials = default_trials(depth, width, batch) if trials is None else trials
    if isinstance(trials, bool) or not 1 <= trials <= 10**7:
        raise GradsimError(f"trials must be a whole number from 1 to 10,000,000, got {trials}", option="--trials")
    arch = Arch(activation, int(depth), int(width), w2, b2, norm, position, int(batch), residual, beta, int(branch),
                correlation)
    dense_layers = arch.depth * (arch.branch if arch.alpha is not None else 1)  # a branch of 2 runs 2 per block
    cost.check(cost.signal_cost(dense_layers, arch.width, arch.batch, trials), allow=not guard)
    th = _bounded(arch)
    sums = Sums(arch.depth, trials)
    for t, child in enumerate(children(np.random.SeedSequence(seed), trials)):
        run_trial(arch, th, child, sums, t)
        if progress is not None:
            progress(t + 1, trials)
    return summarise(arch, th, sums, trials, seed, init)
