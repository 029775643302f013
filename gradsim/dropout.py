"""Dropout on hidden activations during training (never at evaluation), as an affine map a -> a * mult + offset.

inverted dropout (Srivastava et al. 2014, as PyTorch's nn.Dropout): keep each unit with probability q = 1 - p,
    a -> a m / q, m ~ Bernoulli(q), so E[a] is unchanged.
AlphaDropout (Klambauer et al. 2017, for selu): a dropped unit is set to selu's negative saturation
    alpha' = -lambda alpha, then a -> A (a m + alpha' (1 - m)) + B with A = (q + alpha'^2 q p)^(-1/2),
    B = -A p alpha', which keeps mean 0 and variance 1 for inputs of mean 0 and variance 1.
The derivative of either map with respect to a is `mult`, which backprop multiplies into f'(z).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .activations import SELU_ALPHA, SELU_LAMBDA
from .errors import GradsimError

#: selu's value as z -> -inf: AlphaDropout's value for a dropped unit.
ALPHA_PRIME = -SELU_LAMBDA * SELU_ALPHA
#: The largest --dropout: keep at least 1% of the units.
MAX_P = 0.99


def check_rate(p: float | None) -> float:
    """The dropout probability, 0 (off) when None; in [0, MAX_P]."""
    if p is None:
        return 0.0
    if not (math.isfinite(p) and 0 <= p <= MAX_P):
        raise GradsimError(f"the dropout probability must be in [0, {MAX_P:g}], got {p}", option="--dropout")
    return float(p)


def kind(act_name: str, p: float) -> str:
    """'alpha' for selu (AlphaDropout), 'inverted' for every other activation, 'none' when p is 0."""
    if p == 0:
        return "none"
    return "alpha" if act_name == "selu" else "inverted"


def alpha_affine(p: float) -> tuple[float, float]:
    """AlphaDropout's correction (A, B): A = (q + alpha'^2 q p)^(-1/2), B = -A p alpha', q = 1 - p."""
    q = 1.0 - p
    a = (q + ALPHA_PRIME**2 * q * p) ** -0.5
    return a, -a * p * ALPHA_PRIME


@dataclass(frozen=True)
class Mask:
    """One layer's dropout for one mini-batch: a -> a * mult + offset (offset is 0.0 for inverted dropout)."""

    mult: np.ndarray
    offset: np.ndarray | float

    def apply(self, a: np.ndarray) -> np.ndarray:
        return a * self.mult + self.offset


def draw(shape: tuple[int, ...], p: float, how: str, rng: np.random.Generator) -> Mask:
    """A fresh mask: unit kept where a uniform draw is >= p (the same draws whatever `how` is)."""
    keep = rng.random(shape) >= p
    if how == "alpha":
        a, b = alpha_affine(p)
        return Mask(a * keep, np.where(keep, b, a * ALPHA_PRIME + b))
    return Mask(keep / (1.0 - p), 0.0)


def apply(a: np.ndarray, p: float, how: str, rng: np.random.Generator) -> np.ndarray:
    """Dropout of a whole array (as a layer does in training)."""
    return draw(a.shape, p, how, rng).apply(a)
