"""Moments of an activation's output: E f(z), Var f(z) for z ~ N(0, 1), E f(u) for u ~ U(-1, 1), and NF-ResNets' gamma.

gamma = 1 / sqrt(Var f(z)) is the gain that makes a scaled activation gamma f variance preserving at unit input
variance (Brock, De & Smith 2021, "Characterizing signal propagation to close the performance gap in
unnormalized ResNets"); DeepMind's NFNets code tabulates empirical values (`NFNETS_GAMMA`).
The mean of f(U(-1, 1)) is Microsoft AI-edu's mean-shift example ("Activation functions"): sigmoid moves
inputs uniform on (-1, 1) from mean 0 to 0.5, tanh keeps 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .activations import Activation
from .meanfield import expect, normal_rule

#: gamma as DeepMind's NFNets code tabulates it (deepmind-research, nfnets/base.py `nonlinearities`), by gradsim
#: name: measured empirically there, so it differs from the exact 1 / sqrt(Var f(z)) in the 3rd-4th digit.
#: jax.nn.gelu is the tanh form by default and jax's leaky_relu slope 0.01, elu alpha 1 (gradsim's defaults).
NFNETS_GAMMA = {"relu": 1.7139588594436646, "elu": 1.2716004848480225, "gelu-tanh": 1.7015043497085571,
                "leaky-relu": 1.70590341091156, "selu": 1.0008515119552612, "sigmoid": 4.803835391998291,
                "swish": 1.7881293296813965, "softsign": 2.338853120803833, "softplus": 1.9203323125839233,
                "tanh": 1.5939117670059204}
_DEFAULT_ALPHA = {"leaky-relu": 0.01, "elu": 1.0}


@lru_cache(maxsize=1)
def uniform_rule(points: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on (0, 1) for E[g(u)] = sum_i w_i (g(u_i) + g(-u_i)), u ~ U(-1, 1): the
    panels meet at 0 (the kink of relu) and pairing +-u_i makes an odd f's mean exactly 0."""
    x, w = np.polynomial.legendre.leggauss(points)
    return (x + 1.0) / 2.0, w / 4.0


def _paired(f, nodes: np.ndarray, weights: np.ndarray) -> float:
    """sum_i w_i (f(x_i) + f(-x_i)) over the nodes x_i > 0 of a symmetric rule."""
    with np.errstate(over="ignore", under="ignore"):
        return float((np.asarray(f(nodes), dtype=float) + np.asarray(f(-nodes), dtype=float)) @ weights)


def mean_normal(act: Activation, q: float = 1.0) -> float:
    """E f(sqrt(q) z), z ~ N(0, 1) (the rule's +-z paired: exactly 0 for an odd f)."""
    z, w = normal_rule()
    half = len(z) // 2
    return _paired(act.f, math.sqrt(q) * z[half:], w[half:])


def var_normal(act: Activation, q: float = 1.0) -> float:
    """Var f(sqrt(q) z) = E f^2 - (E f)^2, z ~ N(0, 1)."""
    m = mean_normal(act, q)
    return max(float(expect(lambda x: act.f(x) ** 2, q)) - m * m, 0.0)


def mean_uniform(act: Activation) -> float:
    """E f(u) = f(0) + E[(f(u) + f(-u)) / 2 - f(0)], u ~ U(-1, 1): about f(0), so a point-symmetric f (sigmoid:
    f(u) + f(-u) = 1) gives f(0) exactly rather than f(0) and the rule's rounding."""
    f0 = float(act.f(np.zeros(1))[0])
    return f0 + _paired(lambda x: np.asarray(act.f(x), dtype=float) - f0, *uniform_rule())


def gamma(act: Activation) -> float:
    """1 / sqrt(Var f(z)), z ~ N(0, 1): gamma f has unit variance (inf for a constant f)."""
    v = var_normal(act)
    return 1.0 / math.sqrt(v) if v > 0 else math.inf


def nfnets_gamma(act: Activation) -> float | None:
    """DeepMind's tabulated gamma, where it has one for this activation and parameter."""
    if act.alpha is not None and act.alpha != _DEFAULT_ALPHA.get(act.name):
        return None
    return NFNETS_GAMMA.get(act.name)


@dataclass(frozen=True)
class Moments:
    """The output moments of one activation."""

    mean_normal: float
    var_normal: float
    mean_uniform: float
    gamma: float
    gamma_nfnets: float | None


def moments(act: Activation) -> Moments:
    """mean and variance of f(z), z ~ N(0, 1); mean of f(u), u ~ U(-1, 1); gamma, computed and tabulated."""
    return Moments(mean_normal(act), var_normal(act), mean_uniform(act), gamma(act), nfnets_gamma(act))
