"""Output moments of activations against mpmath quadrature, seeded Monte Carlo and closed forms."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from gradsim import activations
from gradsim.moments import NFNETS_GAMMA, moments

MP_F = {  # f written here in mpmath from the formulas
    "tanh": mp.tanh,
    "sigmoid": lambda x: 1 / (1 + mp.exp(-x)),
    "relu": lambda x: max(x, 0),
    "elu": lambda x: x if x > 0 else mp.expm1(x),
    "selu": lambda x: mp.mpf("1.0507009873554804934193349852946") * (
        x if x > 0 else mp.mpf("1.6732632423543772848170429916717") * mp.expm1(x)),
    "gelu": lambda x: x * mp.ncdf(x),
    "softplus": lambda x: mp.log1p(mp.exp(x)),
    "swish": lambda x: x / (1 + mp.exp(-x)),
}


def mp_normal(g):
    return mp.quad(lambda z: g(z) * mp.npdf(z), [-mp.inf, -5, 0, 5, mp.inf])


@pytest.mark.parametrize("name", sorted(MP_F))
def test_moments_match_mpmath(name):
    f = MP_F[name]
    with mp.workdps(30):
        mean = mp_normal(f)
        var = mp_normal(lambda z: f(z) ** 2) - mean**2
        uniform = mp.quad(f, [-1, 0, 1]) / 2
    m = moments(activations.get(name))
    assert m.mean_normal == pytest.approx(float(mean), rel=1e-10, abs=1e-12)
    assert m.var_normal == pytest.approx(float(var), rel=1e-10)
    assert m.mean_uniform == pytest.approx(float(uniform), rel=1e-10, abs=1e-12)
    assert m.gamma == pytest.approx(float(1 / mp.sqrt(var)), rel=1e-10)


@pytest.mark.parametrize("name", ["tanh", "relu", "selu", "gelu", "sigmoid"])
def test_moments_match_seeded_monte_carlo(name):
    act = activations.get(name)
    rng = np.random.default_rng(2024)
    z, u = rng.standard_normal(1_000_000), rng.uniform(-1, 1, 1_000_000)
    fz, fu = act.f(z), act.f(u)
    m = moments(act)
    n = z.size
    assert abs(m.mean_normal - fz.mean()) <= 5 * fz.std() / math.sqrt(n)
    assert abs(m.var_normal - fz.var()) <= 5 * ((fz - fz.mean()) ** 2).std() / math.sqrt(n)
    assert abs(m.mean_uniform - fu.mean()) <= 5 * fu.std() / math.sqrt(n) + 1e-15


def test_the_mean_shift_claim_exactly():
    """Microsoft AI-edu: sigmoid moves the mean of U(-1, 1) inputs from 0 to 0.5; tanh keeps 0."""
    assert moments(activations.get("sigmoid")).mean_uniform == 0.5
    assert moments(activations.get("tanh")).mean_uniform == 0.0
    assert moments(activations.get("tanh")).mean_normal == 0.0


def test_selu_is_self_normalising_at_unit_input():
    """Klambauer et al.'s constants make E selu(z) = 0 and Var selu(z) = 1 for z ~ N(0, 1)."""
    m = moments(activations.get("selu"))
    assert abs(m.mean_normal) < 1e-9 and m.var_normal == pytest.approx(1.0, abs=1e-9)


def test_relu_gamma_closed_form_beside_deepmind_table():
    """Var relu(z) = 1/2 - 1/(2 pi): gamma = sqrt(2 pi / (pi - 1)); NFNets' empirical 1.7139588594436646."""
    m = moments(activations.get("relu"))
    assert m.gamma == pytest.approx(math.sqrt(2 * math.pi / (math.pi - 1)), rel=1e-13)
    assert m.gamma_nfnets == NFNETS_GAMMA["relu"] == 1.7139588594436646
    assert abs(m.gamma / m.gamma_nfnets - 1) < 2e-3  # an empirical estimate, close but not exact
    assert moments(activations.get("leaky-relu", 0.2)).gamma_nfnets is None


def test_acts_json_keys(run):
    d = run.json("acts", "--act", "relu,sigmoid")
    relu, sigmoid = d["activations"]
    for key in ("gamma", "mean_normal", "var_normal", "mean_uniform", "gamma_nfnets"):
        assert key in relu
    assert sigmoid["mean_uniform"] == pytest.approx(0.5)
    assert relu["mean_normal"] == pytest.approx(1 / math.sqrt(2 * math.pi), rel=1e-13)
