"""gradsim: gradient dynamics simulator (vanishing and exploding gradients, activations, clipping).

Every command is a function here with the same name and options:
``gradsim.vanish(depth=4, act="sigmoid")`` returns the result the CLI prints.
"""

from ._version import __version__
from .activations import Activation, softmax, softmax_jacobian
from .activations import get as activation
from .chain import ChainResult, run_chain, vanish
from .errors import GradsimError

__all__ = ["__version__", "Activation", "ChainResult", "GradsimError", "activation", "run_chain", "softmax",
           "softmax_jacobian", "vanish"]
