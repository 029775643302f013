"""Classification data for `gradsim train`: scikit-learn's 8x8 digits, or a synthetic set drawn from a seed.

Nothing is ever fetched from the network: the digits are the 1797 images that
scikit-learn ships inside its package (the optional extra `gradsim[digits]`).
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import GradsimError, unknown

#: The --data values; `auto` means digits when scikit-learn is installed, else synthetic.
SOURCES = ("auto", "digits", "synthetic")
#: Share of the examples held out for accuracy.
HELD_OUT = 0.2
#: The synthetic set has the digits' shape: 10 classes of 64 features in [0, 1].
SYNTHETIC_SIZE, SYNTHETIC_FEATURES, SYNTHETIC_CLASSES, SYNTHETIC_NOISE = 1000, 64, 10, 0.6
INSTALL_HINT = "install it with: pip install 'gradsim[digits]'"


@dataclass(frozen=True)
class Dataset:
    """Inputs in rows, integer labels, split into a training and a held-out part."""

    name: str
    description: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        return len(self.y_test)


def digits_available() -> bool:
    """Whether scikit-learn (and so its 8x8 digits) is installed."""
    return importlib.util.find_spec("sklearn") is not None


def _packaged_digits_file() -> Path | None:
    """The CSV that scikit-learn ships (sklearn/datasets/data/digits.csv.gz), found without importing sklearn."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 8x8 digits as (pixels / 16 in [0, 1], labels 0..9), from the installed scikit-learn."""
    path = _packaged_digits_file() if digits_available() else None
    if path is None:
        raise GradsimError(f"--data digits needs scikit-learn, which is not installed; {INSTALL_HINT}",
                           option="--data")
    return _read_digits(path)


@functools.lru_cache(maxsize=2)
def _read_digits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The packaged CSV (64 pixels and the label per row), or scikit-learn's loader if the file is not as expected."""
    table = _packaged_table(path)
    if table is not None:
        pixels, labels = table[:, :-1], table[:, -1]
    else:
        from sklearn.datasets import load_digits as sklearn_digits

        bunch = sklearn_digits()
        pixels, labels = bunch.data, bunch.target
    x, y = pixels / 16.0, labels.astype(int)
    x.setflags(write=False)  # shared by every call: nobody may change it
    y.setflags(write=False)
    return x, y


def _packaged_table(path: Path) -> np.ndarray | None:
    """Reading the packaged file directly saves the ~1 s import of scikit-learn; None if it is not 1797 x 65."""
    try:
        table = np.loadtxt(path, delimiter=",")
    except (OSError, ValueError):
        return None
    return table if table.shape == (1797, 65) else None


def synthetic(rng: np.random.Generator, n: int = SYNTHETIC_SIZE, features: int = SYNTHETIC_FEATURES,
              classes: int = SYNTHETIC_CLASSES, noise: float = SYNTHETIC_NOISE) -> tuple[np.ndarray, np.ndarray]:
    """Class c is a noisy copy of a random prototype p_c in [0,1]^features: x = clip(p_c + N(0, noise^2), 0, 1)."""
    prototypes = rng.uniform(0.0, 1.0, (classes, features))
    labels = rng.integers(0, classes, n)
    x = np.clip(prototypes[labels] + rng.normal(0.0, noise, (n, features)), 0.0, 1.0)
    return x, labels


def split(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, held_out: float = HELD_OUT):
    """A random permutation; the last `held_out` share of it is the held-out part."""
    order = rng.permutation(len(y))
    n_test = int(round(held_out * len(y)))
    train, test = order[: len(y) - n_test], order[len(y) - n_test:]
    return x[train], y[train], x[test], y[test]


def is_npz(name: str | None) -> bool:
    """Whether --data names a user's .npz file (any other value is a built-in data set)."""
    return name is not None and name.strip().lower().endswith(".npz")


def resolve_source(name: str | None) -> str:
    """digits or synthetic; `auto` (the default) picks digits when scikit-learn is installed."""
    key = ("auto" if name is None else name).strip().lower()
    if key not in SOURCES:
        from .playground import NAMES

        raise unknown("data", name, (*SOURCES, *NAMES, "a file PATH.npz"), "--data")
    if key == "auto":
        return "digits" if digits_available() else "synthetic"
    return key


def load(name: str | None, rng: np.random.Generator, samples: int | None = None, noise: float | None = None,
         features: str | None = None) -> Dataset:
    """The chosen data, shuffled and split by `rng` (80% training, 20% held out); a name ending in .npz is a file;
    the 2-D sets (gradsim.playground) take samples, noise and features."""
    from . import playground  # it builds on this module

    key = None if name is None else name.strip().lower()
    if key in playground.NAMES:
        return playground.load(key, rng, samples, noise, features)
    if not is_npz(name):
        resolve_source(name)  # an unknown name is reported before a misplaced option
    for option, value in (("--samples", samples), ("--noise", noise), ("--features", features)):
        if value is not None:
            raise GradsimError(f"{option} is for the 2-D sets ({', '.join(playground.NAMES)})", option=option)
    if is_npz(name):
        from .npzdata import load_npz

        return load_npz(name, rng)
    source = resolve_source(name)
    fell_back = source == "synthetic" and (name is None or name.strip().lower() == "auto")
    if source == "digits":
        x, y = load_digits()
        what = "digits, scikit-learn's 8x8 images (1797, pixels / 16)"
    else:
        x, y = synthetic(rng)
        what = (f"synthetic: {SYNTHETIC_CLASSES} classes of noisy prototypes in [0,1]^{SYNTHETIC_FEATURES}"
                + (f" (the 8x8 digits need scikit-learn; {INSTALL_HINT})" if fell_back else ""))
    x_train, y_train, x_test, y_test = split(x, y, rng)
    return Dataset(source, what, x_train, y_train, x_test, y_test, int(y.max()) + 1)
