"""gradsim phase against an mpmath fixed-point solver written here: every root of L(q) - q, the stable one from q0.

The oracle scans L(q) - q over q in [1e-3, 1e4] (steps of 4%) with a plain float64 trapezoid integral, then solves
each root it needs by mpmath quadrature (30 digits) and findroot. The fixed point gradsim must report is the first
root from q0 = 1 in the direction L(q0) - q0 points (the one q <- L(q) converges to, L being increasing), or inf / 0
when there is none. Written independently of gradsim's quadrature rule and root finder.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from gradsim import meanfield

SQ2PI = math.sqrt(2 / math.pi)
SELU_A = mp.mpf("1.6732632423543772848170429916717")
SELU_L = mp.mpf("1.0507009873554804934193349852946")
ERFC = np.frompyfunc(math.erfc, 1, 1)


def _sig(x):
    return 0.5 * (1 + np.tanh(x / 2))


NP = {  # float64 f, for the scan only
    "swish": lambda x: x * _sig(x),
    "gelu": lambda x: x * 0.5 * ERFC(-x / math.sqrt(2)).astype(float),
    "gelu-tanh": lambda x: 0.5 * x * (1 + np.tanh(SQ2PI * (x + 0.044715 * x**3))),
    "elu": lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
    "selu": lambda x: float(SELU_L) * np.where(x > 0, x, float(SELU_A) * np.expm1(np.minimum(x, 0))),
    "softplus": lambda x: np.logaddexp(0, x),
}

NPD = {  # float64 f', for the signs of chi1 - 1 only
    "swish": lambda x: _sig(x) * (1 + x * (1 - _sig(x))),
    "gelu": lambda x: 0.5 * ERFC(-x / math.sqrt(2)).astype(float) + x * np.exp(-x**2 / 2) / math.sqrt(2 * math.pi),
    "gelu-tanh": lambda x: (0.5 * (1 + np.tanh(SQ2PI * (x + 0.044715 * x**3)))
                            + 0.5 * x * (1 - np.tanh(SQ2PI * (x + 0.044715 * x**3)) ** 2) * SQ2PI * (1 + 3 * 0.044715 * x**2)),
    "elu": lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0))),
    "selu": lambda x: float(SELU_L) * np.where(x > 0, 1.0, float(SELU_A) * np.exp(np.minimum(x, 0))),
    "softplus": lambda x: _sig(x),
}


def _gelu_tanh_d(x):
    t = mp.tanh(mp.sqrt(2 / mp.pi) * (x + mp.mpf("0.044715") * x**3))
    return (1 + t) / 2 + x * (1 - t**2) * mp.sqrt(2 / mp.pi) * (1 + 3 * mp.mpf("0.044715") * x**2) / 2


MP = {  # mpmath f and f'
    "swish": (lambda x: x / (1 + mp.exp(-x)), lambda x: 1 / (1 + mp.exp(-x)) + x * mp.exp(-x) / (1 + mp.exp(-x)) ** 2),
    "gelu": (lambda x: x * mp.ncdf(x), lambda x: mp.ncdf(x) + x * mp.npdf(x)),
    "gelu-tanh": (lambda x: x * (1 + mp.tanh(mp.sqrt(2 / mp.pi) * (x + mp.mpf("0.044715") * x**3))) / 2, _gelu_tanh_d),
    "elu": (lambda x: x if x > 0 else mp.expm1(x), lambda x: 1 if x > 0 else mp.exp(x)),
    "selu": (lambda x: SELU_L * x if x > 0 else SELU_L * SELU_A * mp.expm1(x),
             lambda x: SELU_L if x > 0 else SELU_L * SELU_A * mp.exp(x)),
    "softplus": (lambda x: mp.log1p(mp.exp(x)), lambda x: 1 / (1 + mp.exp(-x))),
}
LIMIT = {"swish": 0.5, "gelu": 0.5, "gelu-tanh": 0.5, "elu": 0.5, "selu": float(SELU_L) ** 2 / 2, "softplus": 0.5}

Q_SCAN = np.geomspace(1e-3, 1e4, 420)
Z, DZ = np.linspace(-12, 12, 8001, retstep=True)
PHI = np.exp(-Z**2 / 2) / math.sqrt(2 * math.pi) * DZ
PHI[[0, -1]] /= 2


def scan_mean_square(name):
    """E_z[f(sqrt(q) z)^2] on Q_SCAN by the trapezoid rule (float64)."""
    with np.errstate(over="ignore"):
        return np.array([(NP[name](math.sqrt(q) * Z) ** 2) @ PHI for q in Q_SCAN])


def mp_mean_square(g, q):
    s = mp.sqrt(q)
    points = sorted({mp.mpf(-12), mp.mpf(-4), mp.mpf(-1), mp.mpf(0), mp.mpf(1), mp.mpf(4), mp.mpf(12), -1 / s, 1 / s})
    return mp.quad(lambda z: g(s * z) ** 2 * mp.npdf(z), [p for p in points if abs(p) <= 12])


def stable_roots(gap, up, q0):
    """Scan intervals where L(q) - q falls through 0 (the stable roots), nearest to q0 first in the direction."""
    falls = np.flatnonzero((gap[:-1] > 0) & (gap[1:] < 0))
    return [i for i in falls if Q_SCAN[i + 1] > q0] if up else [i for i in falls if Q_SCAN[i] < q0][::-1]


def oracle(name, w2, b2, scan, q0=1.0):
    """(q*, chi1) of the stable fixed point reached from q0: every sign change of L(q) - q on the scan, the first
    one from q0 in the direction L(q0) - q0 points, solved by mpmath; inf or 0 when there is none."""
    f, df = MP[name]
    gap = w2 * scan + b2 - Q_SCAN
    up = w2 * np.interp(q0, Q_SCAN, scan) + b2 > q0
    roots = stable_roots(gap, up, q0)
    if not roots:
        return (math.inf, w2 * LIMIT[name]) if up else (0.0, None)
    i = roots[0]
    with mp.workdps(30):
        q = mp.findroot(lambda x: w2 * mp_mean_square(f, x) + b2 - x, (Q_SCAN[i], Q_SCAN[i + 1]), solver="anderson")
        return float(q), float(w2 * mp_mean_square(df, q))


NAMES = sorted(MP)
SCANS = {}


def scan_of(name):
    if name not in SCANS:
        SCANS[name] = scan_mean_square(name)
    return SCANS[name]


@pytest.mark.parametrize("name", NAMES)
def test_stable_fixed_point_and_chi1_match_the_mpmath_solver(name):
    w2s, b2s = np.array([1.5, 2.25]), np.array([0.2, 0.8])
    chi, q = meanfield.chi1s(name, w2s[None, :], b2s[:, None])
    for i, b2 in enumerate(b2s):
        for j, w2 in enumerate(w2s):
            q_true, chi_true = oracle(name, w2, b2, scan_of(name))
            assert q[i, j] == pytest.approx(q_true, rel=1e-9), (w2, b2)
            assert chi[i, j] == pytest.approx(chi_true, rel=1e-9), (w2, b2)


@pytest.mark.parametrize("w2,b2", [(2.25, 0.2), (2.0014, 0.5), (2.00189, 0.5)])
def test_swish_stable_root_next_to_an_unstable_one(w2, b2):
    """The issue's cases: a stable root 4-30% below an unstable one; the old search stepped over both."""
    q_true, chi_true = oracle("swish", w2, b2, scan_of("swish"))
    chi, q = meanfield.chi1s("swish", w2, b2)
    assert math.isfinite(q_true) and chi_true < 1
    assert float(q) == pytest.approx(q_true, rel=1e-9) and float(chi) == pytest.approx(chi_true, rel=1e-9)


def scan_chi1(name, w2, b2):
    """(q*, chi1) at the oracle's stable root, located on the scan and interpolated (float64: for signs only)."""
    scan = scan_of(name)
    gap = w2 * scan + b2 - Q_SCAN
    up = w2 * np.interp(1.0, Q_SCAN, scan) + b2 > 1.0
    idx = stable_roots(gap, up, 1.0)
    if not idx:
        return (math.inf, w2 * LIMIT[name]) if up else (0.0, None)
    i = idx[0]
    # linear interpolation in the scan interval is enough for the sign of chi1 - 1 at +-1e-4 from a crossing
    q = Q_SCAN[i] - gap[i] * (Q_SCAN[i + 1] - Q_SCAN[i]) / (gap[i + 1] - gap[i])
    with np.errstate(over="ignore"):
        d2 = NPD[name](math.sqrt(q) * Z) ** 2
    # the trapezoid node at the kink of elu and selu takes the mean of the one-sided limits
    d2[Z == 0] = (NPD[name](np.array([1e-300])) ** 2 + NPD[name](np.array([-1e-300])) ** 2)[0] / 2
    return q, w2 * d2 @ PHI


@pytest.mark.parametrize("name", NAMES)
def test_critical_points_are_true_sign_changes(name):
    b2s = [0.2, 0.8]
    w2s = meanfield.critical_sigma_w2(name, b2s)
    for b2, w2, kind in zip(b2s, w2s, meanfield.critical_kinds(name, w2s, b2s)[0]):
        assert math.isfinite(w2), (name, b2)
        (q_left, left), (q_right, right) = scan_chi1(name, w2 * (1 - 1e-4), b2), scan_chi1(name, w2 * (1 + 1e-4), b2)
        assert left < 1 < right, (name, b2, left, right, kind)
        # a saddle-node or basin edge: q* jumps (to another root or inf); a crossing: q* moves continuously
        assert (kind == "crossing") == (q_right < 1.1 * q_left), (name, b2, kind, q_left, q_right)
