"""A 2-D classifier over its plotted window: P(class 1 | x) = softmax(z^L(x))_1 and the linear region of every grid point.

These are the values the boundary figures draw: the network's own forward pass at each grid point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import regions
from .activations import Activation
from .playground import PlaneData, Window
from .training import forward_blocks


@dataclass(frozen=True)
class Surface:
    """P(class 1) at every grid point (rows: x2, columns: x1), each point's region index (None if not relu-family)."""

    window: Window
    probability: np.ndarray
    region_ids: np.ndarray | None
    regions: regions.Regions | None


def surface(ws: Sequence[np.ndarray], bs: Sequence[np.ndarray], act: Activation, data: PlaneData) -> Surface:
    """The net evaluated on the window's grid: softmax probability of class 1 and the activation patterns."""
    window = data.window
    with np.errstate(all="ignore"):  # a diverged net gives nan probabilities: drawn as gaps, not warned about
        zs = forward_blocks(ws, bs, act, data.inputs(window.points()))
        p1 = 1.0 / (1.0 + np.exp(zs[-1][:, 0] - zs[-1][:, 1]))  # softmax over 2: e^z1 / (e^z0 + e^z1)
    shape = (window.grid, window.grid)
    counted = regions.count(zs[:-1], act.name)
    ids = regions.pattern_ids(zs[:-1]).reshape(shape) if act.name in regions.KINKED else None
    return Surface(window, p1.reshape(shape), ids, counted)
