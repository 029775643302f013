"""Dropout and AlphaDropout: statistics, the constants against torch, the masked gradient, evaluation without it."""

from __future__ import annotations

import numpy as np
import pytest

from gradsim import activations, datasets, dropout, training
from gradsim.errors import GradsimError


@pytest.mark.parametrize("p", [0.05, 0.1, 0.2])
def test_alpha_dropout_keeps_selu_at_mean_0_variance_1(p):
    """z ~ N(0,1) -> selu -> AlphaDropout: mean 0, variance 1 within sampling error (n = 1e6).

    Standard errors: mean sqrt(1/n) = 1e-3, variance sqrt((m4 - 1)/n) < 3e-3 here; we allow 5 of them.
    """
    rng = np.random.default_rng(11)
    a = activations.get("selu").f(rng.standard_normal(1_000_000))
    out = dropout.apply(a, p, "alpha", rng)
    assert abs(out.mean()) < 5e-3
    assert abs(out.var() - 1.0) < 1.5e-2
    # plain inverted dropout does not: its variance grows to about 1 / (1 - p)
    plain = dropout.apply(a, p, "inverted", rng)
    assert abs(plain.mean()) < 5e-3 and plain.var() > 1.0 + 0.5 * p


@pytest.mark.parametrize("p", [0.05, 0.2, 0.5])
def test_alpha_dropout_constants_equal_torch(p):
    """torch.nn.functional.alpha_dropout on ones: kept units give A + B, dropped ones A alpha' + B."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    out = torch.nn.functional.alpha_dropout(torch.ones(10_000, dtype=torch.float64), p, training=True).numpy()
    values = np.unique(np.round(out, 12))
    a, b = dropout.alpha_affine(p)
    np.testing.assert_allclose(sorted(values), sorted([a + b, a * dropout.ALPHA_PRIME + b]), rtol=1e-12)


def test_inverted_dropout_scales_the_kept_units():
    rng = np.random.default_rng(0)
    out = dropout.apply(np.ones(100_000), 0.25, "inverted", rng)
    assert set(np.unique(out)) == {0.0, 1 / 0.75}
    assert abs(np.mean(out == 0) - 0.25) < 5 * np.sqrt(0.25 * 0.75 / 1e5)


def test_backprop_through_dropout_masks_equals_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    sizes = (4, 5, 5, 3)
    for name, how in (("tanh", "inverted"), ("selu", "alpha")):
        act = activations.get(name)
        ws, bs = training.init_params(sizes, "nielsen", act, rng)
        x, labels = rng.normal(0, 1, (7, 4)), rng.integers(0, 3, 7)
        masks = [dropout.draw((7, n), 0.3, how, rng) for n in sizes[1:-1]]
        g = training.gradients(ws, bs, act, "cross-entropy", x, labels, masks)
        tw = [torch.tensor(w, requires_grad=True) for w in ws]
        tb = [torch.tensor(b, requires_grad=True) for b in bs]
        a = torch.tensor(x)
        f = torch.tanh if name == "tanh" else torch.selu
        for layer, (w, b) in enumerate(zip(tw, tb)):
            a = a @ w.T + b
            if layer < len(tw) - 1:
                a = f(a) * torch.tensor(masks[layer].mult) + torch.as_tensor(masks[layer].offset)
        loss = torch.nn.functional.cross_entropy(a, torch.tensor(labels))
        loss.backward()
        assert g.loss == pytest.approx(loss.item(), rel=1e-12)
        for mine, t in zip(g.grads_w + g.grads_b, tw + tb):
            np.testing.assert_allclose(mine, t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_dropout_is_off_at_evaluation():
    """The reported accuracy and loss are those of the whole net: recomputing them without masks gives the same."""
    r = training.train(act="relu", init="he", data="synthetic", hidden="20,20", epochs=2, dropout=0.5)
    assert r.dropout_kind == "inverted"
    rng = np.random.default_rng(np.random.SeedSequence(0).spawn(3)[0])
    data = datasets.load("synthetic", rng)
    acc, loss = training.accuracy(list(r.weights), list(r.biases), activations.get("relu"), "cross-entropy",
                                  data.x_test, data.y_test)
    assert (acc, loss) == (r.epochs[-1].accuracy, r.epochs[-1].test_loss)
    # and dropout did act in training: the same run without it ends elsewhere
    plain = training.train(act="relu", init="he", data="synthetic", hidden="20,20", epochs=2)
    assert plain.epochs[-1].loss != r.epochs[-1].loss and plain.epochs[0].loss == r.epochs[0].loss


def test_dropout_zero_is_the_run_without_dropout():
    a = training.train(act="tanh", data="synthetic", hidden="8", epochs=1, dropout=0.0)
    b = training.train(act="tanh", data="synthetic", hidden="8", epochs=1)
    assert [e.loss for e in a.epochs] == [e.loss for e in b.epochs] and a.dropout_kind == "none"


@pytest.mark.parametrize("p", [-0.1, 1.0, float("nan"), 2.0])
def test_bad_rate_names_dropout(p):
    with pytest.raises(GradsimError) as e:
        dropout.check_rate(p)
    assert e.value.option == "--dropout"
