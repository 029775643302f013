"""Layer kinds of a random network, each with its batch forward/backward pass and its mean-field theory side by side.

A batch is an array (B, N): B examples, N units. Each kind knows how to run a batch forward, how to send a gradient
back, and what the mean field of a wide network predicts for it (as neural-tangents' stax layers carry their
kernel map beside their apply function):

- `Dense`: h = a W^T + b, W_ij ~ N(0, sigma_w2 / N), b_i ~ N(0, sigma_b2). Mean square q_h = sigma_w2 m_a + sigma_b2
  (m_a the mean square of a); the gradient's mean square is multiplied by sigma_w2 on the way back (W^T).
- `Nonlinearity`: a = f(y); E a^2 = E f(sqrt(q) z)^2 and the gradient picks up E f'(sqrt(q) z)^2 (Poole et al. 2016).
- `Norm` (batch or layer): y = (h - mean) / sqrt(var + eps) over the batch (BatchNorm, per unit) or over the units
  (LayerNorm, per example), PyTorch's biased variance, eps 1e-5, no learned scale or shift at init. It divides
  the gradient by the standard deviation it removed and projects out two directions (the mean and y itself).
- `Residual`: s_(l+1) = s_l + alpha branch(s_l / beta_l), branch 1 = W f(u) + b, branch 2 = W2 f(W1 f(u) + b1) + b2
  (Yang & Schoenholz 2017; Brock, De & Smith 2021 with beta_l = sqrt(q_l), the expected std of s_l).
- `NormResidual`: s_(l+1) = s_l + alpha (W f(Norm(s_l)) + b), or W Norm(f(s_l)) + b (He et al. 2016's
  pre-activation block; branch 2 twice), its mean field on the stream's mean square and batch variance.

`bn_relu_factor` is the closed form of the per-layer growth of the mean squared gradient in a wide relu network
with BatchNorm over a batch of B (Yang, Pennington, Rao, Sohl-Dickstein & Schoenholz, ICLR 2019; derived here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .activations import Activation
from .meanfield import expect, normal_rule

#: PyTorch's BatchNorm1d / LayerNorm default.
EPS = 1e-5


# ---------------------------------------------------------------- dense
@dataclass(frozen=True)
class Dense:
    """h = a W^T + b with W_ij ~ N(0, sigma_w2 / N), b_i ~ N(0, sigma_b2)."""

    width: int
    sigma_w2: float
    sigma_b2: float

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """W (N, N), then b (N,)."""
        w = rng.standard_normal((self.width, self.width))
        w *= math.sqrt(self.sigma_w2 / self.width)
        return w, rng.standard_normal(self.width) * math.sqrt(self.sigma_b2)

    @staticmethod
    def forward(a: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        h = a @ w.T
        h += b
        return h

    @staticmethod
    def backward(g: np.ndarray, w: np.ndarray) -> np.ndarray:
        """dC/da from dC/dh."""
        return g @ w

    def q(self, mean_square_in: float) -> float:
        """E h^2 = sigma_w2 E a^2 + sigma_b2."""
        return self.sigma_w2 * mean_square_in + self.sigma_b2

    def q12(self, cross_in: float) -> float:
        """E h1 h2 = sigma_w2 E a1 a2 + sigma_b2 (two inputs through the same layer)."""
        return self.sigma_w2 * cross_in + self.sigma_b2


# ---------------------------------------------------------------- nonlinearity
@dataclass(frozen=True)
class Nonlinearity:
    """a = f(y)."""

    act: Activation

    def forward(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(f(y), f'(y))."""
        return self.act.value_and_dact(y)

    def mean_square(self, q: float) -> float:
        """E f(sqrt(q) z)^2."""
        return float(expect(lambda x: self.act.f(x) ** 2, q))

    def variance(self, q: float) -> float:
        """Var f(sqrt(q) z)."""
        m = float(expect(self.act.f, q))
        return max(self.mean_square(q) - m * m, 0.0)

    def dact_square(self, q: float) -> float:
        """E f'(sqrt(q) z)^2: the factor the gradient's mean square picks up."""
        return float(expect(lambda x: self.act.dact(x) ** 2, q))


# ---------------------------------------------------------------- normalisation
@dataclass(frozen=True)
class Norm:
    """BatchNorm (kind 'batch': over axis 0, per unit) or LayerNorm ('layer': over axis 1, per example); gamma 1, beta 0."""

    kind: str

    @property
    def axis(self) -> int:
        return 0 if self.kind == "batch" else 1

    def forward(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(y, 1 / sqrt(var + eps)) with y = (h - mean) / sqrt(var + eps), the biased variance (PyTorch)."""
        centred = h - h.mean(axis=self.axis, keepdims=True)
        inv = 1.0 / np.sqrt(np.mean(centred * centred, axis=self.axis, keepdims=True) + EPS)
        centred *= inv
        return centred, inv

    def backward(self, g: np.ndarray, y: np.ndarray, inv: np.ndarray) -> np.ndarray:
        """dC/dh = (g - mean(g) - y mean(g y)) / sqrt(var + eps): exact with eps, as autograd gives it."""
        out = g - g.mean(axis=self.axis, keepdims=True)
        out -= y * np.mean(g * y, axis=self.axis, keepdims=True)
        out *= inv
        return out


def bn_relu_factor(batch: int) -> float:
    """The per-layer factor of the mean squared gradient of a wide relu net with BatchNorm before relu, batch B >= 4.

    Infinite width, batch B (Yang et al. 2019's set-up: h = W x, y = BN(h), x = relu(y), gradient independence):
    every unit's y is uniform on the sphere of radius sqrt(B) in the plane sum_b y_b = 0 (exactly, by symmetry), so
    with d = 1[y > 0], k = sum d, S = sum_+ y, R the projector off 1 and y, and M = D (I - 11^T / B) D:

        lambda(B) = B / ((B - 3) a (B - 1)) E tr(M R),   a = E relu(y1)^2 - E relu(y1) relu(y2),
        E tr(M R) = B/2 - 3/2 + E k^2 / B^2 + E S^2 / B^2,

    with rho = -1/(B-1) the correlation of two coordinates, E k^2 = B/2 + B(B-1)(1/4 + asin(rho)/(2 pi)) and
    E S^2 = (B + B(B-1) (2/pi)(sqrt(1 - rho^2) + rho asin(rho))) / 4 (Gaussian orthant and |xy| moments), and
    B / (B - 3) = B E[1 / chi^2_(B-1)], the mean of the BN Jacobian's squared scale. lambda(B) -> pi / (pi - 1)
    = 1.4669 as B -> inf, from above (1.788 at B = 8, 1.473 at B = 256); infinite for B <= 3.
    """
    return bn_relu_terms(batch)[0]


def bn_relu_terms(batch: int) -> tuple[float, float]:
    """(lambda(B), a(B)) of `bn_relu_factor`: a(B) = Var_batch relu(y) per unit, the variance BN divides the next
    layer's h by (sigma_w2 a); at the first layer h = W x has batch variance sigma_w2 Var x = sigma_w2, so the
    factor there is lambda(B) a(B)."""
    if batch <= 3:
        return math.inf, math.nan
    b = float(batch)
    k2, s2 = _sphere_relu_moments(batch)
    a = 0.5 - (s2 - b / 2.0) / (b * (b - 1.0))
    trace = b / 2.0 - 1.5 + k2 / b**2 + s2 / b**2
    return b / ((b - 3.0) * a * (b - 1.0)) * trace, a


def _sphere_relu_moments(batch: int) -> tuple[float, float]:
    """(E k^2, E S^2) for y uniform on BatchNorm's sphere of B coordinates: k the number of positive y_b, S their sum."""
    b = float(batch)
    rho = -1.0 / (b - 1.0)
    asin = math.asin(rho)
    k2 = b / 2.0 + b * (b - 1.0) * (0.25 + asin / (2.0 * math.pi))
    s2 = 0.25 * (b + b * (b - 1.0) * (2.0 / math.pi) * (math.sqrt(1.0 - rho * rho) + rho * asin))
    return k2, s2


def norm_factor(act: Activation, kind: str, position: str, sigma_w2: float, sigma_b2: float,
                batch: int, q: float, first: bool = False) -> float:
    """The per-layer factor of the mean squared gradient through Dense -> [Norm] -> f -> [Norm] at the mean field.

    q is the mean square of the dense output h of the layer the gradient enters. Wide nets, batch large
    (BatchNorm's finite-batch closed form is `bn_relu_factor`, used for relu before the norm):
      batch, pre:  E f'(z)^2 / Var f(z)                                (sigma_w, sigma_b cancel: nothing removes it)
      batch, post: sigma_w2 E_b[E_z f'(b + sigma_w z)^2 / Var_z f(b + sigma_w z)], b ~ N(0, sigma_b2) per unit
      layer, pre:  sigma_w2 E f'(z)^2 / q                              (relu, sigma_b = 0: 1, no explosion)
      layer, post: sigma_w2 E f'(sqrt(q) z)^2 / Var f(sqrt(q) z)       (relu, sigma_b = 0: pi/(pi-1), as BN)
    `first`: the first layer, whose h = W x has batch variance sigma_w2 (x ~ N(0, I)), not sigma_w2 Var f(y): there
    BatchNorm-before-f's factor is E f'(z)^2 (relu: lambda(B) a(B)).
    """
    unit = Nonlinearity(act)
    if kind == "batch" and position == "pre":
        if act.name == "relu":
            rate, a = bn_relu_terms(batch)
            return rate * a if first else rate
        return unit.dact_square(1.0) / (1.0 if first else unit.variance(1.0))
    if kind == "layer" and sigma_w2 == 0.0:
        return 0.0  # W = 0: no gradient reaches the layer below (and q may be 0: no 0/0)
    if kind == "layer" and position == "pre":
        return sigma_w2 * unit.dact_square(1.0) / q
    if kind == "layer":
        return sigma_w2 * unit.dact_square(q) / unit.variance(q)
    return sigma_w2 * post_ratio(act, sigma_w2, sigma_b2)


def post_ratio(act: Activation, spread: float, channel: float) -> float:
    """E_m[E_z f'(m + sqrt(spread) z)^2 / Var_z f(m + sqrt(spread) z)], m ~ N(0, channel): what BatchNorm after f
    multiplies the gradient's mean square by, per unit of batch variance `spread` and squared channel mean `channel`."""
    z, w = normal_rule()
    shift = math.sqrt(channel) * z[:, None] if channel > 0 else np.zeros((1, 1))
    x = shift + math.sqrt(spread) * z[None, :]
    with np.errstate(over="ignore", under="ignore"):
        f, d = act.f(x), act.dact(x)
    mean = f @ w
    ratio = (d * d @ w) / np.maximum(f * f @ w - mean * mean, 1e-300)
    return float(ratio @ w if channel > 0 else ratio[0])


# ---------------------------------------------------------------- residual blocks
@dataclass(frozen=True)
class Residual:
    """s_(l+1) = s_l + alpha branch(s_l / beta_l); branch depth 1 (W f(u) + b) or 2 (W2 f(W1 f(u) + b1) + b2)."""

    act: Activation
    alpha: float
    branch: int
    dense: Dense

    def branch_variance(self, q_in: float) -> float:
        """E branch(u)^2 for u with mean square q_in: sigma_w2 E f(u)^2 + sigma_b2, applied `branch` times."""
        unit, q = Nonlinearity(self.act), q_in
        for _ in range(self.branch):
            q = self.dense.q(unit.mean_square(q))
        return q

    def branch_chi(self, q_in: float) -> float:
        """E ||J_branch^T g||^2 / ||g||^2 for u of mean square q_in: prod over its layers of sigma_w2 E f'(sqrt(q) z)^2."""
        unit, q, chi = Nonlinearity(self.act), q_in, 1.0
        for _ in range(self.branch):
            chi *= self.dense.sigma_w2 * unit.dact_square(q)
            q = self.dense.q(unit.mean_square(q))
        return chi

    def q_next(self, q: float, beta: float) -> float:
        """q_(l+1) = q_l + alpha^2 E branch(s_l / beta_l)^2: the branch's weights are independent of s_l, so the
        cross term vanishes (Yang & Schoenholz 2017; with beta_l = sqrt(q_l), q_l = q_0 + l alpha^2 k: Brock et al.
        2021's 'variance grows by alpha^2 per block')."""
        return q + self.alpha**2 * self.branch_variance(q / beta**2)

    def grad_factor(self, q: float, beta: float) -> float:
        """E||dC/ds_l||^2 / E||dC/ds_(l+1)||^2 = 1 + alpha^2 chi_branch(q_l / beta_l^2) / beta_l^2: the identity path
        plus the branch, cross term zero in mean (Yang & Schoenholz 2017's gradient recursion)."""
        return 1.0 + self.alpha**2 * self.branch_chi(q / beta**2) / beta**2


# ---------------------------------------------------------------- residual blocks with a normalised branch
@dataclass(frozen=True)
class NormResidual:
    """s_(l+1) = s_l + alpha branch(s_l) with the branch normalised, He et al.'s (2016) pre-activation block:
    branch 1 = W f(Norm(u)) + b (position pre) or W Norm(f(u)) + b (post); branch 2 applies it twice.

    The mean field tracks (q, V): q = E s^2 over units and examples, V the scale of s's covariance over the batch
    per unit once its batch mean is removed (x ~ N(0, I): q_0 = V_0 = 1). Each branch layer adds
    sigma_w2 E u^2 + sigma_b2 to q and sigma_w2 (E f^2 - E f_b f_b') to V (biases only move channel means), u the
    layer's normalised input to W. On the way back the identity passes the gradient unchanged and the branch adds
    alpha^2 chi_branch, chi of a layer being sigma_w2 E f'^2 / V_in for BatchNorm before f (relu at batch B:
    sigma_w2 lambda(B) a(B) / V_in, the finite-batch closed form of `bn_relu_factor`), sigma_w2 E f'(z)^2 / q_in for
    LayerNorm before f, and the large-batch `post_ratio` (BatchNorm) or E f'^2 / Var f at q_in (LayerNorm) after f.
    """

    act: Activation
    alpha: float
    branch: int
    dense: Dense
    kind: str  # "batch" or "layer"
    position: str  # "pre" or "post"
    batch: int

    def _unit_moments(self) -> tuple[float, float, float]:
        """(E f(y)^2, E f(y_b) f(y_b'), E f'(y)^2) for y the normalised input of f (position pre)."""
        unit = Nonlinearity(self.act)
        if self.kind == "batch" and self.act.name == "relu" and self.batch > 3:
            lam, a = bn_relu_terms(self.batch)
            return 0.5, 0.5 - a, lam * a  # the chi numerator: lambda(B) a(B) in place of E f'^2 (finite batch)
        mean = float(expect(self.act.f, 1.0))
        return unit.mean_square(1.0), mean * mean, unit.dact_square(1.0)

    def _layer(self, q_in: float, v_in: float) -> tuple[float, float, float]:
        """(mean square, batch-variance scale, chi) of one branch layer's output W u + b for input (q_in, v_in)."""
        w2, b2 = self.dense.sigma_w2, self.dense.sigma_b2
        if self.position == "pre":
            square, cross, slope = self._unit_moments()
            scale = v_in if self.kind == "batch" else q_in
            chi = w2 * slope / scale if scale > 0 else math.inf
            return w2 * square + b2, w2 * (square - cross), chi
        unit = Nonlinearity(self.act)
        if self.kind == "batch":
            chi = w2 * post_ratio(self.act, v_in, max(q_in - v_in, 0.0))
            return w2 + b2, w2 * self.batch / max(self.batch - 1, 1), chi
        variance = unit.variance(q_in)
        chi = w2 * unit.dact_square(q_in) / variance if variance > 0 else math.inf
        return w2 + b2, w2, chi

    def branch_moments(self, q: float, v: float) -> tuple[float, float, float]:
        """(E branch^2, its batch-variance scale, chi_branch) for a stream of (q, V)."""
        chi = 1.0
        for _ in range(self.branch):
            q, v, step = self._layer(q, v)
            chi *= step
        return q, v, chi

    def next_state(self, q: float, v: float) -> tuple[float, float]:
        """(q, V) after the block: each adds alpha^2 times the branch's (the branch is independent of s_l)."""
        bq, bv, _ = self.branch_moments(q, v)
        return q + self.alpha**2 * bq, v + self.alpha**2 * bv

    def grad_factor(self, q: float, v: float) -> float:
        """E||dC/ds_l||^2 / E||dC/ds_(l+1)||^2 = 1 + alpha^2 chi_branch at the block's input (q, V)."""
        return 1.0 + self.alpha**2 * self.branch_moments(q, v)[2]
