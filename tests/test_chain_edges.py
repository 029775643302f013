"""Nielsen's chain where float64 gives out, against mpmath (50 digits): signs where f'(z) underflows, values that
fit in float64 though the plain product does not, exact zeros, and gelu's log-derivative in its far tail."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from gradsim import activations, chain

SELU_A = mp.mpf("1.6732632423543772848170429916717")
SELU_L = mp.mpf("1.0507009873554804934193349852946")
C_TANH = mp.sqrt(2 / mp.pi)
K = mp.mpf("0.044715")


def _sig(x):
    return 1 / (1 + mp.exp(-x))


def _gelu_tanh(x):
    return x * _sig(2 * C_TANH * (x + K * x**3))


def _gelu_tanh_d(x):
    s = _sig(2 * C_TANH * (x + K * x**3))
    return s + x * s * (1 - s) * 2 * C_TANH * (1 + 3 * K * x**2)


MP = {  # f and f' written here from the formulas
    "sigmoid": (_sig, lambda x: _sig(x) * _sig(-x)),
    "tanh": (mp.tanh, lambda x: 1 / mp.cosh(x) ** 2),
    "elu": (lambda x: x if x > 0 else mp.expm1(x), lambda x: 1 if x > 0 else mp.exp(x)),
    "selu": (lambda x: SELU_L * x if x > 0 else SELU_L * SELU_A * mp.expm1(x),
             lambda x: SELU_L if x > 0 else SELU_L * SELU_A * mp.exp(x)),
    "softplus": (lambda x: mp.log1p(mp.exp(x)), _sig),
    "swish": (lambda x: x * _sig(x), lambda x: _sig(x) * (1 + x * _sig(-x))),
    "gelu": (lambda x: x * mp.ncdf(x), lambda x: mp.ncdf(x) + x * mp.npdf(x)),
    "gelu-tanh": (_gelu_tanh, _gelu_tanh_d),
}

TAILS = [("sigmoid", 745.5), ("sigmoid", -745.5), ("sigmoid", -900.0), ("tanh", 700.0), ("tanh", -700.0),
         ("tanh", 705.3), ("elu", -745.5), ("elu", -800.0), ("selu", -745.5), ("softplus", -745.5),
         ("softplus", -760.0), ("swish", -745.5), ("swish", -752.0), ("gelu", -38.6), ("gelu", -39.5),
         ("gelu-tanh", -30.0), ("gelu-tanh", -33.0)]


def mp_grads(name, r):
    """dC/db_j = f'(z_j) prod_{k>j} w_k f'(z_k) (a_L - target), from gradsim's float w and z, in mpmath."""
    f, df = MP[name]
    with mp.workdps(50):
        z = [mp.mpf(float(v)) for v in r.z]
        err = f(z[-1]) - mp.mpf(r.target)
        out, tail = [], err
        for j in range(len(z) - 1, -1, -1):
            out.append(df(z[j]) * tail)
            tail = out[-1] * mp.mpf(float(r.w[j]))
        return out[::-1]


@pytest.mark.parametrize("name,z", TAILS)
def test_sign_and_size_where_f_prime_underflows(name, z):
    """Layer 2 sits at z; layers 1 and 2 then have dC/db below float64 (or near it), yet a sign and a size."""
    act = activations.get(name)
    a1 = act.f1(0.5)
    target = float(act.f1(1.0)) * 0.5
    r = chain.run_chain(act, np.array([1.0, 1.0, 1.0]), np.array([0.5, z - a1, 1.0]), 0.0, target)
    exact = mp_grads(name, r)
    for j in range(3):
        true_sign = int(mp.sign(exact[j]))
        assert r.sign_grad_b[j] == true_sign, (j, r.sign_grad_b[j], true_sign)
        assert r.log10_grad_b[j] == pytest.approx(float(mp.log10(abs(exact[j]))), abs=1e-10)
        assert r.grad_b[j] == pytest.approx(float(exact[j]), rel=1e-10, abs=1e-300)


def test_the_issue_chain_keeps_its_sign():
    r = chain.vanish(depth=3, act="sigmoid", weights="1,2000,1", biases="0,0,0", input=1.0, target=0.2)
    exact = mp_grads("sigmoid", r)
    assert list(r.sign_grad_b) == [1.0, 1.0, 1.0]
    with mp.workdps(50):
        assert [float(mp.log10(abs(e))) for e in exact[:2]] == pytest.approx(list(r.log10_grad_b[:2]), abs=1e-10)


@pytest.mark.parametrize("name,weight,depth", [("softplus", 100.0, 183), ("softplus", 100.0, 185),
                                               ("prelu", 100.0, 222), ("sigmoid", 100.0, 222), ("tanh", 2.0, 1025)])
def test_values_that_fit_in_float64_are_given(name, weight, depth):
    """zero-z chains whose dC/db passes through the top of float64: every value that fits is a float, not null."""
    act = activations.get(name)
    target = act.lo + 0.1 if act.lo > -1e300 else -0.5
    r = chain.run_chain(act, np.full(depth, weight), None, 1.0, target)
    with mp.workdps(50):
        d0 = mp.mpf(float(act.dact(0.0)))
        err = mp.mpf(float(r.a[-1])) - mp.mpf(target)
        for j in range(depth):
            exact = d0 * (mp.mpf(weight) * d0) ** (depth - 1 - j) * err
            if abs(exact) < mp.mpf(np.finfo(float).max):
                assert r.grad_b[j] == pytest.approx(float(exact), rel=1e-12), j
            else:
                assert r.grad_b[j] == math.copysign(math.inf, float(exact))


def test_an_exact_zero_is_zero_not_null():
    """a_L equals the target: every gradient is exactly 0 (grad_b 0.0, log10 -inf), never nan from inf x 0."""
    r = chain.vanish(depth=400, act="tanh", weights="100", biases="zero-z", input=1.0, target=0.0)
    assert np.all(r.grad_b == 0) and np.all(r.grad_w == 0) and np.all(r.sign_grad_b == 0)
    assert np.all(np.isneginf(r.log10_grad_b))


def test_json_null_only_beyond_float64(run):
    d = run.json("vanish", "--act", "softplus", "--depth", "200", "--weights", "100", "--biases", "zero-z")
    for layer in d["layers"]:
        beyond = layer["log10_grad_b"] is not None and layer["log10_grad_b"] > math.log10(np.finfo(float).max)
        assert (layer["grad_b"] is None) == beyond, layer
    d = run.json("vanish", "--act", "tanh", "--depth", "400", "--weights", "100", "--biases", "zero-z", "--target", "0")
    assert all(layer["grad_b"] == 0.0 and layer["log10_grad_b"] is None for layer in d["layers"])


# ---------------------------------------------------------------- gelu's tail
def test_gelu_log_derivative_matches_mpmath_from_minus_40_to_0():
    x = np.concatenate([np.linspace(-40.0, 0.0, 2001), [-8.0001, -38.6, -3.0, -2.9999999]])
    got = activations.get("gelu").log_dact(x)
    with mp.workdps(50):
        for xi, g in zip(x, got):
            ref = mp.log(abs(mp.ncdf(xi) + xi * mp.npdf(xi)))
            assert abs(g - float(ref)) <= 1e-14 * max(1.0, abs(float(ref))), xi


def test_norm_cdf_matches_mpmath():
    x = np.concatenate([np.linspace(-38.0, 9.0, 1881), [-3.0, -1.5, 1.5, 3.0, 0.0]])
    got = activations.norm_cdf(x)
    with mp.workdps(50):
        for xi, g in zip(x, got):
            ref = float(mp.ncdf(xi))
            # e^(-x^2/2) carries the rounding of x^2 / 2 (~1e-16 x^2 relative): math.erfc does no better
            assert g == pytest.approx(ref, rel=2e-16 * max(1.0, xi * xi) + 4e-16), xi


def test_gelu_issue_case_log10():
    """--act gelu --depth 1 --weights 1 --biases=-8.0001 --input 0 --target=0.5: log10 |dC/db| to 1e-13."""
    r = chain.vanish(depth=1, act="gelu", weights="1", biases="-8.0001", input=0.0, target=0.5)
    exact = mp_grads("gelu", r)[0]
    with mp.workdps(50):
        assert r.log10_grad_b[0] == pytest.approx(float(mp.log10(abs(exact))), abs=1e-13)
