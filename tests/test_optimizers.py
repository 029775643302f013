"""Optimizers against torch.optim on the same net and data, and the option checks."""

from __future__ import annotations

import numpy as np
import pytest

from gradsim import activations, datasets, optimizers, training
from gradsim.errors import GradsimError


def problem(seed: int = 4, sizes=(5, 6, 6, 4), n: int = 12):
    """A small relu net with Nielsen's init and a batch whose gradients are large enough to clip at 0.5."""
    rng = np.random.default_rng(seed)
    ws, bs = training.init_params(sizes, "nielsen", activations.get("relu"), rng)
    x, labels = rng.normal(0, 5, (n, sizes[0])), rng.integers(0, sizes[-1], n)
    return ws, bs, datasets.Dataset("t", "test", x, labels, x, labels, sizes[-1])


def ours(opt: optimizers.Optimizer, clip_mode: str = "none", threshold: float | None = None, steps: int = 5):
    """`steps` full-batch steps of gradsim's training loop; the parameters after them and the clipped-step count."""
    ws, bs, data = problem()
    state, clipped = optimizers.State(), 0
    for _ in range(steps):
        _, c = training.train_epoch(ws, bs, activations.get("relu"), "cross-entropy", data, opt.lr, data.n_train,
                                    clip_mode, threshold, np.random.default_rng(0), opt, state)
        clipped += c
    return ws + bs, clipped


def theirs(torch, make_optimizer, clip_value: float | None = None, steps: int = 5):
    """The same net written as PyTorch users write it: parameters, loss.backward(), clip_grad_value_, step()."""
    ws, bs, data = problem()
    params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in ws + bs]
    tw, tb = params[:len(ws)], params[len(ws):]
    x, y = torch.tensor(data.x_train, dtype=torch.float64), torch.tensor(data.y_train)
    opt = make_optimizer(params)
    for _ in range(steps):
        opt.zero_grad()
        a = x
        for layer, (w, b) in enumerate(zip(tw, tb)):
            a = a @ w.T + b
            if layer < len(tw) - 1:
                a = torch.relu(a)
        torch.nn.functional.cross_entropy(a, y).backward()
        if clip_value is not None:
            torch.nn.utils.clip_grad_value_(params, clip_value)
        opt.step()
    return [p.detach().numpy() for p in tw + tb]


def assert_same(mine, torchs):
    for a, b in zip(mine, torchs):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name, ours_kwargs, torch_name, torch_kwargs", [
    ("adam", dict(lr=0.01), "Adam", dict(lr=0.01)),
    ("adam", dict(lr=0.05, beta1=0.5, beta2=0.9, eps=1e-3), "Adam", dict(lr=0.05, betas=(0.5, 0.9), eps=1e-3)),
    ("momentum", dict(lr=0.1, momentum=0.9), "SGD", dict(lr=0.1, momentum=0.9)),
    ("sgd", dict(lr=0.1), "SGD", dict(lr=0.1)),
])
def test_five_steps_equal_torch_optim(name, ours_kwargs, torch_name, torch_kwargs):
    """Adam = torch.optim.Adam, momentum = torch.optim.SGD(momentum=0.9), sgd = torch.optim.SGD, to 1e-12."""
    torch = pytest.importorskip("torch")
    mine, _ = ours(optimizers.make(name, **ours_kwargs))
    assert_same(mine, theirs(torch, lambda p: getattr(torch.optim, torch_name)(p, **torch_kwargs)))


def test_adam_with_value_clipping_equals_torch_clip_grad_value_then_step():
    """Hansen's setting (Keras' Adam(clipvalue=0.5)): the gradient is clipped before Adam sees it."""
    torch = pytest.importorskip("torch")
    mine, clipped = ours(optimizers.make("adam", lr=0.01), "value", 0.5)
    assert clipped == 5  # every step had a component beyond 0.5: the test exercises clipping
    assert_same(mine, theirs(torch, lambda p: torch.optim.Adam(p, lr=0.01), clip_value=0.5))
    unclipped, _ = ours(optimizers.make("adam", lr=0.01))
    assert any(not np.allclose(a, b, rtol=0, atol=1e-9) for a, b in zip(mine, unclipped))


def test_adam_by_hand_on_one_scalar():
    """Adam's first step moves every parameter by lr * sign(g) (m/sqrt(v) = g/|g| after bias correction)."""
    p, g = np.array([1.0, -2.0]), np.array([0.3, -4.0])
    opt, state = optimizers.make("adam", lr=0.01), optimizers.State()
    optimizers.step(opt, state, [p], [g])
    np.testing.assert_allclose(p, [1.0 - 0.01 * 0.3 / (0.3 + 1e-8), -2.0 + 0.01 * 4.0 / (4.0 + 1e-8)], rtol=1e-15)


def test_defaults_are_pytorch_s():
    adam = optimizers.make("adam")
    assert (adam.lr, adam.beta1, adam.beta2, adam.eps) == (0.001, 0.9, 0.999, 1e-8)
    assert optimizers.make("momentum").momentum == 0.9 and optimizers.make().lr == 0.1


@pytest.mark.parametrize("kwargs, option", [
    (dict(name="rmsprop"), "--optimizer"), (dict(name="adam", beta1=1.0), "--beta1"),
    (dict(name="adam", beta2=-0.1), "--beta2"), (dict(name="adam", eps=0.0), "--adam-eps"),
    (dict(name="momentum", momentum=1.0), "--momentum"), (dict(name="sgd", momentum=0.5), "--momentum"),
    (dict(name="momentum", beta1=0.5), "--beta1"), (dict(name="adam", lr=float("nan")), "--lr"),
])
def test_bad_values_name_their_option(kwargs, option):
    with pytest.raises(GradsimError) as e:
        optimizers.make(**kwargs)
    assert e.value.option == option
