"""Initialisation rules: the weight variance sigma_w2 = N Var(W_ij) each named initialisation gives an activation.

Every network builder (ensemble, train, phase) takes its weight scale from here.
"""

from __future__ import annotations

from typing import Union

from . import activations
from .activations import Activation
from .errors import unknown

ActLike = Union[Activation, str]

#: The initialisations `init_sigma_w2` knows, in the order tables list them.
INITS: tuple[str, ...] = ("xavier", "lecun", "he", "orthogonal", "normal")
#: The square of PyTorch's torch.nn.init.calculate_gain, by activation (leaky-relu, prelu: 2 / (1 + alpha^2)).
_GAINS_SQUARED = {"tanh": 25.0 / 9.0, "relu": 2.0, "selu": 9.0 / 16.0}


def orthogonal_gain_squared(act: ActLike) -> float:
    """g^2 for a scaled orthogonal init W = g Q: PyTorch's calculate_gain squared (1 where it has none)."""
    act = activations.get(act) if isinstance(act, str) else act
    if act.name in ("leaky-relu", "prelu"):
        return 2.0 / (1.0 + act.alpha**2)
    return _GAINS_SQUARED.get(act.name, 1.0)


def init_sigma_w2(init: str, act: ActLike) -> float:
    """sigma_w2 = N Var(W_ij) of an initialisation (N = fan-in = fan-out).

    xavier (Glorot, 2 / (fan_in + fan_out)) and lecun (1 / fan_in): 1. he (Kaiming, 2 / fan_in for relu):
    2 / (1 + alpha^2) for leaky-relu and prelu, 2 for every other activation. orthogonal: g^2, the squared
    gain of `orthogonal_gain_squared` (a row of g Q has squared norm g^2: tanh 25/9, relu 2, selu 9/16).
    normal: 1 (Nielsen's N(0, 1) weights, width 1).
    """
    key = init.strip().lower()
    if key not in INITS:
        raise unknown("initialisation", init, INITS, "--init")
    act = activations.get(act) if isinstance(act, str) else act
    if key == "he":
        alpha = act.alpha if act.name in ("leaky-relu", "prelu") else 0.0
        return 2.0 / (1.0 + alpha**2)
    if key == "orthogonal":
        return orthogonal_gain_squared(act)
    return 1.0
