"""Mean and variance of many values gathered in parts, merged in order.

Each part keeps its count n, mean m and sum of squared deviations M2 = sum (x - m)^2; two parts merge as
n = n_a + n_b, m = m_a + d n_b / n, M2 = M2_a + M2_b + d^2 n_a n_b / n with d = m_b - m_a (Chan, Golub &
LeVeque 1979), so the variance never comes from E[x^2] - E[x]^2 and its cancellation.
"""

from __future__ import annotations

import numpy as np


def part(x: np.ndarray) -> tuple[float, float]:
    """(mean, M2) of all values of x (two passes: the mean, then the squared deviations from it)."""
    with np.errstate(over="ignore", invalid="ignore"):
        m = float(np.sum(x)) / x.size
        d = np.subtract(x, m)
        np.multiply(d, d, out=d)  # not np.dot: BLAS's threads would fight the ensemble's
        return m, float(np.sum(d))


def merge(n_a: float, a: np.ndarray, n_b: float, b: np.ndarray) -> np.ndarray:
    """The (mean, M2) pairs of two parts merged; a and b have shape (2, ...) and n_a, n_b values in each."""
    n = n_a + n_b
    with np.errstate(over="ignore", invalid="ignore"):
        d = b[0] - a[0]
        return np.stack([a[0] + d * (n_b / n), a[1] + b[1] + d * d * (n_a * n_b / n)])


def variance(n: float, stats: np.ndarray) -> np.ndarray:
    """The population variance M2 / n of (mean, M2) pairs."""
    return stats[1] / n
