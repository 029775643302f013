"""The up-front cost guard: the estimator against plain counts, refusals in-process and fast, --yes lets a run go."""

from __future__ import annotations

import time

import pytest

from gradsim import cost
from gradsim.ensemble import default_trials

HUGE = [("ensemble", "--width", "2000"), ("ensemble", "--trials", "1000000000"),
        ("train", "--epochs", "10000", "--hidden", "300,300,300"), ("ensemble", "--width", "1000"),
        ("clip", "--depth", "1000000", "-f", "json"), ("vanish", "--depth", "1000000", "-f", "json"),
        ("ensemble", "--width", "4096", "--depth", "10000", "--threads", "256"), ("clip", "--steps", "100000"),
        # the signal statistics (issue 15): wide BatchNorm nets, and a deep narrow net's per-layer Python steps
        ("ensemble", "--width", "2048", "--depth", "100", "--norm", "batch", "--batch", "1024"),
        ("ensemble", "--width", "2", "--depth", "10000", "--forward"),
        ("ensemble", "--width", "1024", "--depth", "50", "--residual", "1", "--trials", "1000")]


@pytest.mark.parametrize("args", HUGE, ids=" ".join)
def test_a_run_of_minutes_is_refused_at_once_with_the_estimate_and_the_way_out(run, args):
    start = time.perf_counter()
    err = run.usage_error(*args, option="--")
    assert time.perf_counter() - start < 1.0  # refused before any work (a generous bound, not a benchmark)
    assert "would take about" in err and "--yes" in err


def test_the_estimate_is_the_plain_count_times_the_unit():
    """Counts by hand: the formula, not the calibration, is what this checks."""
    c = cost.ensemble_cost(depth=50, width=2000, trials=default_trials(50, 2000))
    assert c.seconds == pytest.approx(100 * 50 * 2000**2 * cost.UNIT_SECONDS["weight"])
    c = cost.ensemble_cost(depth=50, width=1, trials=10**9)
    assert c.seconds == pytest.approx(10**9 * 50 * cost.UNIT_SECONDS["chain-layer"])
    weights = 64 * 300 + 300 * 300 + 300 * 300 + 300 * 10
    c = cost.train_cost((300, 300, 300), epochs=10000)
    assert c.seconds == pytest.approx(20001 * 1797 * weights * cost.UNIT_SECONDS["multiply-add"])
    c = cost.layers_cost(10**6, "json")
    assert c.bytes == 10**6 * cost.UNIT_BYTES["json-layer"] and c.too_much
    assert cost.ensemble_cost(10000, 4096, 100, threads=256).bytes == 100 * cost.THREAD_BYTES  # one per trial at most
    c = cost.clip_cost(4, "table", steps=100_000, runs=5)
    per_step = cost.UNIT_SECONDS["clip-step"] + 4 * cost.UNIT_SECONDS["clip-step-layer"]
    assert c.seconds == pytest.approx(4 * cost.UNIT_SECONDS["table-layer"] + 500_000 * per_step) and c.option == "--steps"


@pytest.mark.parametrize("c", [cost.ensemble_cost(50, 1, default_trials(50, 1)), cost.train_cost((30,) * 4, 10),
                               cost.layers_cost(4, "table"), cost.layers_cost(10**5, "json"),
                               cost.ensemble_cost(30, 256, default_trials(30, 256))])
def test_the_defaults_and_the_readme_runs_pass(c):
    assert not c.too_much


def test_the_guard_refuses_only_without_yes():
    big = cost.layers_cost(10**6, "json")
    with pytest.raises(cost.GradsimError, match="--yes") as e:
        cost.check(big, allow=False)
    assert e.value.option == "--depth"
    cost.check(big, allow=True)  # --yes: no error


def test_yes_lets_a_refused_run_go(run, monkeypatch):
    """One cheap run with --yes, the limit lowered so that it counts as expensive."""
    monkeypatch.setattr(cost, "LIMIT_SECONDS", 1e-9)
    run.usage_error("vanish", "--depth", "3", option="--depth")
    result = run("vanish", "--depth", "3", "--yes")
    assert result.exit_code == 0 and "Nielsen's chain" in result.stdout


def test_memory_does_not_grow_with_the_number_of_chunks():
    """Chunks are counted, never listed (--trials 10^9 made a list of 10^9 sizes and seeds): peak memory of 2,000
    chunks is that of 200 (tracemalloc, a plain measure of what Python allocated)."""
    import tracemalloc

    from gradsim.ensemble import ensemble

    def peak(trials: int) -> int:
        tracemalloc.start()
        ensemble(depth=2, trials=trials, chunk=1, threads=1)
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    peak(10)  # imports and caches first
    small, large = peak(200), peak(2000)
    assert large - small < 200_000, (small, large)  # a list of chunk sizes and seeds: ~500 bytes a chunk


def test_the_signal_estimate_is_the_plain_count_times_the_units():
    """trials x depth layer steps, trials x depth x width^2 normals, and batch multiply-adds for each of them."""
    c = cost.signal_cost(depth=100, width=2048, batch=1024, trials=4)
    per_layer = cost.UNIT_SECONDS["signal-layer"] + 2048**2 * (cost.UNIT_SECONDS["weight"]
                                                             + 1024 * cost.UNIT_SECONDS["signal-multiply-add"])
    assert c.seconds == pytest.approx(4 * 100 * per_layer) and c.too_much
    assert c.bytes == 8 * 100 * (2048**2 + 3 * 1024 * 2048 + 4)


def test_the_signal_guard_lets_the_help_examples_and_the_default_go():
    from gradsim.signalprop import default_trials as signal_trials

    for depth, width, batch in [(50, 256, 1), (20, 128, 32), (20, 128, 256), (30, 64, 1)]:
        assert not cost.signal_cost(depth, width, batch, signal_trials(depth, width, batch)).too_much


def _mnist_sized(tmp_path):
    """An mnist-sized file (60,000 + 10,000 images of 28 x 28, 10 classes), a few KB compressed."""
    import numpy as np

    path = tmp_path / "big.npz"
    np.savez_compressed(path, x_train=np.zeros((60000, 28, 28), np.uint8), y_train=np.arange(60000) % 10,
                        x_test=np.zeros((10000, 28, 28), np.uint8), y_test=np.arange(10000) % 10)
    return path


def test_the_train_estimate_counts_a_users_npz_data(tmp_path):
    """A user's file costs by its own size, not the 1,797 x 64 digits'."""
    from gradsim.npzdata import npz_shape

    assert npz_shape(str(_mnist_sized(tmp_path))) == (70000, 784, 10)
    weights = 784 * 30 + 3 * 30 * 30 + 30 * 10
    c = cost.train_cost((30,) * 4, 100, n_examples=70000, features=784, classes=10)
    assert c.seconds == pytest.approx(201 * 70000 * weights * cost.UNIT_SECONDS["multiply-add"]) and c.too_much


def test_train_on_a_big_npz_is_refused_before_it_loads(run, tmp_path):
    err = run.usage_error("train", "--data", str(_mnist_sized(tmp_path)), "--epochs", "100", option="--")
    assert "would take about" in err and "70000 examples" in err
