"""The descent experiment (Microsoft AI-edu, "Activation functions") against an independent oracle: a plain-`math` loop written here."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradsim import activations as A
from gradsim import descent
from gradsim.errors import GradsimError

# ---------------------------------------------------------------- the oracle: f, f', f^-1 from textbook formulas
SELU_A, SELU_L = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
GELU_C, GELU_K = math.sqrt(2 / math.pi), 0.044715


def sig(x):
    return 1 / (1 + math.exp(-x)) if x > -500 else math.exp(x)


def gelu_tanh_u(x):
    return GELU_C * (x + GELU_K * x**3)


def increasing_branch_inverse(f):
    """f^-1 right of the minimum of f: the minimum by ternary search on [-3, 0], then bisection."""
    def inverse(y):
        lo, hi = -3.0, 0.0
        for _ in range(200):
            a, b = lo + (hi - lo) / 3, hi - (hi - lo) / 3
            lo, hi = (a, hi) if f(a) > f(b) else (lo, b)
        lo, hi = lo, 10.0
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) < y else (lo, mid)
        return (lo + hi) / 2
    return inverse


def gelu(x):
    return 0.5 * x * (1 + math.erf(x / math.sqrt(2)))


def gelu_tanh(x):
    return 0.5 * x * (1 + math.tanh(gelu_tanh_u(x)))


def swish(x):
    return x * sig(x)


def piecewise(alpha):
    return (lambda x: x if x > 0 else alpha * x, lambda x: 1.0 if x > 0 else alpha,
            lambda y: y if y >= 0 else y / alpha)


ORACLE = {  # name: (f, f', f^-1)
    "sigmoid": (sig, lambda x: sig(x) * (1 - sig(x)), lambda y: math.log(y / (1 - y))),
    "tanh": (math.tanh, lambda x: 1 - math.tanh(x) ** 2, math.atanh),
    "relu": (lambda x: max(x, 0.0), lambda x: 1.0 if x > 0 else 0.0, lambda y: y),
    "leaky-relu": piecewise(0.01),
    "prelu": piecewise(0.25),
    "elu": (lambda x: x if x > 0 else math.exp(x) - 1, lambda x: 1.0 if x > 0 else math.exp(x),
            lambda y: y if y > 0 else math.log(1 + y)),
    "selu": (lambda x: SELU_L * (x if x > 0 else SELU_A * (math.exp(x) - 1)),
             lambda x: SELU_L * (1.0 if x > 0 else SELU_A * math.exp(x)),
             lambda y: y / SELU_L if y > 0 else math.log(1 + y / (SELU_L * SELU_A))),
    "gelu": (gelu, lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2))) + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi),
             increasing_branch_inverse(gelu)),
    "gelu-tanh": (gelu_tanh,
                  lambda x: 0.5 * (1 + math.tanh(gelu_tanh_u(x)))
                  + 0.5 * x * (1 - math.tanh(gelu_tanh_u(x)) ** 2) * GELU_C * (1 + 3 * GELU_K * x * x),
                  increasing_branch_inverse(gelu_tanh)),
    "softsign": (lambda x: x / (1 + abs(x)), lambda x: 1 / (1 + abs(x)) ** 2, lambda y: y / (1 - abs(y))),
    "softplus": (lambda x: math.log(1 + math.exp(x)), sig, lambda y: math.log(math.exp(y) - 1)),
    "swish": (swish, lambda x: sig(x) + x * sig(x) * (1 - sig(x)), increasing_branch_inverse(swish)),
    "linear": (lambda x: x, lambda x: 1.0, lambda y: y),
}


def oracle_steps(name, start, target, lr, cap=descent.MAX_STEPS):
    """The straightforward loop: step until f(x) is at or past the target (relative 1e-12); None past the cap."""
    f, df, inverse = ORACLE[name]
    x = inverse(start)
    down = start > target
    tol = 1e-12 * max(abs(start), abs(target))
    for k in range(cap + 1):
        y = f(x)
        if (y <= target + tol) if down else (y >= target - tol):
            return k, x, y
        if k == cap:
            return None, x, y
        x = x - lr * df(x) if down else x + lr * df(x)


# ---------------------------------------------------------------- the AI-edu numbers
def test_seed_sigmoid_67_relu_2():
    r = descent.steps()
    assert [(w.activation, w.steps, w.reached) for w in r.results] == [("sigmoid", 67, True), ("relu", 2, True)]
    assert r.times_fewer == 67 / 2 and r.fastest.activation == "relu" and r.slowest.activation == "sigmoid"


def test_seed_first_sigmoid_step_is_ln9_minus_0_018_and_0_898368():
    w = descent.steps(act="sigmoid", trace=True).results[0]
    assert w.x0 == pytest.approx(math.log(9), rel=1e-15)
    assert w.dact0 == pytest.approx(0.9 * 0.1, rel=1e-14)
    x1 = math.log(9) - 0.2 * 0.09
    assert w.x[1] == pytest.approx(x1, rel=1e-14)
    assert w.value[1] == pytest.approx(1 / (1 + math.exp(-x1)), rel=1e-14)
    assert f"{w.value[1]:.6f}" == "0.898368"


def test_relu_second_step_lands_on_the_target_within_the_tolerance():
    w = descent.steps(act="relu").results[0]
    assert w.final_value == 0.9 - 0.2 - 0.2 == 0.49999999999999994
    # one ulp above the target still counts as reached
    w = descent.walk(A.get("linear"), 0.5 + 2**-52, 0.5, 0.2)
    assert w.steps == 0


# ---------------------------------------------------------------- every activation against the oracle loop
COMBOS = [  # (start, target, lr): values in (0, 1) lie in every range
    (0.9, 0.5, 0.2), (0.5, 0.9, 0.2), (0.9, 0.1, 0.5), (0.3, 0.25, 0.01), (0.9, 0.5, 3.0), (0.2, 0.8, 1.5),
    (0.6, 0.59, 0.001), (0.9, 0.5, 1000.0),
]
NEGATIVE = {  # activations that reach below 0, with combos that cross 0
    "tanh": [(0.5, -0.5, 0.3), (-0.5, 0.4, 0.1)], "leaky-relu": [(0.5, -0.001, 0.3)], "prelu": [(0.5, -0.1, 0.3)],
    "elu": [(0.5, -0.5, 0.3), (-0.9, 0.4, 0.2)], "selu": [(0.5, -1.0, 0.3)], "softsign": [(0.5, -0.5, 0.3)],
    "linear": [(0.5, -3.0, 0.7)], "gelu": [(0.5, -0.1, 0.05), (-0.1, 0.5, 0.2)],
    "gelu-tanh": [(0.5, -0.1, 0.05)], "swish": [(0.5, -0.2, 0.05), (-0.2, 0.3, 0.1)],
}
CASES = [(n, *c) for n in A.NAMES for c in COMBOS] + [(n, *c) for n, cs in NEGATIVE.items() for c in cs]


@pytest.mark.parametrize("name,start,target,lr", CASES)
def test_count_equals_the_plain_math_loop(name, start, target, lr):
    want, x, y = oracle_steps(name, start, target, lr)
    w = descent.steps(act=name, start=start, target=target, lr=lr).results[0]
    assert w.steps == want, (w.steps, want, w.reason)
    assert w.reached and w.final_x == pytest.approx(x, rel=1e-9, abs=1e-12)
    assert w.final_value == pytest.approx(y, rel=1e-9, abs=1e-12)


def test_the_cap_is_a_result_and_agrees_with_the_oracle():
    want, x, _ = oracle_steps("sigmoid", 0.9, 0.1, 0.001, cap=50)
    w = descent.steps(act="sigmoid", target=0.1, lr=0.001, max_steps=50).results[0]
    assert want is None and w.steps is None and not w.reached and w.stop == "max-steps" and w.taken == 50
    assert w.final_x == pytest.approx(x, rel=1e-12)
    assert "50 steps" in w.reason and "above the target 0.1" in w.reason


# ---------------------------------------------------------------- overshoot, dead units, start == target
def test_an_overshooting_lr_counts_the_first_step_past_the_target():
    w = descent.steps(act="sigmoid", lr=1000.0).results[0]
    x1 = math.log(9) - 1000 * 0.09
    assert w.steps == 1 and w.final_x == pytest.approx(x1, rel=1e-12)
    assert w.final_value == pytest.approx(math.exp(x1), rel=1e-9)  # far past 0.5
    w = descent.steps(act="relu", lr=5.0).results[0]
    assert (w.steps, w.final_x, w.final_value) == (1, 0.9 - 5.0, 0.0)
    w = descent.steps(act="tanh", start=-0.5, target=0.5, lr=100.0).results[0]
    assert w.steps == 1 and w.final_value == pytest.approx(math.tanh(math.atanh(-0.5) + 100 * 0.75))


def test_dead_relu_at_the_start_is_not_reached_with_the_reason():
    for act, alpha in (("relu", None), ("leaky-relu", 0.0)):
        w = descent.steps(act=act, alpha=alpha, start=0.0, target=0.5).results[0]
        assert not w.reached and w.steps is None and w.stop == "dead" and w.taken == 0
        assert w.final_x == 0.0 and w.final_value == 0.0
        assert "f'(x) = 0" in w.reason and "dead" in w.reason


def test_a_big_step_can_kill_a_gelu_unit_on_the_way():
    """gelu from 0.9 towards -0.1 with lr 50 jumps to x ~ -54 where f' underflows: f never gets below -0.1."""
    f, df, inverse = ORACLE["gelu"]
    x1 = inverse(0.9) - 50 * df(inverse(0.9))
    w = descent.steps(act="gelu", target=-0.1, lr=50.0).results[0]
    assert not w.reached and w.stop in ("dead", "stuck") and w.taken == 1
    assert w.final_x == pytest.approx(x1, rel=1e-9) and f(x1) > -0.1 and df(x1) * 50 < 1e-300
    assert "dead" in w.reason


def test_a_vanishing_step_is_stuck_not_an_endless_loop():
    w = descent.steps(act="swish", target=-0.2, lr=50.0).results[0]
    assert not w.reached and w.stop == "stuck" and w.taken < 10 and "no longer changes x" in w.reason


def test_leaving_float64_is_a_result_without_a_warning():
    w = descent.steps(act="leaky-relu", start=-1e308, target=0.0).results[0]  # f^-1 = -1e308 / 0.01
    assert (w.stop, w.reached, w.taken, w.x0) == ("overflow", False, 0, -math.inf) and "f^-1(start)" in w.reason
    w = descent.steps(act="gelu", lr=1.7e308).results[0]  # 1.7e308 * gelu'(x0) > the largest float
    assert (w.stop, w.taken, w.final_x) == ("overflow", 1, -math.inf) and "step 1" in w.reason


@pytest.mark.parametrize("name", A.NAMES)
def test_start_equal_to_target_takes_no_step(name):
    for value in (0.5, 0.0) if A.get(name).in_range(0.0) else (0.5,):
        w = descent.steps(act=name, start=value, target=value, trace=True).results[0]
        assert (w.steps, w.reached, w.taken, len(w.x)) == (0, True, 0, 1) and w.final_x == w.x0


def test_non_monotone_activations_walk_on_the_increasing_branch():
    for name in ("gelu", "gelu-tanh", "swish"):
        act = A.get(name)
        w = descent.steps(act=name, start=-0.1, target=0.5).results[0]
        assert not w.monotone and "increasing branch" in w.branch
        assert w.x0 > act.branch_start and w.dact0 > 0
        assert w.x0 == pytest.approx(ORACLE[name][2](-0.1), abs=1e-9)
    assert all(descent.steps(act=n).results[0].monotone for n in A.NAMES if n not in ("gelu", "gelu-tanh", "swish"))


# ---------------------------------------------------------------- property: monotone until the target
@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(A.NAMES), start=st.floats(0.1, 0.9), target=st.floats(0.1, 0.9), lr=st.floats(0.01, 0.05))
def test_trace_is_monotone_in_f_until_the_target_for_small_lr(name, start, target, lr):
    w = descent.steps(act=name, start=start, target=target, lr=lr, trace=True).results[0]
    assert w.reached and len(w.value) == w.steps + 1
    moves = np.diff(w.value) * (1 if target > start else -1)
    assert np.all(moves > 0), (name, moves.min())


def test_trace_rows_are_the_update_rule():
    w = descent.steps(act="tanh", start=0.2, target=0.7, lr=0.3, trace=True).results[0]
    f, df, _ = ORACLE["tanh"]
    np.testing.assert_allclose(w.dx[1:], 0.3 * w.dact[:-1], rtol=1e-12)
    np.testing.assert_allclose(w.value, [f(x) for x in w.x], rtol=1e-14)
    np.testing.assert_allclose(w.dact, [df(x) for x in w.x], rtol=1e-13)
    assert np.isnan(w.dx[0])


# ---------------------------------------------------------------- the walk uses the activation's own scalar forms
# (f1 and df1 against the vectorised f and f': tests/test_activations.py)
def test_a_walk_steps_with_the_activations_f1_and_df1():
    f, df, _ = ORACLE["sigmoid"]
    custom = dataclasses.replace(A.get("sigmoid"), name="custom-sigmoid", f1=f, df1=df)
    assert descent.walk(custom).steps == oracle_steps("sigmoid", descent.START, descent.TARGET, descent.LR)[0] == 67
    flat = dataclasses.replace(custom, df1=lambda x: 0.0)
    assert descent.walk(flat).stop == "dead"


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs,option,text", [
    (dict(act="relu", target=-0.1), "--target", "[0, inf)"),
    (dict(act="sigmoid", start=1.2), "--start", "(0, 1)"),
    (dict(act="tanh", target=1.0), "--target", "(-1, 1)"),
    (dict(start=math.nan), "--start", "finite"),
    (dict(target=math.inf), "--target", "finite"),
    (dict(lr=0.0), "--lr", "> 0"),
    (dict(lr=math.nan), "--lr", "> 0"),
    (dict(max_steps=0), "--max-steps", "1 to 1,000,000"),
    (dict(max_steps=2.5), "--max-steps", "whole number"),
    (dict(act="nope"), "--act", "choose from"),
    (dict(alpha=0.1), "--alpha", "leaky-relu"),
])
def test_bad_input_names_the_option(kwargs, option, text):
    with pytest.raises(GradsimError) as e:
        descent.steps(**kwargs)
    assert e.value.option == option and text in str(e.value)
