"""Linear regions of a relu-family net: the distinct on/off patterns [z > 0] of its hidden units over a set of points.

A net whose hidden activation is piecewise linear with its kink at 0 (relu, leaky-relu, prelu) is one affine map
on each set of inputs that share a pattern, so counting the patterns met on a grid counts the pieces of the map
that the grid sees (a lower bound of the true count: a region thinner than the grid's step may be missed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: Hidden activations with a kink at z = 0 and straight pieces either side.
KINKED = ("relu", "leaky-relu", "prelu")
#: Piecewise-linear activations: the kinked ones, and linear (a single piece: the whole net is affine).
PIECEWISE_LINEAR = KINKED + ("linear",)


@dataclass(frozen=True)
class Regions:
    """Distinct activation patterns: of each hidden layer alone, and of all hidden units together (the regions)."""

    per_layer: tuple[int, ...]
    total: int


#: Units folded into one integer key at a time: a pattern index (< 2^22 points) times 2^40 stays below 2^63.
_CHUNK = 40
#: Keys below this are told apart by counting (bincount) rather than sorting.
_DENSE = 1 << 20


def _compress(key: np.ndarray) -> tuple[np.ndarray, int]:
    """Each key's index among the distinct keys (in increasing order), and how many distinct keys there are."""
    if key.max() < _DENSE:
        present = np.bincount(key) > 0
        return (np.cumsum(present) - 1)[key], int(present.sum())
    distinct, ids = np.unique(key, return_inverse=True)
    return ids.ravel(), len(distinct)


def _ids(on: np.ndarray) -> tuple[np.ndarray, int]:
    """Index of each row of the boolean matrix `on` among its distinct rows (40 columns folded in at a time), and
    the number of distinct rows."""
    ids, k = np.zeros(len(on), dtype=np.int64), 1
    for start in range(0, on.shape[1], _CHUNK):
        block = on[:, start:start + _CHUNK]
        code = block.astype(np.int64) @ (np.int64(1) << np.arange(block.shape[1], dtype=np.int64))
        ids, k = _compress(ids * (np.int64(1) << block.shape[1]) + code)
    return ids, k


def _joint(hidden_z: Sequence[np.ndarray]) -> tuple[list[int], np.ndarray, int]:
    """Distinct patterns per layer; each point's pattern index over all layers together, and their number."""
    per_layer, ids, k = [], np.zeros(len(hidden_z[0]), dtype=np.int64), 1
    for z in hidden_z:
        layer_ids, layer_k = _ids(z > 0)
        per_layer.append(layer_k)
        ids, k = _compress(ids * layer_k + layer_ids)
    return per_layer, ids, k


def pattern_ids(hidden_z: Sequence[np.ndarray]) -> np.ndarray:
    """For each point (row), the index of its pattern [z > 0] over all hidden units among the distinct patterns."""
    return _joint(hidden_z)[1]


def count(hidden_z: Sequence[np.ndarray], act: str) -> Regions | None:
    """Patterns per layer and in all (points in rows of each z^l); None if `act` is not piecewise linear."""
    if act not in PIECEWISE_LINEAR:
        return None
    if act == "linear":
        return Regions(tuple(1 for _ in hidden_z), 1)
    per_layer, _, total = _joint(hidden_z)
    return Regions(tuple(per_layer), total)
