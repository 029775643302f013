"""`gradsim train` through the command line: table, JSON, CSV, plot, progress bar and every error case."""

from __future__ import annotations

import csv
import io
import sys

import numpy as np
import pytest

from gradsim import datasets
from gradsim.commands import train as train_command
from gradsim.options import progress as progress_bar

QUICK = ("train", "--data", "synthetic", "--epochs", "2")


def test_help_has_an_example(run):
    out = run("train", "--help").stdout
    assert "Example:" in out and "--clip-mode" in out and "digits" in out


def test_table_tells_the_story_and_fits_100_columns(run):
    result = run(*QUICK, env={"NO_COLOR": "1", "COLUMNS": "100"})
    assert result.exit_code == 0 and result.stderr == ""  # no progress bar: stderr is not a terminal
    out = result.stdout
    assert "data: synthetic" in out and "speed of hidden layer" in out and "at initialisation" in out
    assert "faster than layer 1" in out
    rows = [ln for ln in out.splitlines() if ln.strip()[:1].isdigit() or ln.startswith("epoch")]
    assert len(rows) == 1 + 3 and max(len(ln.rstrip()) for ln in rows) <= 100


def test_json_has_the_contract_keys(run):
    d = run.json(*QUICK, "--hidden", "8,6,4")
    for key in ("activation", "hidden", "data", "epochs", "init", "cost", "lr", "batch", "seed", "n_train"):
        assert key in d
    assert d["command"] == "train" and d["activation"] == "sigmoid" and d["hidden"] == [8, 6, 4]
    assert d["data"] == "synthetic" and d["n_train"] == 800
    assert [e["epoch"] for e in d["epochs"]] == [0, 1, 2]
    for e in d["epochs"]:
        for key in ("epoch", "loss", "accuracy", "speeds", "dead_fraction"):
            assert key in e
        assert len(e["speeds"]) == 3 and e["dead_fraction"] is None
        assert e["ratio"] == pytest.approx(e["speeds"][-1] / e["speeds"][0])


def test_relu_reports_dead_units_per_layer(run):
    d = run.json(*QUICK, "--act", "relu", "--init", "he")
    dead = [e["dead_fraction"] for e in d["epochs"]]
    assert all(len(x) == 4 and all(0 <= f <= 1 for f in x) for x in dead)
    assert "dead units" in run(*QUICK, "--act", "relu").stdout


@pytest.mark.skipif(not datasets.digits_available(), reason="scikit-learn is not installed")
def test_digits_are_used_and_named(run):
    d = run.json("train", "--data", "digits", "--epochs", "1")
    assert d["data"] == "digits" and d["n_train"] + d["n_test"] == 1797 and "8x8" in d["data_description"]
    assert run.json("train", "--epochs", "1")["data"] == "digits"  # auto: digits when installed


def test_missing_scikit_learn_digits_is_a_usage_error_and_auto_says_so(run, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # find_spec then reports the package as absent
    err = run.usage_error("train", "--data", "digits", option="--data")
    assert "pip install 'gradsim[digits]'" in err.replace("\n", " ").replace("│", " ").replace("  ", " ") or \
        "gradsim[digits]" in err
    d = run.json("train", "--epochs", "1")
    assert d["data"] == "synthetic" and "gradsim[digits]" in d["data_description"]


def test_csv_is_rectangular_with_every_epoch(run):
    result = run(*QUICK, "--act", "relu", "--clip-mode", "value", "--clip-threshold", "0.01", "-f", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:4] == ["epoch", "loss", "test_loss", "accuracy"]
    assert "speed_4" in rows[0] and "dead_4" in rows[0] and len(rows) == 1 + 3
    assert all(len(r) == len(rows[0]) for r in rows)


def test_same_seed_same_bytes_other_seed_other_bytes(run):
    a = run(*QUICK, "--seed", "3", "-f", "json").stdout
    assert a == run(*QUICK, "--seed", "3", "-f", "json").stdout
    assert a != run(*QUICK, "--seed", "4", "-f", "json").stdout


def test_clip_mode_in_the_loop(run):
    d = run.json(*QUICK, "--act", "relu", "--init", "he", "--clip-mode", "global-norm", "--clip-threshold", "1e-4")
    assert d["clip_mode"] == "global-norm" and d["clip_threshold"] == 1e-4
    assert all(e["clipped_steps"] == e["steps"] == 80 for e in d["epochs"][1:])
    plain = run.json(*QUICK, "--act", "relu", "--init", "he")
    assert plain["clip_mode"] == "none" and all(e["clipped_steps"] == 0 for e in plain["epochs"])
    assert d["epochs"][-1]["loss"] > plain["epochs"][-1]["loss"]
    assert "changed the gradient in 160 of 160 steps" in run(*QUICK, "--clip-mode", "value", "--clip-threshold",
                                                              "1e-9").stdout


def test_divergence_is_a_result_with_strict_json(run):
    d = run.json(*QUICK, "--act", "relu", "--init", "he", "--lr", "1e300")
    assert d["diverged_at"] is not None
    assert "diverged" in run(*QUICK, "--act", "relu", "--init", "he", "--lr", "1e300").stdout


def test_long_runs_show_a_selection_of_epochs_in_the_table(run):
    out = run("train", "--data", "synthetic", "--epochs", "30", "--hidden", "4,4,4,4,4,4,4,4").stdout
    rows = [ln.split()[0] for ln in out.splitlines() if ln.strip()[:1].isdigit()]
    assert rows[0] == "0" and rows[-1] == "30" and len(rows) == train_command.ROWS
    header = next(ln for ln in out.splitlines() if ln.startswith("epoch"))
    assert "speed 1" in header and "speed 8" in header and "speed 4" not in header


def test_plot_writes_a_figure_and_still_prints_the_table(run, tmp_path):
    path = tmp_path / "speeds.png"
    result = run(*QUICK, "--plot", str(path))
    assert result.exit_code == 0 and "epoch" in result.stdout
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_progress_bar_only_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with progress_bar("training", after=0) as progress:
        progress(1, 2)
        progress(2, 2)
    assert "training" in screen.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with progress_bar("training", after=0) as progress:
        assert progress is None


@pytest.mark.parametrize("args, option", [
    (("--act", "nope"), "--act"),
    (("--act", "softmax"), "--act"),
    (("--act", ""), "--act"),
    (("--init", ""), "--init"),
    (("--data", " "), "--data"),
    (("--init", "kaiming"), "--init"),
    (("--cost", "hinge"), "--cost"),
    (("--data", "mnist"), "--data"),
    (("--hidden", "30,,30"), "--hidden"),
    (("--hidden", "abc"), "--hidden"),
    (("--hidden", ""), "--hidden"),
    (("--hidden", "0"), "--hidden"),
    (("--hidden", "30,0,30"), "--hidden"),
    (("--hidden", "-3"), "--hidden"),
    (("--hidden", "2.5"), "--hidden"),
    (("--hidden", "100000"), "--hidden"),
    (("--hidden", "4096,4096,4096"), "--hidden"),
    (("--lr", "0"), "--lr"),
    (("--lr", "-0.1"), "--lr"),
    (("--lr", "nan"), "--lr"),
    (("--lr", "inf"), "--lr"),
    (("--epochs", "0"), "--epochs"),
    (("--epochs", "-2"), "--epochs"),
    (("--epochs", "1000000000"), "--epochs"),
    (("--batch", "0"), "--batch"),
    (("--batch", "-1"), "--batch"),
    (("--clip-mode", "sometimes", "--clip-threshold", "1"), "--clip-mode"),
    (("--clip-mode", "norm"), "--clip-threshold"),
    (("--clip-threshold", "1"), "--clip-threshold"),
    (("--clip-mode", "norm", "--clip-threshold", "0"), "--clip-threshold"),
    (("--clip-mode", "norm", "--clip-threshold", "-1"), "--clip-threshold"),
    (("--clip-mode", "norm", "--clip-threshold", "nan"), "--clip-threshold"),
    (("--seed", "-1"), "--seed"),
    (("--alpha", "0.1"), "--alpha"),
    (("--act", "leaky-relu", "--alpha", "-1"), "--alpha"),
])
def test_bad_input_is_a_usage_error_naming_the_option(run, args, option, tmp_path):
    path = tmp_path / "never.png"
    run.usage_error("train", "--data", "synthetic", *args, "--plot", str(path), option=option)
    assert not path.exists()


def test_batch_larger_than_the_training_set_is_the_full_batch(run):
    d = run.json(*QUICK, "--batch", "100000")
    assert d["batch"] == 800 and all(e["steps"] == 1 for e in d["epochs"][1:])
    assert np.isfinite(d["epochs"][-1]["loss"])


# ---------------------------------------------------------------- several activations (Hansen's comparison)
def test_several_activations_give_runs_and_comparison(run):
    d = run.json(*QUICK, "--act", "relu,tanh", "--act", "selu")
    assert d["command"] == "train" and d["activations"] == ["relu", "tanh", "selu"]
    assert [r["activation"] for r in d["runs"]] == ["relu", "tanh", "selu"]
    assert [c["activation"] for c in d["comparison"]] == ["relu", "tanh", "selu"]
    assert [c["init"] for c in d["comparison"]] == ["he", "xavier", "lecun"]  # --init auto
    for run_data, c in zip(d["runs"], d["comparison"]):
        acc = [e["accuracy"] for e in run_data["epochs"]]
        assert c["final_accuracy"] == acc[-1] and c["best_accuracy"] == max(acc)
        assert run_data["epochs"][c["best_epoch"]]["accuracy"] == max(acc)
        assert c["final_test_loss"] == run_data["epochs"][-1]["test_loss"]
        assert run_data["optimizer"]["name"] == "sgd"
        for e in run_data["epochs"]:
            assert len(e["saturated_fraction"]) == 4
            assert (e["update_ratio_log10"] is None) == (e["epoch"] == 0)


def test_single_activation_json_is_the_single_run_object(run):
    one = run.json(*QUICK, "--act", "relu")
    assert "runs" not in one and one["activation"] == "relu" and one["optimizer"] == {"name": "sgd", "lr": 0.1}
    two = run.json(*QUICK, "--act", "relu,tanh", "--init", "nielsen")
    assert two["runs"][0] == {k: v for k, v in one.items() if k not in ("command", "gradsim_version")}  # with Nielsen's init a comparison's relu run is the lone run


def test_comparison_table_and_long_csv(run):
    result = run(*QUICK, "--act", "relu,sigmoid", env={"NO_COLOR": "1", "COLUMNS": "100"})
    assert result.exit_code == 0
    assert "Activation comparison" in result.stdout and "held-out accuracy % by epoch" in result.stdout
    assert max(len(ln.rstrip()) for ln in result.stdout.splitlines()) <= 100
    rows = list(csv.reader(io.StringIO(run(*QUICK, "--act", "relu,sigmoid", "-f", "csv").stdout)))
    assert rows[0][:3] == ["activation", "init", "epoch"] and len(rows) == 1 + 2 * 3
    assert [r[0] for r in rows[1:]] == ["relu"] * 3 + ["sigmoid"] * 3
    assert all(len(r) == len(rows[0]) for r in rows)


def test_comparison_plot(run, tmp_path):
    path = tmp_path / "compare.png"
    assert run(*QUICK, "--act", "relu,tanh", "--plot", str(path)).exit_code == 0
    assert path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, option", [
    (("--dropout", "1"), "--dropout"), (("--dropout", "-0.1"), "--dropout"), (("--dropout", "nan"), "--dropout"),
    (("--optimizer", "rmsprop"), "--optimizer"), (("--beta1", "0.5"), "--beta1"),
    (("--optimizer", "adam", "--beta2", "1"), "--beta2"), (("--optimizer", "adam", "--adam-eps", "0"), "--adam-eps"),
    (("--optimizer", "momentum", "--momentum", "-0.5"), "--momentum"), (("--momentum", "0.5"), "--momentum"),
    (("--act", "relu,nope"), "--act"), (("--act", "relu", "--act", "softmax"), "--act"),
    (("--act", "relu,tanh", "--alpha", "0.1"), "--alpha"), (("--init", "automatic"), "--init"),
])
def test_comparison_options_refuse_bad_values(run, args, option, tmp_path):
    path = tmp_path / "never.png"
    run.usage_error("train", "--data", "synthetic", "--epochs", "1", *args, "--plot", str(path), option=option)
    assert not path.exists()


def test_adam_momentum_and_dropout_reach_the_run(run):
    d = run.json(*QUICK, "--act", "selu", "--optimizer", "adam", "--dropout", "0.1")
    assert d["optimizer"] == {"name": "adam", "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    assert d["dropout"] == 0.1 and d["dropout_kind"] == "alpha"
    m = run.json(*QUICK, "--optimizer", "momentum", "--momentum", "0.5", "--lr", "0.01")
    assert m["optimizer"] == {"name": "momentum", "lr": 0.01, "momentum": 0.5} and m["lr"] == 0.01
    assert d["epochs"][-1]["loss"] != run.json(*QUICK, "--act", "selu")["epochs"][-1]["loss"]
