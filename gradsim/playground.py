"""TensorFlow Playground's 2-D classification sets (circle, xor, gauss, spiral), two interleaved moons, its features.

The generators follow tensorflow/playground, src/dataset.ts (classifyCircleData, classifyXORData,
classifyTwoGaussData, classifySpiralData); the sample count, noise range, window and features follow
src/playground.ts (NUM_SAMPLES_CLASSIFY, the noise slider, xDomain, INPUTS). Playground's label +1 is class 1
(drawn blue), its label -1 class 0 (orange). Random draws come from a numpy Generator, not Math.random.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .datasets import Dataset, split
from .errors import GradsimError

#: The built-in 2-D sets (--data).
NAMES = ("circle", "xor", "gauss", "spiral", "moons")
#: playground.ts: NUM_SAMPLES_CLASSIFY = 500 points; noise from the slider, 0 to 50% (its URL allows up to 80%).
SAMPLES, MIN_SAMPLES, MAX_SAMPLES = 500, 4, 100_000
NOISE, MAX_NOISE = 0.0, 0.8
#: dataset.ts, classifyCircleData: radius 5; class 1 inside r < radius/2, class 0 drawn at r in [0.7, 1] x radius.
CIRCLE_RADIUS = 5.0
#: classifyXORData: x, y ~ U(-5, 5), pushed 0.3 away from each axis; class 1 where x y >= 0.
XOR_REACH, XOR_PADDING = 5.0, 0.3
#: classifyTwoGaussData: centres (2, 2) (class 1) and (-2, -2); variance 0.5 at noise 0, rising linearly to 4 at 0.5.
GAUSS_CENTRE, GAUSS_VARIANCE, GAUSS_VARIANCE_AT_HALF = 2.0, 0.5, 4.0
#: classifySpiralData: r = 5 i/n, t = 1.75 (2 pi) i/n (+ pi for class 0); noise U(-1, 1) x noise on each coordinate.
SPIRAL_RADIUS, SPIRAL_TURNS = 5.0, 1.75
#: Moons (not in Playground): scikit-learn's make_moons shape (upper arc (cos t, sin t), class 0; lower arc
#: (1 - cos t, 1/2 - sin t), class 1; t in [0, pi]), centred and scaled by 3 to fill the window; noise adds
#: N(0, (3 noise)^2) to each coordinate (make_moons' noise on the unscaled moons).
MOONS_SCALE, MOONS_CENTRE = 3.0, (0.5, 0.25)
#: playground.ts: xDomain = [-6, 6] on both axes. The grid has 201 points a side (step 0.06; Playground's heat map
#: has DENSITY = 100): the heat map, the 0.5 contour and the linear regions are all evaluated on it.
WINDOW, GRID = (-6.0, 6.0), 201
#: playground.ts INPUTS: the features a net can see, by --features name, with Playground's labels.
FEATURES = {
    "x1": ("X_1", lambda x1, x2: x1), "x2": ("X_2", lambda x1, x2: x2),
    "x1sq": ("X_1^2", lambda x1, x2: x1 * x1), "x2sq": ("X_2^2", lambda x1, x2: x2 * x2),
    "x1x2": ("X_1 X_2", lambda x1, x2: x1 * x2),
    "sinx1": ("sin(X_1)", lambda x1, x2: np.sin(x1)), "sinx2": ("sin(X_2)", lambda x1, x2: np.sin(x2)),
}
DEFAULT_FEATURES = ("x1", "x2")


@dataclass(frozen=True)
class Window:
    """The plotted square of the plane and the grid every surface is evaluated on (grid x grid points)."""

    x1: tuple[float, float] = WINDOW
    x2: tuple[float, float] = WINDOW
    grid: int = GRID

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """The grid's x1 and x2 coordinates: grid points from each end of the range to the other."""
        return np.linspace(*self.x1, self.grid), np.linspace(*self.x2, self.grid)

    def points(self) -> np.ndarray:
        """All grid points as (x1, x2) rows, x1 varying fastest: row i * grid + j is (x1[j], x2[i])."""
        a1, a2 = self.axes()
        g1, g2 = np.meshgrid(a1, a2)
        return np.column_stack([g1.ravel(), g2.ravel()])


@dataclass(frozen=True)
class PlaneData(Dataset):
    """A 2-D set: the points in the plane (x1, x2) beside the features the net sees, and the plotted window."""

    points_train: np.ndarray
    points_test: np.ndarray
    features: tuple[str, ...]
    samples: int
    noise: float
    window: Window

    def inputs(self, points: np.ndarray) -> np.ndarray:
        """The net's inputs for points (x1, x2) in rows: one column per feature."""
        return featurize(points, self.features)


# ---------------------------------------------------------------- generators: (n x 2 points, labels 0/1)
def _halves(n: int) -> tuple[int, int]:
    """Points of class 1 and of class 0 (Playground draws n/2 of each)."""
    return n - n // 2, n // 2


def _polar(r: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Playground's (r sin t, r cos t)."""
    return np.column_stack([r * np.sin(angle), r * np.cos(angle)])


def circle(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A disc (class 1, r < 2.5) in a ring (class 0, 3.5 <= r <= 5). Noise moves the point the label is read at:
    label = [|p + U(-5, 5)^2 noise| < 2.5], the point stays where it was drawn (so noise flips labels)."""
    inner, outer = _halves(n)
    r = np.concatenate([rng.uniform(0, CIRCLE_RADIUS * 0.5, inner), rng.uniform(CIRCLE_RADIUS * 0.7,
                                                                                CIRCLE_RADIUS, outer)])
    points = _polar(r, rng.uniform(0, 2 * math.pi, n))
    shifted = points + rng.uniform(-CIRCLE_RADIUS, CIRCLE_RADIUS, (n, 2)) * noise
    return points, (np.hypot(shifted[:, 0], shifted[:, 1]) < CIRCLE_RADIUS * 0.5).astype(int)


def xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points pushed 0.3 off the axes; class 1 where x1 x2 >= 0 at the point moved by U(-5, 5)^2 noise."""
    points = rng.uniform(-XOR_REACH, XOR_REACH, (n, 2))
    points += np.where(points > 0, XOR_PADDING, -XOR_PADDING)
    shifted = points + rng.uniform(-XOR_REACH, XOR_REACH, (n, 2)) * noise
    return points, (shifted[:, 0] * shifted[:, 1] >= 0).astype(int)


def gauss(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian clouds at (2, 2) (class 1) and (-2, -2), variance 0.5 + 7 noise per coordinate."""
    variance = GAUSS_VARIANCE + (GAUSS_VARIANCE_AT_HALF - GAUSS_VARIANCE) * noise / 0.5
    ones, zeros = _halves(n)
    centres = np.repeat([[GAUSS_CENTRE, GAUSS_CENTRE], [-GAUSS_CENTRE, -GAUSS_CENTRE]], [ones, zeros], axis=0)
    return centres + rng.normal(0.0, math.sqrt(variance), (n, 2)), np.repeat([1, 0], [ones, zeros])


def spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two arms r = 5 i/m, t = 3.5 pi i/m (class 1) and t + pi (class 0), i = 0..m-1; noise U(-1, 1) noise."""
    arms = []
    for m, turn in zip(_halves(n), (0.0, math.pi)):
        i = np.arange(m)
        arms.append(_polar(i / m * SPIRAL_RADIUS, SPIRAL_TURNS * i / m * 2 * math.pi + turn))
    points = np.concatenate(arms) + rng.uniform(-1, 1, (n, 2)) * noise
    return points, np.repeat([1, 0], _halves(n))


def moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """make_moons' two arcs, centred and scaled by 3: class 0 on 3 ((cos t, sin t) - c), class 1 on
    3 ((1 - cos t, 1/2 - sin t) - c), c = (1/2, 1/4), t evenly spaced on [0, pi]; noise N(0, (3 noise)^2)."""
    lower, upper = _halves(n)
    t_up, t_low = np.linspace(0, math.pi, upper), np.linspace(0, math.pi, lower)
    arcs = np.concatenate([np.column_stack([1 - np.cos(t_low), 0.5 - np.sin(t_low)]),
                           np.column_stack([np.cos(t_up), np.sin(t_up)])])
    points = MOONS_SCALE * (arcs - MOONS_CENTRE) + rng.normal(0.0, MOONS_SCALE * noise, (n, 2))
    return points, np.repeat([1, 0], [lower, upper])


GENERATORS = {"circle": circle, "xor": xor, "gauss": gauss, "spiral": spiral, "moons": moons}
DESCRIPTIONS = {
    "circle": "circle (TF Playground): disc r < 2.5 in a ring 3.5 <= r <= 5",
    "xor": "xor (TF Playground): class 1 where x1 x2 >= 0",
    "gauss": "gauss (TF Playground): clouds at (2, 2), (-2, -2)",
    "spiral": "spiral (TF Playground): two arms, 1.75 turns to r = 5",
    "moons": "moons: two interleaved half circles (make_moons x3)",
}


# ---------------------------------------------------------------- features and options
def parse_features(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """Feature names from 'x1,x2,x1x2' (or a list); 'all' for all seven, in Playground's order."""
    if spec is None:
        return DEFAULT_FEATURES
    parts = [p.strip().lower() for p in (spec.split(",") if isinstance(spec, str) else spec)]
    if parts == ["all"]:
        return tuple(FEATURES)
    unknown = [p for p in parts if p not in FEATURES]
    if unknown or not parts:
        raise GradsimError(f"unknown feature {(unknown or [''])[0]!r}; give a comma list of "
                           f"{', '.join(FEATURES)}, or all", option="--features")
    if len(set(parts)) != len(parts):
        raise GradsimError(f"a feature is named twice in {','.join(parts)!r}", option="--features")
    return tuple(p for p in FEATURES if p in parts)  # Playground's order, whatever order they were given in


def featurize(points: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """One column per feature of the points (x1, x2) in rows."""
    return np.column_stack([FEATURES[f][1](points[:, 0], points[:, 1]) for f in features])


def check(samples: int | None, noise: float | None) -> tuple[int, float]:
    """--samples from 4 to 100,000 (default 500) and --noise from 0 to 0.8 (default 0)."""
    samples = SAMPLES if samples is None else int(samples)
    noise = NOISE if noise is None else float(noise)
    if not MIN_SAMPLES <= samples <= MAX_SAMPLES:
        raise GradsimError(f"the number of points must be from {MIN_SAMPLES} to {MAX_SAMPLES:,}, got {samples}",
                           option="--samples")
    if not (math.isfinite(noise) and 0 <= noise <= MAX_NOISE):
        raise GradsimError(f"noise must be from 0 to {MAX_NOISE:g} (Playground's slider: 0 to 0.5), got {noise}",
                           option="--noise")
    return samples, noise


def load(name: str, rng: np.random.Generator, samples: int | None = None, noise: float | None = None,
         features: str | Sequence[str] | None = None) -> PlaneData:
    """The named 2-D set drawn from `rng`, split 80/20 like every training set."""
    samples, noise = check(samples, noise)
    features = parse_features(features)
    points, labels = GENERATORS[name](samples, noise, rng)
    p_train, y_train, p_test, y_test = split(points, labels, rng)
    noise_words = f", noise {noise:g}" if noise else ""
    names = "" if features == DEFAULT_FEATURES else f"; features {', '.join(FEATURES[f][0] for f in features)}"
    return PlaneData(name, f"{DESCRIPTIONS[name]}{noise_words}{names}", featurize(p_train, features), y_train,
                     featurize(p_test, features), y_test, 2, p_train, p_test, features, samples, noise, Window())
