"""gradsim: gradient dynamics simulator (vanishing and exploding gradients, activations, clipping).

Every command is a function here with the same name and options:
``gradsim.vanish(depth=4, act="sigmoid")`` returns the result the CLI prints.
The core modules are imported on first use, so ``gradsim vanish`` never loads the
training or Monte Carlo code.
"""

from __future__ import annotations

import importlib
import sys
import types

from ._version import __version__
from .errors import GradsimError

#: public name -> (core module, name in it)
_LAZY = {
    "Activation": ("activations", "Activation"), "activation": ("activations", "get"),
    "ActsResult": ("activations", "ActsResult"), "acts": ("activations", "acts"),
    "softmax": ("activations", "softmax"), "softmax_jacobian": ("activations", "softmax_jacobian"),
    "ChainResult": ("chain", "ChainResult"), "run_chain": ("chain", "run_chain"), "vanish": ("chain", "vanish"),
    "ClipResult": ("clipping", "ClipResult"), "clip": ("clipping", "clip"),
    "StepsResult": ("descent", "StepsResult"), "Walk": ("descent", "Walk"), "steps": ("descent", "steps"),
    "EnsembleResult": ("ensemble", "EnsembleResult"), "ensemble": ("ensemble", "ensemble"),
    "PhaseResult": ("meanfield", "PhaseResult"), "WindowResult": ("window", "WindowResult"),
    "chi1": ("meanfield", "chi1"), "phase": ("meanfield", "phase"), "window": ("window", "window"),
    "TrainResult": ("training", "TrainResult"), "train": ("training", "train"),
    "train_many": ("training", "train_many"),
}

__all__ = ["__version__", "GradsimError", *_LAZY]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'gradsim' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Package(types.ModuleType):
    """The package, where a public function wins over the submodule of the same name.

    Importing gradsim/ensemble.py makes Python bind the submodule as `gradsim.ensemble`;
    the public `gradsim.ensemble` is the function (the module stays in sys.modules).
    """

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name, (None,))[0] == name:
            value = getattr(value, _LAZY[name][1])
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
