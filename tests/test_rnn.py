"""gradsim.rnn against independent oracles: torch autograd (float64), mpmath beyond float64, closed forms."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from gradsim import activations, rnn_surface
from gradsim.lstm import lstm_forward, run_lstm
from gradsim.rnn import recurrent_matrix, rnn, run_recurrent
from gradsim.window import sigmoid_window_width, window_width

SIG, TANH = activations.get("sigmoid"), activations.get("tanh")
REL = 1e-10


def _log10_close(got: np.ndarray, want: np.ndarray, rel: float = REL) -> None:
    """log10 magnitudes agree to a relative 1e-10 of the magnitudes themselves."""
    want = np.asarray(want, dtype=float)
    assert np.all(np.isfinite(got) == (want > 0))
    with np.errstate(divide="ignore"):
        lw = np.log10(np.where(want > 0, want, 1.0))
    assert np.allclose(got[want > 0], lw[want > 0], rtol=0, atol=rel / math.log(10))


# ---------------------------------------------------------------- torch autograd, float64
@pytest.mark.parametrize("act,cost", [("tanh", "last"), ("sigmoid", "every"), ("tanh", "every"), ("gelu", "last")])
def test_scalar_bptt_matches_torch_autograd(act, cost):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    w, u, b, h0, y, steps = 1.7, 0.8, -0.3, 0.2, 0.3, 12
    x = rng.standard_normal(steps)
    r = run_recurrent(activations.get(act), np.array([[w]]), np.array([u]), np.array([b]), np.array([h0]), x, y,
                      cost, **_labels())
    ws = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for _ in range(steps)]  # one leaf per step
    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    f = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "gelu": torch.nn.functional.gelu}[act]
    h, hs = torch.tensor(h0, dtype=torch.float64), []
    for t in range(steps):
        h = f(ws[t] * h + u * float(x[t]) + bt)
        h.retain_grad()
        hs.append(h)
    c = sum((q - y) ** 2 / 2 for q in (hs if cost == "every" else hs[-1:]))
    c.backward()
    grad_h = np.array([q.grad.item() for q in hs])
    _log10_close(r.log10_grad_h, np.abs(grad_h))
    assert np.array_equal(r.sign_grad_h, np.sign(grad_h))
    _log10_close(r.log10_grad_w, np.abs([q.grad.item() for q in ws]))  # dC/dw from step t
    assert r.grad_w_total == pytest.approx(sum(q.grad.item() for q in ws), rel=REL)
    assert r.grad_b_total == pytest.approx(bt.grad.item(), rel=REL)


def _labels(**kw) -> dict:
    base = dict(cell="rnn", input="given", seed=0, weight=0.0, input_weight=0.0, bias=0.0, h0=0.0, radius=None,
                init=None, forget_bias=None)
    return {**base, **kw}


@pytest.mark.parametrize("cost", ["last", "every"])
def test_vector_bptt_and_jacobian_norms_match_torch_autograd(cost):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    n, steps, y = 5, 9, 0.1
    w = recurrent_matrix(n, 1.3, "gaussian", rng)
    u, b, h0 = rng.standard_normal(n), 0.1 * rng.standard_normal(n), 0.3 * rng.standard_normal(n)
    x = rng.standard_normal(steps)
    r = run_recurrent(TANH, w, u, b, h0, x, y, cost, **_labels())
    wt = [torch.tensor(w, requires_grad=True) for _ in range(steps)]
    h, hs, jac = torch.tensor(h0), [], []
    for t in range(steps):
        def step(state, t=t):
            return torch.tanh(wt[t].detach() @ state + torch.tensor(u) * float(x[t]) + torch.tensor(b))
        jac.append(torch.linalg.matrix_norm(torch.autograd.functional.jacobian(step, h.detach()), 2).item())
        h = torch.tanh(wt[t] @ h + torch.tensor(u) * float(x[t]) + torch.tensor(b))
        h.retain_grad()
        hs.append(h)
    c = sum(((q - y) ** 2).sum() / 2 for q in (hs if cost == "every" else hs[-1:]))
    c.backward()
    _log10_close(r.log10_grad_h, [q.grad.norm().item() for q in hs])
    _log10_close(r.log10_grad_w, [m.grad.norm().item() for m in wt])
    _log10_close(r.log10_factor, jac)
    assert np.allclose(r.h, [q.detach().norm().item() for q in hs], rtol=1e-13)


@pytest.mark.parametrize("cost,gate_weight", [("last", 0.7), ("every", -1.2), ("last", 0.0)])
def test_lstm_bptt_matches_torch_autograd(cost, gate_weight):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    u, b, fb, h0, y, steps = 0.9, 0.2, 1.5, 0.1, -0.2, 10
    x = rng.standard_normal(steps)
    r = run_lstm(TANH, 0.5, u, b, fb, h0, x, y, cost, gate_weight, **_labels(cell="lstm"))
    sig = torch.sigmoid
    h = torch.tensor(h0, dtype=torch.float64, requires_grad=True)
    c = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    hs, cs = [], []
    for t in range(steps):
        pre = gate_weight * h + u * float(x[t])
        i, f, o, g = sig(pre + b), sig(pre + fb), sig(pre + b), torch.tanh(pre + b)
        c = f * c + i * g
        h = o * torch.tanh(c)
        c.retain_grad(), h.retain_grad()
        cs.append(c), hs.append(h)
    loss = sum((q - y) ** 2 / 2 for q in (hs if cost == "every" else hs[-1:]))
    loss.backward()
    _log10_close(r.lstm.log10_grad_c, [abs(q.grad.item()) for q in cs])
    _log10_close(r.log10_grad_h, [abs(q.grad.item()) if q.grad is not None else 0.0 for q in hs])
    assert np.allclose(r.lstm.c, [q.item() for q in cs], rtol=1e-14)


# ---------------------------------------------------------------- mpmath beyond float64
def _mp_log10_grad(act: str, w: float, u: float, b: float, h0: float, x: np.ndarray, y: float) -> list:
    """log10 |dC/dh_t| with C = (h_T - y)^2 / 2, forward and product in mpmath at 40 digits."""
    mp.mp.dps = 40
    f = {"sigmoid": lambda z: 1 / (1 + mp.exp(-z)), "tanh": mp.tanh, "relu": lambda z: max(z, mp.mpf(0))}[act]
    df = {"sigmoid": lambda z: f(z) * (1 - f(z)), "tanh": lambda z: 1 - mp.tanh(z) ** 2,
          "relu": lambda z: mp.mpf(1) if z > 0 else mp.mpf(0)}[act]
    h, zs = mp.mpf(h0), []
    for xt in x:
        z = w * h + u * mp.mpf(float(xt)) + b
        zs.append(z)
        h = f(z)
    out, acc = [], mp.log10(abs(h - y))
    for t in range(len(x) - 1, -1, -1):
        out.append(acc)
        acc += mp.log10(abs(w * df(zs[t])))
    return [float(v) for v in out[::-1]]


@pytest.mark.parametrize("act,w,u,b,h0,spec", [
    ("sigmoid", 3.0, 1.0, 0.0, 0.0, "noise"),  # vanishing: |dC/dh_1| ~ 10^-2700, far below float64
    ("relu", 1.5, 1.0, 0.0, 0.0, "const:1"),  # exploding: h_T ~ 10^880 and the gradient beyond float64
    ("tanh", 1.2, 0.5, 0.05, 0.0, "noise"),
])
def test_log10_gradients_match_mpmath_at_5000_steps(act, w, u, b, h0, spec):
    r = rnn(act=act, weight=w, input_weight=u, bias=b, h0=h0, steps=5000, input=spec, seed=3)
    want = _mp_log10_grad(act, w, u, b, h0, r.x, 0.0)
    assert np.all(np.isfinite(r.log10_grad_h))
    if act != "tanh":
        assert np.max(np.abs(r.log10_grad_h)) > 308  # beyond float64
    assert np.allclose(r.log10_grad_h, want, rtol=0, atol=1e-9)


def test_ten_thousand_steps_give_finite_log10_values():
    for kw in (dict(), dict(weight=8.0, bias=-4.0, h0=0.5, input="const:0"), dict(units=4, act="tanh", radius=3.0)):
        r = rnn(steps=10_000, **kw)
        assert np.all(np.isfinite(r.log10_grad_h)), kw
    assert rnn(weight=8.0, bias=-4.0, h0=0.5, input="const:0", steps=10_000).log10_grad_h[0] == \
        pytest.approx(math.log10(0.5) + 9999 * math.log10(2), abs=1e-9)


# ---------------------------------------------------------------- the textbook bounds
def test_sigmoid_factor_below_one_whenever_abs_w_below_4():
    """Hochreiter 1991 / Bengio et al. 1994: |w sigma'(z)| <= |w|/4 < 1 on a grid of weights, inputs and biases."""
    for w in np.linspace(-3.999, 3.999, 41):
        for b in (-3.0, -0.5, 0.0, 2.0):
            r = rnn(weight=float(w), bias=b, input="noise", steps=30, seed=int(abs(w) * 100))
            assert np.all(np.abs(r.factor) < 1.0)
            assert r.bounds.vanishing_guaranteed
    assert window_width(SIG, 3.999) == 0.0 and float(sigmoid_window_width(3.999)) == 0.0


@pytest.mark.parametrize("w", [4.5, 6.0, 10.0])
def test_above_4_a_window_of_z_exceeds_one_as_gradsim_window_says(w):
    """For |w| > 4, z in (-x_+, x_+) (Nielsen's window, gradsim.window) gives |w sigma'(z)| > 1: h0 = 1/2 and
    b = -w/2 hold z = 0 at every step."""
    r = rnn(weight=w, bias=-w / 2, h0=0.5, input="const:0", steps=40)
    assert np.allclose(r.factor, w / 4) and r.regime == "exploding"
    width = window_width(SIG, w)
    assert width == pytest.approx(float(sigmoid_window_width(w)), rel=1e-9) and width > 0
    edge = w * width / 2  # the window in z = w a + b is symmetric about 0: half-width w * width / 2
    inside, outside = np.array([0.0, 0.9 * edge]), np.array([1.1 * edge])
    assert np.all(w * activations.dsigmoid(inside) > 1) and np.all(w * activations.dsigmoid(outside) < 1)


@pytest.mark.parametrize("act,sigma", [("tanh", 0.9), ("sigmoid", 3.6), ("relu", 0.95)])
def test_pascanu_sufficient_condition_gives_geometric_decay_over_seeds(act, sigma):
    """sigma_max(W) < 1/gamma  =>  ||dC/dh_t|| <= (sigma_max gamma)^(T-t) ||dC/dh_T|| for every t."""
    a = activations.get(act)
    gamma = activations.peak_dact(a).value
    for seed in range(8):
        rng = np.random.default_rng(seed)
        w = recurrent_matrix(6, 1.0, "gaussian", rng)
        w *= sigma / np.linalg.norm(w, 2)
        x = rng.standard_normal(60)
        r = run_recurrent(a, w, rng.standard_normal(6), 0.1 * rng.standard_normal(6), np.zeros(6), x, 0.5, "last",
                          **_labels())
        assert r.bounds.vanishing_guaranteed
        rate = math.log10(sigma * gamma)
        bound = r.log10_grad_h[-1] + rate * np.arange(59, -1, -1)
        assert np.all(r.log10_grad_h <= bound + 1e-12)


# ---------------------------------------------------------------- the cliff
def _fixed_points(w: float, b: float) -> int:
    """How many solutions h = sigma(w h + b) has in (0, 1): sign changes on a fine grid."""
    h = np.linspace(1e-9, 1 - 1e-9, 400_001)
    g = 1 / (1 + np.exp(-(w * h + b))) - h
    return int(np.count_nonzero(np.sign(g[1:]) != np.sign(g[:-1])))


@pytest.mark.parametrize("w", [5.0, 6.0, 8.0])
def test_wall_is_where_a_fixed_point_changes_stability(w):
    ws, bs = rnn_surface.wall(SIG, np.array([w]))
    assert len(bs) == 2
    for b in bs:
        # closed form: h* = (1 -+ sqrt(1 - 4/w)) / 2 solves sigma' = h(1 - h) = 1/w; b = logit(h*) - w h*
        r = math.sqrt(1 - 4 / w)
        assert any(abs(b - (math.log(hs / (1 - hs)) - w * hs)) < 1e-9 for hs in ((1 - r) / 2, (1 + r) / 2))
        counts = {_fixed_points(w, b - 0.01), _fixed_points(w, b + 0.01)}
        assert counts == {1, 3}  # two fixed points are born (or die) at the wall


@pytest.mark.parametrize("w", [5.0, 6.0, 8.0])
def test_steepest_point_of_the_surface_sits_on_the_wall(w):
    """From h0 = 0 the state climbs to the lowest fixed point; it disappears where b crosses the wall, and
    there the gradient of C(w, b) is largest (T = 200, grid step 0.005 in b)."""
    x = np.zeros(200)
    bs = np.arange(-6.0, 0.0, 0.005)
    _, _, gw, gb = rnn_surface.forward_mode(SIG, np.full_like(bs, w), bs, 1.0, x, 0.0, 0.7)
    steepest = bs[np.argmax(np.hypot(gw, gb))]
    wall_b = rnn_surface.wall(SIG, np.array([w]))[1]
    assert np.min(np.abs(wall_b - steepest)) < 0.02


@pytest.mark.parametrize("mode", ["norm", "global-norm", "value", "adaptive"])
@pytest.mark.parametrize("start", [(6.0, -3.2), (5.0, -2.8), (8.0, -5.5)])
def test_a_clipped_step_never_exceeds_lr_times_threshold(mode, start):
    lr, t = 1.0, 0.5
    run = rnn_surface.descend(SIG, start, 1.0, np.zeros(50), 0.0, 0.7, lr, 40, mode, t)
    steps = np.diff(np.stack([run.w, run.b]), axis=1)
    if mode == "value":
        assert np.all(np.abs(steps) <= lr * t * (1 + 1e-12))
    elif mode == "adaptive":
        norms = np.hypot(run.w[:-1], run.b[:-1])
        assert np.all(np.hypot(*steps) <= lr * t * np.maximum(norms, 1e-3) * (1 + 1e-12))
    else:
        assert np.all(np.hypot(*steps) <= lr * t * (1 + 1e-12))


def test_unclipped_descent_is_thrown_off_the_cliff_and_clipped_is_not():
    r = rnn(surface=True)
    none, norm = r.surface.trajectories
    assert none.step_length.max() > 5 * norm.step_length.max()
    assert norm.step_length.max() <= r.surface.lr * r.surface.threshold


# ---------------------------------------------------------------- the LSTM carousel
def test_lstm_carousel_is_exactly_preserved_over_1000_steps():
    r = rnn(cell="lstm", forget_bias=40.0, steps=1000)
    ratio = 10.0 ** (r.lstm.log10_grad_c[0] - r.lstm.log10_grad_c[-1])
    assert abs(ratio - 1.0) < 1e-12
    fw = lstm_forward(0.0, 1.0, 0.0, 40.0, r.x)
    product = 1.0
    for f in fw.f[1:]:  # a plain loop: the forget gates from step 2 to T
        product *= f
    assert abs(product - 1.0) < 1e-12 and abs(10.0 ** r.lstm.log10_carousel[0] - product) < 1e-12
    assert r.lstm.vanilla_log10_product[0] < -40  # the tanh RNN beside it has vanished


def test_lstm_with_the_usual_forget_bias_forgets_geometrically():
    r = rnn(cell="lstm", steps=100)
    sig1 = 1 / (1 + math.exp(-1.0))  # f_t = sigma(1) once the input is 0
    assert r.lstm.log10_carousel[0] == pytest.approx(99 * math.log10(sig1), rel=1e-12)


def test_states_below_float64_keep_their_size():
    """linear, w = 10^-3, a pulse: h_T = 10^(-3 (T-1)) and dC/dh_1 = h_T w^(T-1), both far below float64."""
    r = rnn(act="linear", weight=1e-3, steps=5000)
    assert r.log10_h[-1] == pytest.approx(-3 * 4999, abs=1e-9)
    assert r.log10_grad_h[0] == pytest.approx(-6 * 4999, abs=1e-9)
    v = rnn(act="tanh", units=8, radius=0.5, steps=2000, init="orthogonal")
    assert np.all(np.isfinite(v.log10_grad_h)) and v.log10_h[-1] < -400


def test_a_state_on_its_target_is_stable_with_zero_gradients():
    r = rnn(act="tanh", input="const:0", steps=10)  # h stays 0 = y
    assert r.regime == "stable" and np.all(r.log10_grad_h == -np.inf) and "every gradient is 0" in r.why


def _mp_tail_run(act: str, w: float, b: float, steps: int) -> tuple[list, list]:
    """log10 |h_t| and log10 |dC/dh_t| (C = h_T^2 / 2, a pulse at t = 1) in mpmath at 50 digits; f' by mp.diff."""
    mp.mp.dps = 50
    sig = lambda z: 1 / (1 + mp.exp(-z))  # noqa: E731
    f = {"sigmoid": sig, "softplus": lambda z: mp.log1p(mp.exp(z)), "swish": lambda z: z * sig(z),
         "gelu": lambda z: z * mp.ncdf(z),
         "gelu-tanh": lambda z: z * sig(2 * mp.sqrt(2 / mp.pi) * (z + mp.mpf("0.044715") * z ** 3))}[act]
    h, zs, log_h = mp.mpf(0), [], []
    for t in range(steps):
        z = w * h + (1 if t == 0 else 0) + b
        zs.append(z)
        h = f(z)
        log_h.append(float(mp.log10(abs(h))))
    acc, out = mp.log10(abs(h)), []
    for t in range(steps - 1, -1, -1):
        out.append(float(acc))
        acc += mp.log10(abs(w * mp.diff(f, zs[t])))
    return log_h, out[::-1]


@pytest.mark.parametrize("act,w,b", [("sigmoid", 1.0, -800.0), ("softplus", 2.0, -800.0), ("swish", 1.0, -800.0),
                                     ("gelu", 3.0, -40.0), ("gelu-tanh", 3.0, -25.0)])
def test_states_whose_f_underflows_keep_their_size(act, w, b):
    """f(z) below float64 at a finite z (sigmoid(-800) = e^-800): the state and its gradient are sized exactly,
    not 0 (which would read as 'the state equals the target')."""
    r = rnn(act=act, weight=w, bias=b, steps=12)
    log_h, log_g = _mp_tail_run(act, w, b, 12)
    assert r.regime != "stable" and np.all(np.isfinite(r.log10_grad_h))
    assert np.allclose(r.log10_h, log_h, rtol=0, atol=1e-9)
    assert np.allclose(r.log10_grad_h, log_g, rtol=0, atol=1e-9)


def test_factor_t_is_w_fprime_z_t_and_links_h_t_to_h_t_minus_1():
    """factor[t-1] = w f'(z_t) with z_t from a plain loop (an index shifted by one fails), and
    dC/dh_(t-1) = factor_t dC/dh_t with its sign (a sign flip fails)."""
    w, u, b, h0, steps = -1.3, 0.7, 0.2, 0.4, 15
    x = np.random.default_rng(4).standard_normal(steps)
    r = run_recurrent(TANH, np.array([[w]]), np.array([u]), np.array([b]), np.array([h0]), x, 0.1, "last",
                      **_labels())
    h, factors, hs = h0, [], []
    for xt in x:
        z = w * h + u * xt + b
        factors.append(w * (1 - math.tanh(z) ** 2))
        h = math.tanh(z)
        hs.append(h)
    assert np.allclose(r.factor, factors, rtol=1e-13) and np.allclose(r.h, hs, rtol=1e-13)
    grad = [0.0] * steps
    grad[-1] = hs[-1] - 0.1
    for t in range(steps - 1, 0, -1):
        grad[t - 1] = factors[t] * grad[t]
    assert np.array_equal(r.sign_grad_h, np.sign(grad))
    _log10_close(r.log10_grad_h, np.abs(grad))
