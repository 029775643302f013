"""Several activations side by side: shared split, mini-batch order, dropout draws and weight draws."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradsim import activations, training

QUICK = dict(data="synthetic", hidden="6,5,4", epochs=2, batch=100)


def recorded_run(monkeypatch, **options):
    """train_many with every training mini-batch (inputs, labels, kept units; with dropout) and the initial weights
    recorded per activation."""
    batches: dict[str, list] = {}
    initial: dict[str, list] = {}
    real_gradients, real_measure = training.gradients, training.measure

    def gradients(ws, bs, act, cost, x, labels, masks=None):
        if masks is not None:  # a training step (the measuring passes run without dropout)
            batches.setdefault(act.name, []).append((x.copy(), labels.copy(), [m.mult != 0 for m in masks]))
        return real_gradients(ws, bs, act, cost, x, labels, masks)

    def measure(ws, bs, act, *args, **kwargs):
        if act.name not in initial:
            initial[act.name] = [w.copy() for w in ws] + [b.copy() for b in bs]
        return real_measure(ws, bs, act, *args, **kwargs)

    monkeypatch.setattr(training, "gradients", gradients)
    monkeypatch.setattr(training, "measure", measure)
    results = training.train_many(**options)
    return results, batches, initial


def test_activations_share_split_batch_order_and_dropout_draws(monkeypatch):
    results, batches, _ = recorded_run(monkeypatch, acts="relu,tanh,selu", dropout=0.2, **QUICK)
    assert [r.activation for r in results] == ["relu", "tanh", "selu"]
    assert [r.dropout_kind for r in results] == ["inverted", "inverted", "alpha"]
    relu = batches["relu"]
    assert len(relu) == 2 * 8  # 800 training examples, batches of 100, two epochs
    for other in ("tanh", "selu"):
        assert len(batches[other]) == len(relu)
        for (x1, y1, k1), (x2, y2, k2) in zip(relu, batches[other]):
            assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
            assert all(np.array_equal(a, b) for a, b in zip(k1, k2))
    assert not np.array_equal(relu[0][1], relu[1][1])  # the order is shuffled, not the same batch twice


def test_initial_weights_are_the_same_draws_scaled_by_each_init(monkeypatch):
    _, _, initial = recorded_run(monkeypatch, acts=["relu", "sigmoid,selu"], **QUICK)
    sizes = (64, 6, 5, 4, 10)
    variance = {"relu": 2.0, "sigmoid": 1.0, "selu": 1.0}  # he, xavier (gradsim's sigma_w^2 = 1), lecun
    draws = {}
    for name, params in initial.items():
        ws, bs = params[:4], params[4:]
        assert all(np.all(b == 0) for b in bs)
        draws[name] = [w / math.sqrt(variance[name] / n_in) for w, n_in in zip(ws, sizes[:-1])]
    for name in ("sigmoid", "selu"):
        for a, b in zip(draws["relu"], draws[name]):
            np.testing.assert_allclose(a, b, rtol=1e-14)
    # and they are standard-normal draws from the init stream, weights and biases in turn (Nielsen's order)
    rng = np.random.default_rng(np.random.SeedSequence(0).spawn(3)[1])
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        np.testing.assert_allclose(draws["relu"][layer], rng.standard_normal((n_out, n_in)), rtol=1e-14)
        rng.standard_normal(n_out)


def test_one_activation_is_exactly_the_single_run():
    many = training.train_many(acts="relu", init="he", clip_mode="value", clip_threshold=0.05, **QUICK)
    single = training.train(act="relu", init="he", clip_mode="value", clip_threshold=0.05, **QUICK)
    assert len(many) == 1
    assert [(e.loss, e.accuracy, e.test_loss, tuple(e.speeds)) for e in many[0].epochs] == \
        [(e.loss, e.accuracy, e.test_loss, tuple(e.speeds)) for e in single.epochs]


def test_nielsen_init_in_a_comparison_is_the_single_runs_init():
    """Nielsen's init draws W^1, b^1, W^2, ... exactly as the shared draws are taken: same start as a lone run."""
    many = training.train_many(acts="relu,tanh", init="nielsen", **QUICK)
    for r in many:
        lone = training.train(act=r.activation, init="nielsen", **QUICK)
        assert [e.loss for e in r.epochs] == [e.loss for e in lone.epochs]


def test_auto_init_picks_the_customary_one():
    many = training.train_many(acts="all", data="synthetic", hidden="4", epochs=1, batch=800)
    inits = {r.activation: r.init for r in many}
    assert [r.activation for r in many] == list(activations.NAMES)
    assert inits["selu"] == "lecun" and inits["relu"] == inits["leaky-relu"] == inits["elu"] == "he"
    assert inits["sigmoid"] == inits["tanh"] == inits["softsign"] == "xavier"
    assert training.train(act="selu", init="auto", **QUICK).init == "lecun"


def test_comparison_rows_follow_the_epochs():
    r = training.train_many(acts="relu,sigmoid", **QUICK)[0]
    c = training.compare(r)
    acc = [e.accuracy for e in r.epochs]
    assert c.best_accuracy == max(acc) and r.epochs[c.best_epoch].accuracy == max(acc)
    assert c.final_accuracy == acc[-1] and c.final_test_loss == r.epochs[-1].test_loss
    assert c.log10_ratio_init == pytest.approx(math.log10(r.epochs[0].speeds[-1] / r.epochs[0].speeds[0]))
    units = np.array([6, 5, 4])
    assert c.dead_fraction == pytest.approx(float(np.sum(r.epochs[-1].dead_fraction * units) / 15))


def test_norm_cdf_is_norm_cdf1_on_every_element_bit_for_bit():
    """The vectorised Phi (used by exact GELU) gives exactly the scalar form, including the extremes."""
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0, 4, 2000), [0.0, -0.0, np.inf, -np.inf, 1e308, -1e308, 5e-324, -40.0, 40.0]])
    assert [float(v) for v in activations.norm_cdf(x)] == [activations.norm_cdf1(float(v)) for v in x]
    assert activations.norm_cdf(np.ones((2, 3))).shape == (2, 3) and activations.norm_cdf(0.5).shape == ()
