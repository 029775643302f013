"""One LSTM cell through time and its constant error carousel (Hochreiter & Schmidhuber 1997).

i, f, o = sigma(w_g h_(t-1) + u x_t + b_gate), g = tanh(w_g h_(t-1) + u x_t + b), c_t = f_t c_(t-1) + i_t g_t,
h_t = o_t tanh(c_t). Along the cell state dc_t/dc_(t-1) = f_t: the gradient meets the forget gates only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import activations, chain
from .activations import Activation
from .bptt import LN10, Backward, bptt, unit_vector
from .rnn import RnnResult, regime_of, run_recurrent


@dataclass(frozen=True)
class LstmParts:
    """The LSTM's cell state, its carousel and the vanilla RNN beside it."""

    c: np.ndarray
    forget: np.ndarray
    log10_carousel: np.ndarray  # log10 prod_(k>t) f_k: dc_T/dc_t along the cell state alone
    log10_grad_c: np.ndarray  # log10 |dC/dc_t|
    vanilla_log10_product: np.ndarray  # log10 prod_(k>t) |w f'(z_k)| of the vanilla RNN
    vanilla_log10_grad_h: np.ndarray


@dataclass(frozen=True)
class LstmForward:
    """Gates and states of one LSTM cell over T steps (index t-1 for step t; c[0], h[0] are the start)."""

    i: np.ndarray
    f: np.ndarray
    o: np.ndarray
    g: np.ndarray
    c: np.ndarray  # (T+1,)
    h: np.ndarray
    ln_f: np.ndarray  # ln f_t = ln sigma(z_f), exact where f_t rounds to 1


def lstm_forward(w: float, u: float, b: float, forget_bias: float, x: np.ndarray, h0: float = 0.0,
                 c0: float = 0.0) -> LstmForward:
    """i, f, o = sigma(w h + u x + b_gate), g = tanh(w h + u x + b), c_t = f c + i g, h_t = o tanh(c_t).

    Every gate has the recurrent weight w and input weight u; the forget gate's bias is `forget_bias`.
    """
    steps = len(x)
    i, f, o, g = (np.empty(steps) for _ in range(4))
    zf = np.empty(steps)
    c, h = np.empty(steps + 1), np.empty(steps + 1)
    c[0], h[0] = c0, h0
    sig = activations.sigmoid1
    for t in range(steps):
        pre = w * h[t] + u * x[t]
        zf[t] = pre + forget_bias
        i[t], f[t], o[t], g[t] = sig(pre + b), sig(zf[t]), sig(pre + b), math.tanh(pre + b)
        c[t + 1] = f[t] * c[t] + i[t] * g[t]
        h[t + 1] = o[t] * math.tanh(c[t + 1])
    return LstmForward(i, f, o, g, c, h, activations.log_sigmoid(zf))


def lstm_backward(w: float, fw: LstmForward, target: float, every: bool,
                  progress: Callable[[int, int], None] | None = None) -> Backward:
    """BPTT for (dC/dc_t, dC/dh_t), the totals autograd gives; C = (h - y)^2 / 2 on the last or every step.

    dC/dh_(t-1) = e_(t-1) + w (A_t dC/dc_t + B_t dC/dh_t),  A_t = g i' + i g' + c_(t-1) f',  B_t = tanh(c_t) o'
    dC/dc_(t-1) = f_t dC/dc_t + o_(t-1) tanh'(c_(t-1)) dC/dh_(t-1)   (the carousel is the first term)
    """
    i, f, o, g, c = fw.i, fw.f, fw.o, fw.g, fw.c
    a = g * i * (1 - i) + i * (1 - g * g) + c[:-1] * f * (1 - f)
    bh = np.tanh(c[1:]) * o * (1 - o)
    k = o * (1 - np.tanh(c[1:]) ** 2)  # dh_t/dc_t

    def pullback(t: int, v: np.ndarray) -> tuple[float, np.ndarray]:
        dh = w * (a[t] * v[0] + bh[t] * v[1])
        return 0.0, np.array([f[t] * v[0] + k[t - 1] * dh, dh])

    def error(t: int) -> tuple[float, np.ndarray]:
        e = fw.h[t + 1] - target
        return unit_vector(np.array([k[t] * e, e]))

    return bptt(len(f), pullback, error, every, progress)


def _suffix_log10(ln: np.ndarray) -> np.ndarray:
    """log10 prod_(k>t) e^(ln_k) for t = 1..T (1 at t = T)."""
    return chain._suffix_sum(ln) / LN10


def run_lstm(act: Activation, w: float, u: float, b: float, b_forget: float, h_init: float, x: np.ndarray,
             target: float = 0.0, cost: str = "last", gate_weight: float = 0.0,
             progress: Callable[[int, int], None] | None = None, **labels) -> RnnResult:
    """The LSTM cell (recurrent weight `gate_weight` into its gates) with its carousel prod f_t, beside the
    vanilla RNN h_t = f(w h + u x + b)."""
    fw = lstm_forward(gate_weight, u, b, b_forget, x, h_init)
    every = cost == "every"
    g = lstm_backward(gate_weight, fw, target, every, progress)
    last = g if not every else lstm_backward(gate_weight, fw, target, False)
    with np.errstate(divide="ignore"):
        ln_c = g.ln_norm + np.log(np.abs(g.unit[:, 0]))
        ln_h = g.ln_norm + np.log(np.abs(g.unit[:, 1]))
        log10_f = fw.ln_f / LN10
    with np.errstate(divide="ignore"):
        name, ratio, per_step = regime_of((last.ln_norm + np.log(np.abs(last.unit[:, 0]))) / LN10)
    vanilla = run_recurrent(act, np.array([[w]]), np.array([u]), np.array([b]), np.array([h_init]), x, target, cost,
                            **{**labels, "cell": "rnn", "weight": w, "radius": None, "init": None, "forget_bias": None})
    parts = LstmParts(fw.c[1:], fw.f, _suffix_log10(fw.ln_f), ln_c / LN10,
                      _suffix_log10(vanilla.log10_factor * LN10), vanilla.log10_grad_h)
    carousel = float(parts.log10_carousel[0])
    why = (f"along the cell state the gradient meets the forget gates only: prod f_t = 10^({carousel:.3g})\n"
           f"from step 1 to {len(x)}, the constant error carousel (Hochreiter & Schmidhuber 1997) when f_t = 1;\n"
           f"the {act.name} RNN's prod |w f'(z_t)| is 10^({float(parts.vanilla_log10_product[0]):.4g}).")
    with np.errstate(divide="ignore"):
        return RnnResult(activation=act.name, alpha=act.alpha, units=1, steps=len(x), x=x, h=fw.h[1:],
                         log10_h=np.log10(np.abs(fw.h[1:])), factor=fw.f, log10_factor=log10_f,
                         log10_grad_h=ln_h / LN10, sign_grad_h=np.sign(g.unit[:, 1]), log10_grad_w=ln_c / LN10,
                         grad_w_total=None, grad_b_total=None, regime=name, log10_ratio=ratio,
                         log10_factor_per_step=per_step, bounds=None, why=why, lstm=parts, cost=cost,
                         target=target, extra=dict(gate_weight=gate_weight), **labels)
