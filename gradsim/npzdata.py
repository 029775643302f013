"""A user's own classification data from a NumPy .npz file (never downloaded).

Two layouts: arrays `x` (n x d) and `y` (n integer labels), split 80/20 by the seed like the built-in sets; or
`x_train, y_train, x_test, y_test` (the layout of the common mnist.npz), whose split is used as it is, with images
flattened to rows and scaled to [0, 1] (uint8 pixels / 255, other values by the training set's min and max).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .datasets import Dataset, split
from .errors import GradsimError

PAIR, SPLIT = ("x", "y"), ("x_train", "y_train", "x_test", "y_test")


def _fail(path: Path, message: str) -> GradsimError:
    return GradsimError(f"{path.name}: {message}", option="--data")


def _array(arrays, path: Path, key: str) -> np.ndarray:
    """arrays[key] as a finite numeric array (an error naming the key otherwise)."""
    if key not in arrays.files:
        raise _fail(path, f"missing key {key!r} (it has {', '.join(arrays.files) or 'no arrays'}); give x and y, "
                          f"or x_train, y_train, x_test and y_test")
    try:
        a = arrays[key]
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:  # object arrays need pickle: refused
        raise _fail(path, f"key {key!r} cannot be read as a numeric array ({e})") from None
    if a.dtype == bool:
        a = a.astype(np.int64)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise _fail(path, f"key {key!r} holds {a.dtype} values; it must be numeric")
    if a.ndim == 0 or a.shape[0] == 0:
        raise _fail(path, f"key {key!r} is empty or a single number; it must have one row per example")
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        raise _fail(path, f"key {key!r} has non-finite values (nan or inf)")
    return a


def _labels(a: np.ndarray, path: Path, key: str) -> np.ndarray:
    """Integer labels >= 0 in one column."""
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise _fail(path, f"key {key!r} must be one integer label per example, got shape {a.shape}")
    if np.any(a < 0) or np.any(a != np.round(a)):
        raise _fail(path, f"key {key!r} must hold integer labels >= 0")
    if a.max() >= 100_000:
        raise _fail(path, f"key {key!r} has a label of {a.max():g}; labels are class numbers 0, 1, 2, ...")
    return a.astype(np.int64)


def _rows(a: np.ndarray) -> np.ndarray:
    """One example per row (images flattened), as float64."""
    return a.reshape(a.shape[0], -1).astype(np.float64) if a.ndim != 2 else a.astype(np.float64)


def _same_length(x: np.ndarray, y: np.ndarray, path: Path, kx: str, ky: str) -> None:
    if len(x) != len(y):
        raise _fail(path, f"key {ky!r} has {len(y)} labels but {kx!r} has {len(x)} rows")


def _check_classes(y: np.ndarray, path: Path, key: str) -> None:
    if len(np.unique(y)) < 2:
        raise _fail(path, f"key {key!r} has one class only ({int(y[0])}); classification needs at least two")


def _unit_scale(x_train: np.ndarray, x_test: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, str]:
    if dtype == np.uint8:
        return x_train / 255.0, x_test / 255.0, "pixels / 255"
    lo, hi = float(x_train.min()), float(x_train.max())
    if lo >= 0.0 and hi <= 1.0:
        return x_train, x_test, "values as given"
    width = hi - lo if hi > lo else 1.0
    return (x_train - lo) / width, (x_test - lo) / width, f"(x - {lo:g}) / {width:g}"


def load_npz(name: str, rng: np.random.Generator) -> Dataset:
    """The Dataset in the file `name` (layouts above); any defect is a usage error naming --data and the key."""
    path = Path(name.strip()).expanduser()
    if not path.is_file():
        raise _fail(path, f"no such file {str(path)!r}")
    try:
        arrays = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise _fail(path, f"not a NumPy .npz file ({e})") from None
    if not isinstance(arrays, np.lib.npyio.NpzFile):
        raise _fail(path, "not a NumPy .npz archive (a single .npy array?)")
    with arrays:
        if any(k in arrays.files for k in SPLIT):
            x_train, y_train, x_test, y_test = (_array(arrays, path, k) for k in SPLIT)
            dtype = x_train.dtype
            y_train, y_test = _labels(y_train, path, "y_train"), _labels(y_test, path, "y_test")
            _same_length(x_train, y_train, path, "x_train", "y_train")
            _same_length(x_test, y_test, path, "x_test", "y_test")
            x_train, x_test = _rows(x_train), _rows(x_test)
            if x_train.shape[1] != x_test.shape[1]:
                raise _fail(path, f"key 'x_test' has {x_test.shape[1]} features per example but 'x_train' has "
                                  f"{x_train.shape[1]}")
            _check_classes(y_train, path, "y_train")
            x_train, x_test, how = _unit_scale(x_train, x_test, dtype)
            what = f"{path.name} (x_train/x_test split as given, {x_train.shape[1]} features, {how})"
        else:
            x, y = _array(arrays, path, "x"), _array(arrays, path, "y")
            y = _labels(y, path, "y")
            _same_length(x, y, path, "x", "y")
            _check_classes(y, path, "y")
            if len(y) < 5:
                raise _fail(path, f"key 'y' has {len(y)} examples; at least 5 are needed for a held-out part")
            x_train, y_train, x_test, y_test = split(_rows(x), y, rng)
            what = f"{path.name} (x, y; {x_train.shape[1]} features)"
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    return Dataset(path.name, what, x_train, y_train, x_test, y_test, n_classes)


def npz_shape(name: str) -> tuple[int, int, int] | None:
    """(examples, features, classes) of the file `name` from its arrays' headers and labels, without reading x
    (for the cost guard); None where it does not read so (load_npz then names the defect)."""
    try:
        with zipfile.ZipFile(Path(name.strip()).expanduser()) as z:
            heads = {}
            for member in z.namelist():
                with z.open(member) as f:
                    version = np.lib.format.read_magic(f)
                    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                        np.lib.format.read_array_header_2_0
                    heads[member.removesuffix(".npy")] = read(f)[0]
        xs = [heads[k] for k in ("x_train", "x_test") if k in heads] or [heads["x"]]
        with np.load(Path(name.strip()).expanduser(), allow_pickle=False) as arrays:
            ys = [arrays[k] for k in ("y_train", "y_test", "y") if k in arrays.files]
            classes = max(int(np.max(y)) + 1 for y in ys if y.size)
        return sum(s[0] for s in xs), int(np.prod(xs[0][1:])), classes
    except (OSError, ValueError, KeyError, IndexError, TypeError, OverflowError, zipfile.BadZipFile, EOFError):
        return None
