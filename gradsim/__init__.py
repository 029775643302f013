"""gradsim: gradient dynamics simulator (vanishing and exploding gradients, activations, clipping).

Every command is a function here with the same name and options:
``gradsim.vanish(depth=4, act="sigmoid")`` returns the result the CLI prints.
"""

from ._version import __version__
from .activations import Activation, softmax, softmax_jacobian
from .activations import get as activation
from .chain import ChainResult, run_chain, vanish
from .clipping import ClipResult, clip
from .descent import StepsResult, Walk, steps
from .ensemble import EnsembleResult, ensemble
from .errors import GradsimError
from .theory import PhaseResult, WindowResult, chi1, phase, window
from .training import TrainResult, train

__all__ = ["__version__", "Activation", "ChainResult", "GradsimError", "activation", "run_chain", "softmax",
           "softmax_jacobian", "vanish"]
__all__ += ["StepsResult", "Walk", "steps"]
__all__ += ["TrainResult", "train"]
__all__ += ["ClipResult", "clip"]
__all__ += ["PhaseResult", "WindowResult", "chi1", "phase", "window"]
__all__ += ["EnsembleResult", "ensemble"]
