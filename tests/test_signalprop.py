"""Signal propagation (gradsim.signalprop, gradsim.layers) against independent oracles: torch autograd or a plain
numpy loop trial by trial, closed forms, Monte Carlo of the mean-field operator, and the recursions' claims."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from gradsim import meanfield
from gradsim.ensemble import children
from gradsim.layers import bn_relu_factor
from gradsim.moments import moments
from gradsim import activations
from gradsim.signalprop import Arch, signal, theory


# ---------------------------------------------------------------- BatchNorm + relu: the rate
def test_bn_relu_factor_limit_is_pi_over_pi_minus_one():
    assert bn_relu_factor(10**9) == pytest.approx(math.pi / (math.pi - 1), rel=1e-8)
    rates = [bn_relu_factor(b) for b in (4, 8, 16, 64, 256, 1024)]
    assert all(x > y for x, y in zip(rates, rates[1:]))  # from above: small batches explode faster
    assert bn_relu_factor(3) == math.inf


@pytest.mark.parametrize("batch", [6, 8, 32])
def test_bn_relu_factor_against_monte_carlo_of_the_mean_field_operator(batch):
    """Sample the infinite-width backward map directly: h ~ N(0, P) per unit (P = I - 11^T/B), y = BN(h), the
    upstream gradient g ~ N(0, P) independent; factor = E||J^T (relu'(y) g)||^2 sigma_w^2 / E||g||^2 with
    sigma_w^2 / Var_batch(h) = 1 / a, a = E relu(y1)^2 - E relu(y1) relu(y2) (estimated from the same samples)."""
    rng = np.random.default_rng(7)
    n = 400_000
    u = rng.standard_normal((n, batch))
    u -= u.mean(axis=1, keepdims=True)
    y = u * math.sqrt(batch) / np.linalg.norm(u, axis=1, keepdims=True)
    r = np.maximum(y, 0)
    a = np.mean(r[:, 0] ** 2) - np.mean(r[:, 0] * r[:, 1])
    g = rng.standard_normal((n, batch))
    g -= g.mean(axis=1, keepdims=True)
    gy = g * (y > 0)
    back = gy - gy.mean(axis=1, keepdims=True) - y * np.mean(gy * y, axis=1, keepdims=True)
    # J = sqrt(B)/||u|| (P - y y^T / B) with Ph = sqrt(a) sigma_w u: sigma_w^2 ||J^T v||^2 = B ||R v||^2 / (a ||u||^2)
    ratio = batch * np.sum(back**2, axis=1) / (a * np.sum(u**2, axis=1))
    estimate = ratio.mean() / np.mean(np.sum(g**2, axis=1))
    spread = ratio.std() / math.sqrt(n) / np.mean(np.sum(g**2, axis=1))
    assert abs(estimate - bn_relu_factor(batch)) < 5 * spread + 5e-3


def test_bn_relu_measured_factor_within_two_percent():
    """Width 256, batch 32: the fitted per-layer factor of mean ||dC/dh_l||^2 against lambda(32) = 1.522."""
    r = signal(act="relu", init="he", width=256, depth=16, norm="batch", batch=32, trials=4, seed=1)
    assert r.theory_factor == pytest.approx(bn_relu_factor(32), rel=1e-12)
    assert r.measured_factor == pytest.approx(r.theory_factor, rel=0.02)
    assert r.verdict == "exploding"


@pytest.mark.skipif(not os.environ.get("GRADSIM_SLOW"), reason="slow: set GRADSIM_SLOW=1")
def test_bn_relu_measured_factor_at_larger_width_and_batch():
    r = signal(act="relu", init="he", width=1024, depth=20, norm="batch", batch=128, trials=2, seed=2)
    assert r.measured_factor == pytest.approx(bn_relu_factor(128), rel=0.01)


def test_layernorm_before_relu_does_not_explode():
    r = signal(act="relu", init="he", width=256, depth=30, norm="layer", trials=20, seed=3)
    assert r.theory_factor == pytest.approx(1.0, rel=1e-12)
    assert r.measured_factor == pytest.approx(1.0, abs=0.02)


def test_layernorm_after_relu_centres_and_explodes_like_batchnorm():
    """Post-activation LayerNorm subtracts relu's mean over the units: sigma_w2 E relu'^2 / Var relu = pi/(pi-1)."""
    r = signal(act="relu", init="he", width=256, depth=30, norm="layer", position="post", trials=20, seed=4)
    assert r.theory_factor == pytest.approx(math.pi / (math.pi - 1), rel=1e-12)
    assert r.measured_factor == pytest.approx(r.theory_factor, rel=0.02)


# ---------------------------------------------------------------- SELU self-normalises
def test_selu_lecun_fixed_point_is_mean_zero_variance_one():
    selu = activations.get("selu")
    q = meanfield.fixed_point_q(selu, 1.0, 0.0, q0=2.0)
    assert q == pytest.approx(1.0, abs=1e-6)
    m = moments(selu)
    assert abs(m.mean_normal) < 1e-6 and m.var_normal == pytest.approx(1.0, abs=1e-6)


def test_selu_lecun_measured_mean_zero_variance_one_at_every_layer():
    """Width 512, depth 50: every layer's activations have mean 0 and variance 1 within sampling error (5 standard
    errors of a mean over N T values, the variance's over N T with the fourth moment of SELU's output ~ 3)."""
    trials, width = 8, 512
    r = signal(act="selu", init="lecun", width=width, depth=50, trials=trials, seed=5)
    count = trials * width
    assert np.all(np.abs(r.act_mean) < 5 / math.sqrt(count)), r.act_mean
    assert np.all(np.abs(r.act_var - 1) < 5 * math.sqrt(3 / count)), r.act_var
    assert np.all(np.abs(r.q_theory[1:] - 1) < 1e-9)


# ---------------------------------------------------------------- residual networks
def test_residual_stream_variance_follows_the_recursion():
    """NF-ResNet scaling (beta_l = sqrt(q_l)), relu + He, alpha 0.3, width 512: q_l = 1 + l alpha^2 exactly in the
    mean field; measured within 3%."""
    r = signal(act="relu", init="he", width=512, depth=30, residual=0.3, trials=6, seed=6)
    assert r.q_theory == pytest.approx(1 + 0.09 * np.arange(1, 31), rel=1e-12)
    assert np.all(np.abs(r.pre_q / r.q_theory - 1) < 0.03), r.pre_q / r.q_theory


def test_plain_residual_stream_variance_follows_the_recursion():
    r = signal(act="tanh", width=512, depth=20, residual=0.5, beta=1.0, batch=8, trials=6, seed=8)
    assert np.all(np.abs(r.pre_q / r.q_theory - 1) < 0.03), r.pre_q / r.q_theory


def test_gradient_growth_is_polynomial_for_alpha_one_over_sqrt_depth():
    """Yang & Schoenholz: with alpha = 1/sqrt(L) the total growth (1 + 1/L)^(L-1) stays below e, whatever L;
    with a fixed alpha it is (1 + alpha^2)^(L-1), exponential. Measured beside the product of per-block factors."""
    growth = {}
    for depth in (8, 32):
        r = signal(act="relu", init="he", width=256, depth=depth, residual=1 / math.sqrt(depth), beta=1.0,
                   trials=20, seed=9)
        theory = float(np.prod(r.grad_factor_theory[:-1]))
        measured = 10 ** (r.log10_mean_sq[0] - r.log10_mean_sq[-1])
        assert measured == pytest.approx(theory, rel=0.1)
        assert theory < math.e
        growth[depth] = measured
    assert growth[32] < 1.5 * growth[8]  # bounded, not exponential
    fixed = signal(act="relu", init="he", width=256, depth=32, residual=0.5, beta=1.0, trials=10, seed=9)
    assert 10 ** (fixed.log10_mean_sq[0] - fixed.log10_mean_sq[-1]) > 100


# ---------------------------------------------------------------- two inputs: the c-map
@pytest.mark.parametrize("w2,b2,c0", [(4.0, 0.0, 0.9), (1.0, 0.3, 0.0)])
def test_measured_correlation_follows_the_c_map(w2, b2, c0):
    """Chaotic tanh (sigma_w2 4: correlations decay towards c* = 0) and ordered (sigma_b2 0.3: they climb to 1).
    Width 512, 10 trials: a trial's cosine scatters by ~1/sqrt(N) = 0.044, so 5 standard errors are 0.07."""
    r = signal(act="tanh", sigma_w2=w2, sigma_b2=b2, width=512, depth=8, inputs=2, correlation=c0, trials=10, seed=10)
    assert r.correlation_theory[0] == pytest.approx((w2 * c0 + b2) / (w2 + b2))
    assert np.all(np.abs(r.correlation - r.correlation_theory) < 0.07), (r.correlation, r.correlation_theory)
    assert abs(r.correlation_theory[-1] - c0) > 0.3  # the map moved it far


# ---------------------------------------------------------------- an independent forward/backward, trial by trial
def _reference(act, depth, width, batch, w2, norm, position, seed, torch):
    """The same networks built from the documented seeds, run in torch (float64) with autograd for dC/dh_l."""
    f = {"relu": torch.relu, "tanh": torch.tanh}[act]
    trial = children(np.random.SeedSequence(seed), 1)[0]
    seeds = children(trial, depth + 1)
    rng = np.random.default_rng(seeds[0])
    x = torch.tensor(rng.standard_normal((batch, width)), requires_grad=True)
    r = torch.tensor(rng.standard_normal((batch, width)))
    a, hs, stats = x, [], []
    for layer in range(depth):
        g = np.random.default_rng(seeds[layer + 1])
        w = torch.tensor(g.standard_normal((width, width)) * math.sqrt(w2 / width))
        b = torch.tensor(g.standard_normal(width) * 0.0)
        h = a @ w.T + b
        h.retain_grad()
        hs.append(h)
        y = h
        if norm and position == "pre":
            y = torch.nn.functional.batch_norm(h, None, None, training=True, eps=1e-5) if norm == "batch" else \
                torch.nn.functional.layer_norm(h, (width,), eps=1e-5)
        z = f(y)
        a = z
        if norm and position == "post":
            a = torch.nn.functional.batch_norm(z, None, None, training=True, eps=1e-5) if norm == "batch" else \
                torch.nn.functional.layer_norm(z, (width,), eps=1e-5)
        hd, zd = h.detach(), z.detach()
        stats.append((hd.mean(), hd.var(unbiased=False), zd.mean(), zd.var(unbiased=False),
                      (hd.mean(0) ** 2).mean(), hd.var(0, unbiased=False).mean()))
    (r * a).sum().backward()
    grads = [float(torch.log10((h.grad ** 2).sum())) for h in hs]
    return np.array([[float(v) for v in s] for s in stats]), np.array(grads)


@pytest.mark.parametrize("act,norm,position", [("tanh", None, "pre"), ("relu", "batch", "pre"),
                                                ("relu", "batch", "post"), ("tanh", "layer", "pre")])
def test_forward_and_backward_agree_with_torch_trial_by_trial(act, norm, position):
    torch = pytest.importorskip("torch")
    depth, width, batch = 6, 24, 5
    r = signal(act=act, init="he" if act == "relu" else "xavier", width=width, depth=depth, norm=norm,
               position=position, batch=batch, trials=1, seed=11)
    stats, grads = _reference(act, depth, width, batch, r.arch.sigma_w2, norm, position, 11, torch)
    mine = np.stack([r.pre_mean, r.pre_var, r.act_mean, r.act_var, r.chan_sq_mean, r.chan_var], axis=1)
    np.testing.assert_allclose(mine, stats, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(r.log10_mean_sq, grads, rtol=1e-9, atol=1e-10)


# ---------------------------------------------------------------- residual blocks with a normalised branch
def _torch_norm(torch, kind, v, width):
    if kind == "batch":
        return torch.nn.functional.batch_norm(v, None, None, training=True, eps=1e-5)
    return torch.nn.functional.layer_norm(v, (width,), eps=1e-5)


def _reference_norm_residual(act, depth, width, batch, w2, b2, norm, position, branch, alpha, seed, torch):
    """He et al.'s pre-activation blocks s + alpha W f(Norm(s)) + b (or W Norm(f(s)) + b), written here in torch."""
    f = {"relu": torch.relu, "tanh": torch.tanh}[act]
    seeds = children(children(np.random.SeedSequence(seed), 1)[0], depth + 1)
    rng = np.random.default_rng(seeds[0])
    s = torch.tensor(rng.standard_normal((batch, width)), requires_grad=True)
    r = torch.tensor(rng.standard_normal((batch, width)))
    streams, stats = [], []
    for layer in range(depth):
        g = np.random.default_rng(seeds[layer + 1])
        v, first = s, None
        for _ in range(branch):
            w = torch.tensor(g.standard_normal((width, width)) * math.sqrt(w2 / width))
            b = torch.tensor(g.standard_normal(width) * math.sqrt(b2))
            z = f(_torch_norm(torch, norm, v, width)) if position == "pre" else f(v)
            first = z if first is None else first
            u = z if position == "pre" else _torch_norm(torch, norm, z, width)
            v = u @ w.T + b
        s = s + alpha * v
        s.retain_grad()
        streams.append(s)
        sd, zd = s.detach(), first.detach()
        stats.append((sd.mean(), sd.var(unbiased=False), zd.mean(), zd.var(unbiased=False)))
    (r * s).sum().backward()
    grads = [float(torch.log10((t.grad ** 2).sum())) for t in streams]
    return np.array([[float(x) for x in row] for row in stats]), np.array(grads)


@pytest.mark.parametrize("act,norm,position,branch", [("relu", "batch", "pre", 1), ("tanh", "layer", "pre", 2),
                                                       ("relu", "batch", "post", 2), ("tanh", "layer", "post", 1)])
def test_normalised_residual_blocks_agree_with_torch_trial_by_trial(act, norm, position, branch):
    torch = pytest.importorskip("torch")
    depth, width, batch, w2, b2, alpha = 5, 16, 6, 1.7, 0.1, 0.7
    r = signal(act=act, sigma_w2=w2, sigma_b2=b2, width=width, depth=depth, norm=norm, position=position,
               batch=batch, residual=alpha, branch=branch, trials=1, seed=12)
    stats, grads = _reference_norm_residual(act, depth, width, batch, w2, b2, norm, position, branch, alpha, 12, torch)
    mine = np.stack([r.pre_mean, r.pre_var, r.act_mean, r.act_var], axis=1)
    np.testing.assert_allclose(mine, stats, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(r.log10_mean_sq, grads, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("act,init,norm,position,branch,b2", [
    ("relu", "he", "batch", "pre", 1, 0.0), ("relu", "he", "batch", "pre", 2, 0.0),
    ("relu", "he", "layer", "pre", 1, 0.0), ("tanh", "xavier", "batch", "pre", 1, 0.1),
    ("relu", "he", "batch", "post", 1, 0.0), ("tanh", "xavier", "layer", "post", 2, 0.1)])
def test_normalised_residual_stream_and_gradient_follow_the_mean_field(act, init, norm, position, branch, b2):
    """Width 512, batch 64: the stream's mean square within 4% of the (q, V) recursion at every block, and the
    fitted per-block factor of the mean squared gradient within 2% of the theory's."""
    r = signal(act=act, init=init, sigma_b2=b2, width=512, depth=16, norm=norm, position=position, batch=64,
               residual=1.0, branch=branch, trials=3, seed=13)
    assert np.all(np.abs(r.pre_q / r.q_theory - 1) < 0.04), r.pre_q / r.q_theory
    assert r.measured_factor == pytest.approx(r.theory_factor, rel=0.02)


def test_a_normalised_residual_stream_grows_linearly_and_its_gradient_polynomially():
    """BatchNorm + relu, He, alpha 1: q_l = 1 + l exactly (each branch adds sigma_w2 E relu(y)^2 = 1), the batch
    variance V_l = 1 + 2 a l, and the per-block factor 1 + sigma_w2 lambda a / V_l ~ 1 + lambda / l: the growth
    over L blocks is a power, ~ L^lambda(B), where the plain BatchNorm net grows by lambda(B)^L."""
    from gradsim.layers import bn_relu_terms

    th = theory(Arch(activations.get("relu"), 400, 64, 2.0, 0.0, "batch", "pre", 64, 1.0, None, 1, None))
    assert th.q == pytest.approx(1.0 + np.arange(1, 401), rel=1e-12)
    lam, a = bn_relu_terms(64)
    growth = np.cumsum(np.log(th.grad_factor[:-1]))  # ln of the growth over the first L blocks
    blocks = np.arange(1, 400)
    power = np.polyfit(np.log(blocks[99:]), growth[99:], 1)[0]
    assert power == pytest.approx(lam, rel=0.02)
    assert growth[-1] < 0.1 * 399 * math.log(lam)
