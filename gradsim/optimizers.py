"""Optimizers for `gradsim train`: plain SGD, SGD with momentum and Adam, each written as PyTorch's torch.optim does it.

sgd:      theta <- theta - lr g
momentum: v <- mu v + g (v = g on the first step), theta <- theta - lr v            (torch.optim.SGD, momentum=mu)
adam:     m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2,
          theta <- theta - lr m / (1 - b1^t) / (sqrt(v) / sqrt(1 - b2^t) + eps)      (torch.optim.Adam)

The gradient g reaching `step` is already clipped (Keras' clipvalue/clipnorm, PyTorch's clip_grad_*_ before step()).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import GradsimError

NAMES = ("sgd", "momentum", "adam")
#: PyTorch's defaults (Keras' Adam has the same betas but epsilon 1e-7).
MOMENTUM, BETA1, BETA2, EPS = 0.9, 0.9, 0.999, 1e-8
#: The learning rate when --lr is not given: 0.1 for sgd and momentum (Nielsen-style), 0.001 for Adam (PyTorch's).
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.1, "adam": 0.001}


@dataclass(frozen=True)
class Optimizer:
    """An update rule and its hyper-parameters."""

    name: str = "sgd"
    lr: float = 0.1
    momentum: float = MOMENTUM
    beta1: float = BETA1
    beta2: float = BETA2
    eps: float = EPS

    def describe(self) -> str:
        """'adam (beta1 0.9, beta2 0.999, eps 1e-08)' and the like."""
        if self.name == "momentum":
            return f"momentum {self.momentum:g}"
        if self.name == "adam":
            return f"adam (betas {self.beta1:g}, {self.beta2:g}; eps {self.eps:g})"
        return "sgd"

    def as_dict(self) -> dict:
        out = dict(name=self.name, lr=self.lr)
        if self.name == "momentum":
            out["momentum"] = self.momentum
        if self.name == "adam":
            out.update(beta1=self.beta1, beta2=self.beta2, eps=self.eps)
        return out


def make(name: str | None = None, lr: float | None = None, momentum: float | None = None,
         beta1: float | None = None, beta2: float | None = None, eps: float | None = None) -> Optimizer:
    """An Optimizer from user values (None: the default), each checked and named by its option on error."""
    key = "sgd" if name is None else name.strip().lower()
    if key not in NAMES:
        raise GradsimError(f"unknown optimizer {name!r}; choose from {', '.join(NAMES)}", option="--optimizer")
    lr = DEFAULT_LR[key] if lr is None else float(lr)
    if not (math.isfinite(lr) and lr > 0):
        raise GradsimError(f"the learning rate must be a finite number > 0, got {lr}", option="--lr")
    for value, option, needs in ((momentum, "--momentum", "momentum"), (beta1, "--beta1", "adam"),
                                 (beta2, "--beta2", "adam"), (eps, "--adam-eps", "adam")):
        if value is not None and key != needs:
            raise GradsimError(f"{option} applies to --optimizer {needs} only", option=option)
    for value, option in ((momentum, "--momentum"), (beta1, "--beta1"), (beta2, "--beta2")):
        if value is not None and not (math.isfinite(value) and 0 <= value < 1):
            raise GradsimError(f"{option} must be in [0, 1), got {value}", option=option)
    if eps is not None and not (math.isfinite(eps) and eps > 0):
        raise GradsimError(f"--adam-eps must be a finite number > 0, got {eps}", option="--adam-eps")
    return Optimizer(key, lr, MOMENTUM if momentum is None else float(momentum), BETA1 if beta1 is None
                     else float(beta1), BETA2 if beta2 is None else float(beta2), EPS if eps is None else float(eps))


@dataclass
class State:
    """What an optimizer carries from step to step: the step count t and one or two buffers per tensor."""

    t: int = 0
    first: list = field(default_factory=list)  # momentum's v, Adam's m
    second: list = field(default_factory=list)  # Adam's v


def step(opt: Optimizer, state: State, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
    """One update of every tensor in `params`, in place, from its (already clipped) gradient."""
    state.t += 1
    if opt.name == "sgd":
        for p, g in zip(params, grads):
            p -= opt.lr * g
        return
    if not state.first:
        state.first = [np.zeros_like(p) for p in params]
        state.second = [np.zeros_like(p) for p in params] if opt.name == "adam" else []
    if opt.name == "momentum":
        for p, g, v in zip(params, grads, state.first):
            v *= opt.momentum
            v += g
            p -= opt.lr * v
        return
    step_size = opt.lr / (1.0 - opt.beta1**state.t)
    root_correction = math.sqrt(1.0 - opt.beta2**state.t)
    for p, g, m, v in zip(params, grads, state.first, state.second):
        m += (1.0 - opt.beta1) * (g - m)  # torch: exp_avg.lerp_(grad, 1 - beta1)
        v *= opt.beta2
        v += (1.0 - opt.beta2) * g * g
        p -= step_size * m / (np.sqrt(v) / root_correction + opt.eps)
