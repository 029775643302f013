"""Activations against independent oracles: mpmath at 50 digits, closed forms, the seeds' numbers."""

from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradsim import activations as A



@pytest.fixture(autouse=True, scope="module")
def _digits():
    """1000 digits, enough for 1 - e^-1000 and e^-1000 alike; restored for the other test modules."""
    with mp.workdps(1000):
        yield

with mp.workdps(50):
    SELU_A = mp.mpf("1.6732632423543772848170429916717")
    SELU_L = mp.mpf("1.0507009873554804934193349852946")


def mp_sigmoid(x):
    return 1 / (1 + mp.exp(-x))


#: The textbook formulas, written independently of gradsim, in mpmath.
MP_F = {
    "sigmoid": mp_sigmoid,
    "tanh": mp.tanh,
    "relu": lambda x: x if x > 0 else mp.mpf(0),
    "leaky-relu": lambda x: x if x > 0 else mp.mpf("0.01") * x,
    "prelu": lambda x: x if x > 0 else mp.mpf("0.25") * x,
    "elu": lambda x: x if x > 0 else mp.exp(x) - 1,
    "selu": lambda x: SELU_L * (x if x > 0 else SELU_A * (mp.exp(x) - 1)),
    "gelu": lambda x: x * mp.erfc(-x / mp.sqrt(2)) / 2,
    # (1 + tanh u) / 2 = 1 / (1 + e^-2u): the same number, without needing 10^7 digits at x = -700
    "gelu-tanh": lambda x: x / (1 + mp.exp(-2 * mp.sqrt(2 / mp.pi) * (x + mp.mpf("0.044715") * x**3))),
    "softsign": lambda x: x / (1 + abs(x)),
    "softplus": lambda x: mp.log(1 + mp.exp(x)),
    "swish": lambda x: x * mp_sigmoid(x),
    "linear": lambda x: x,
}

POINTS = [-700.0, -60.0, -30.0, -12.0, -7.5, -3.0, -1.3, -0.4, 0.25, 0.9, 2.2, 6.0, 15.0, 45.0, 700.0]


def close(got: float, want, rel: float = 1e-12, tiny: float = 1e-300) -> bool:
    want = float(want) if abs(want) > mp.mpf("1e-307") else 0.0
    return abs(got - want) <= rel * abs(want) + tiny


def test_registry_has_every_design_name():
    assert set(A.NAMES) == set(MP_F)


@pytest.mark.parametrize("name", A.NAMES)
def test_value_matches_mpmath(name):
    act = A.get(name)
    for x in POINTS:
        want = MP_F[name](mp.mpf(x))
        assert close(float(act.f(x)), want, 1e-12) and close(act.f1(x), want, 1e-12), (name, x)


@pytest.mark.parametrize("name", A.NAMES)
def test_derivative_matches_mpmath_diff_including_tails(name):
    act = A.get(name)
    for x in POINTS:
        want = mp.diff(MP_F[name], mp.mpf(x))
        assert close(float(act.dact(x)), want, 1e-9), (name, x, float(act.dact(x)), want)
        assert close(act.df1(x), want, 1e-9), (name, x, act.df1(x), want)


@pytest.mark.parametrize("name", A.NAMES)
def test_log_derivative_is_finite_where_the_derivative_underflows(name):
    act = A.get(name)
    for x in [-1000.0, -200.0, -40.0, 3.0, 40.0, 1000.0]:
        want = mp.diff(MP_F[name], mp.mpf(x))
        got = float(act.log_dact(x))
        if want == 0:
            assert got == -math.inf
        else:
            assert abs(got - float(mp.log(abs(want)))) <= 1e-9 * max(1.0, abs(got)), (name, x, got)


@pytest.mark.parametrize("name", A.NAMES)
def test_no_warning_and_no_nan_at_extremes(name):
    act = A.get(name)
    x = np.array([-1e308, -1e6, -1000.0, -745.2, 0.0, 745.2, 1000.0, 1e6, 1e308])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn in (act.f, act.dact, act.log_dact):
            assert not np.any(np.isnan(fn(x))), (name, fn)


#: Where f1, df1 (one float, plain math) must agree with the vectorised f, f': a grid and the far tails.
SCALAR_POINTS = sorted(set(np.linspace(-8.0, 8.0, 161).tolist()) | {
    s * v for s in (1.0, -1.0)
    for v in (0.0, 5e-324, 1e-300, 1e-9, 0.3, 30.0, 50.0, 700.0, 745.2, 1000.0, 1e6, 1e100, 1.1e100, 1e300, 1e308)})
ALPHA_CASES = [(n, None) for n in A.NAMES] + [("leaky-relu", 0.2), ("prelu", 0.0), ("prelu", 0.7), ("elu", 2.5)]


@pytest.mark.parametrize("name,alpha", ALPHA_CASES)
def test_scalar_forms_agree_with_the_vectorised_ones(name, alpha):
    """f1(x) = f(x) and df1(x) = f'(x) to 1e-13 relative (or both below 1e-300), a python float, no exception."""
    act = A.get(name, alpha)
    for x in SCALAR_POINTS:
        for got, want in ((act.f1(x), float(act.f(x))), (act.df1(x), float(act.dact(x)))):
            assert isinstance(got, float) and math.isfinite(got), (name, x, got)
            assert got == pytest.approx(want, rel=1e-13, abs=1e-300), (name, alpha, x, got, want)


@pytest.mark.parametrize("name,alpha", ALPHA_CASES)
def test_scalar_forms_honour_alpha_and_the_derivative_at_zero(name, alpha):
    """relu'(0) = 0, leaky'(0) = alpha, elu'(0) = alpha (PyTorch); f1(-2) = -2 alpha, alpha (e^-2 - 1) below 0."""
    act = A.get(name, alpha)
    if name in ("leaky-relu", "prelu"):
        assert act.f1(-2.0) == pytest.approx(-2.0 * act.alpha, abs=0) and act.df1(0.0) == act.alpha
    if name == "elu":
        assert act.f1(-2.0) == pytest.approx(act.alpha * math.expm1(-2.0), rel=1e-15) and act.df1(0.0) == act.alpha
    if name == "relu":
        assert act.f1(-2.0) == 0.0 and act.df1(0.0) == 0.0
    assert act.df1(0.0) == float(act.dact(0.0))


@pytest.mark.parametrize("name", ["leaky-relu", "prelu"])
def test_inverse_of_a_value_near_minus_float_max_is_minus_inf_without_warning(name):
    act = A.get(name)
    assert float(act.inverse(-1e308)) == -math.inf  # -1e308 / alpha is beyond float64
    assert float(act.inverse(np.array([-1e308, -2.0]))[1]) == pytest.approx(-2.0 / act.alpha, rel=1e-15)


@pytest.mark.parametrize("name", A.NAMES)
@settings(max_examples=60, deadline=None)
@given(x=st.floats(-8, 8))
def test_inverse_undoes_f_on_the_increasing_branch(name, x):
    act = A.get(name)
    if x < act.branch_start + 1e-3 or (name in ("relu",) and x <= 0):
        return
    y = float(act.f(x))
    assert abs(float(act.inverse(y)) - x) <= 1e-8 * max(1.0, abs(x)) + 1e-9 / max(float(act.dact(x)), 1e-300) * 1e-6


def test_relu_derivative_at_zero_is_zero_as_in_pytorch():
    assert A.get("relu").dact(0.0) == 0.0 == A.get("relu").df1(0.0)
    assert A.get("leaky-relu").dact(0.0) == 0.01 == A.get("leaky-relu").df1(0.0)


def test_sigmoid_derivative_peaks_at_a_quarter_at_zero():
    peak = A.peak_dact(A.get("sigmoid"))
    assert peak.value == pytest.approx(0.25, abs=1e-15)
    assert peak.at == 0.0


def test_tanh_derivative_is_one_plus_f_times_one_minus_f():
    x = np.linspace(-5, 5, 101)
    f = np.tanh(x)
    np.testing.assert_allclose(A.get("tanh").dact(x), (1 + f) * (1 - f), rtol=1e-12, atol=1e-15)


def test_sigmoid_derivative_is_f_times_one_minus_f():
    x = np.linspace(-5, 5, 101)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(A.get("sigmoid").dact(x), s * (1 - s), rtol=1e-12)


@pytest.mark.parametrize("name", A.NAMES)
def test_value_and_dact_are_the_numbers_of_f_and_dact(name):
    x = np.concatenate([np.linspace(-800, 800, 4001), [-1e308, -1e-300, -0.0, 0.0, 1e-300, 1e308, -np.inf, np.inf]])
    act = A.get(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some activations overflow to inf at +-1e308: a result, compared below
        f, df = act.value_and_dact(x)
        np.testing.assert_array_equal(f, act.f(x))
        np.testing.assert_array_equal(df, act.dact(x))
        f0, df0 = act.value_and_dact(0.5)
    assert float(f0) == float(act.f(0.5)) and float(df0) == float(act.dact(0.5))


def test_softmax_of_values_whose_differences_overflow():
    """1e308 - (-1e308) is beyond float64: the second weight is e^-inf = 0, with no warning."""
    np.testing.assert_array_equal(A.softmax([1e308, -1e308]), [1.0, 0.0])
    np.testing.assert_array_equal(A.softmax_jacobian([1e308, -1e308]), [[0.0, 0.0], [0.0, 0.0]])


def test_peaks_against_closed_forms():
    gelu = A.peak_dact(A.get("gelu"))  # GELU'' = phi(x)(2 - x^2) = 0 at sqrt 2
    assert gelu.at == pytest.approx(math.sqrt(2), abs=1e-6)
    want = float(mp.ncdf(mp.sqrt(2)) + mp.sqrt(2) * mp.npdf(mp.sqrt(2)))
    assert gelu.value == pytest.approx(want, rel=1e-12)
    assert A.peak_dact(A.get("selu")).value == pytest.approx(float(SELU_L * SELU_A), rel=1e-12)
    softplus = A.peak_dact(A.get("softplus"))
    assert not softplus.attained and softplus.value == pytest.approx(1.0)


def test_seed_sigmoid_matrix_matches_tensorflow_float32():
    got = A.get("sigmoid").f(np.array([[4.0, 5.0], [10.0, 1.0]]))
    tf = np.array([[0.98201376, 0.9933072], [0.9999546, 0.7310586]], dtype=np.float32)
    np.testing.assert_array_equal(got.astype(np.float32), tf)
    np.testing.assert_allclose(got, tf, rtol=2e-7)


def test_seed_softmax_of_3_1_minus3():
    s = A.softmax([3.0, 1.0, -3.0])
    assert [round(v, 2) for v in s] == [0.88, 0.12, 0.00]
    e = [math.exp(3), math.exp(1), math.exp(-3)]
    np.testing.assert_allclose(s, [v / sum(e) for v in e], rtol=1e-14)


def test_softmax_jacobian_against_central_differences():
    x = np.array([3.0, 1.0, -3.0, 0.5])
    h = 1e-6
    fd = np.array([(A.softmax(x + h * e) - A.softmax(x - h * e)) / (2 * h) for e in np.eye(4)]).T
    np.testing.assert_allclose(A.softmax_jacobian(x), fd, atol=1e-9)


def test_selu_constants_are_the_seeds_digits():
    assert A.SELU_ALPHA == float(SELU_A) and A.SELU_LAMBDA == float(SELU_L)


def test_gelu_tanh_is_the_seeds_formula():
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), evaluated as written in mpmath."""
    act = A.get("gelu-tanh")
    for x in np.linspace(-6, 6, 97):
        u = mp.sqrt(2 / mp.pi) * (mp.mpf(x) + mp.mpf("0.044715") * mp.mpf(x) ** 3)
        want = mp.mpf("0.5") * x * (1 + mp.tanh(u))
        assert close(float(act.f(x)), want, 1e-13), x


def test_alpha_is_used_and_checked():
    assert A.get("leaky-relu", 0.2).f(-1.0) == pytest.approx(-0.2)
    assert A.get("elu", 2.0).f(-50.0) == pytest.approx(-2.0)
    with pytest.raises(A.GradsimError, match="no parameter"):
        A.get("sigmoid", 0.5)
    with pytest.raises(A.GradsimError, match="alpha must be"):
        A.get("elu", 0.0)


def test_unknown_name_lists_the_choices():
    with pytest.raises(A.GradsimError, match="choose from sigmoid"):
        A.get("sigmoidd")


def test_ranges():
    assert A.get("sigmoid").in_range(0.5) and not A.get("sigmoid").in_range(1.0)
    assert A.get("relu").in_range(0.0) and not A.get("relu").in_range(-0.1)
    assert A.get("gelu").lo == pytest.approx(-0.16997, abs=1e-5)


def test_the_peak_of_f_prime_at_zero_is_f_prime_of_zero_exactly():
    """sigmoid' = s(1 - s) peaks at 1/4 exactly (0.5 x 0.5); tanh' and softsign' at 1; selu' at lambda alpha."""
    import mpmath

    from gradsim.activations import get, peak_dact

    assert peak_dact(get("sigmoid")).value == 0.25
    assert peak_dact(get("tanh")).value == 1.0 and peak_dact(get("softsign")).value == 1.0
    lam_alpha = mpmath.mpf("1.0507009873554804934193349852946") * mpmath.mpf("1.6732632423543772848170429916717")
    assert peak_dact(get("selu")).value == pytest.approx(float(lam_alpha), rel=1e-15)


def test_acts_json_and_csv_print_sigmoids_peak_as_a_quarter(run):
    rows = {r["activation"]: r for r in run.json("acts")["activations"]}
    assert rows["sigmoid"]["max_abs_dact"] == 0.25
    assert "sigmoid,1 / (1 + e^-x),,\"(0, 1)\",\"(0, 1)\",0.25,0.25," in run("acts", "-f", "csv").stdout
