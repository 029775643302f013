"""The command-line contract of `gradsim ensemble`: keys, formats, errors, threads, plots."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest

from gradsim import __version__, theory

SMALL = ("--depth", "12", "--trials", "3000")


def test_help_shows_examples(run):
    out = run("ensemble", "--help").stdout
    assert "Example:" in out and "--threads" in out and "--sigma-w2" in out


def test_json_has_the_contract_keys(run):
    d = run.json("ensemble", *SMALL)
    assert d["command"] == "ensemble" and d["gradsim_version"] == __version__
    for key in ("activation", "depth", "width", "trials", "sigma_w", "sigma_b", "chi1", "measured_factor", "layers",
                "verdict", "theory_verdict", "depth_scale", "q_star", "percentile_resolution"):
        assert key in d, key
    assert (d["activation"], d["depth"], d["width"], d["trials"], d["sigma_w"], d["sigma_b"]) == \
        ("sigmoid", 12, 1, 3000, 1.0, 1.0)
    assert [row["layer"] for row in d["layers"]] == list(range(1, 13))
    for row in d["layers"]:
        for key in ("log10_grad_p5", "log10_grad_p50", "log10_grad_p95", "log10_grad_theory"):
            assert isinstance(row[key], float), key
        assert row["log10_grad_p5"] <= row["log10_grad_p50"] <= row["log10_grad_p95"]
    assert d["chi1"] == pytest.approx(theory.chi1s("sigmoid", 1.0, 1.0, 2.0)[0])
    assert d["verdict"] == "vanishing"


def test_a_dead_relu_percentile_is_null_in_json(run):
    d = run.json("ensemble", "--act", "relu", "--depth", "30", "--trials", "2000")
    first = d["layers"][0]
    assert first["log10_grad_p5"] is None and first["zero_fraction"] > 0.05


def test_same_seed_any_threads_gives_identical_json(run):
    outputs = [run("ensemble", "--depth", "20", "--trials", "70000", "--act", "tanh", "--threads", t, "-f", "json")
               for t in ("1", "2", "4")]
    assert all(o.exit_code == 0 for o in outputs)
    assert outputs[0].stdout == outputs[1].stdout == outputs[2].stdout
    wide = [run("ensemble", "--width", "16", "--depth", "6", "--trials", "300", "--threads", t, "-f", "json").stdout
            for t in ("1", "2")]
    assert wide[0] == wide[1]
    assert run("ensemble", *SMALL, "--seed", "1", "-f", "json").stdout != \
        run("ensemble", *SMALL, "--seed", "2", "-f", "json").stdout


def test_csv_is_the_layer_table_header_first(run):
    result = run("ensemble", *SMALL, "-f", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:4] == ["layer", "log10_grad_p5", "log10_grad_p50", "log10_grad_p95"]
    assert len(rows) == 13 and rows[1][0] == "1"
    assert float(rows[-1][2]) == pytest.approx(run.json("ensemble", *SMALL)["layers"][-1]["log10_grad_p50"])


def test_table_tells_the_story_in_100_columns(run):
    result = run("ensemble", "--depth", "100", "--trials", "2000", env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert result.exit_code == 0 and result.stderr == ""  # no progress bar off a terminal
    out = result.stdout
    assert "Random networks" in out and "chi1" in out and "vanishing" in out and "depth scale" in out
    rows = [ln for ln in out.splitlines() if re.fullmatch(r"\s*\d+(\s+\S+){5,6}", ln.rstrip())]
    assert len(rows) == 30 and max(len(ln.rstrip()) for ln in rows) <= 100
    assert "30 of 100 layers" in out and rows[0].split()[0] == "1" and rows[-1].split()[0] == "100"


def test_wide_tanh_near_critical_reports_both_factors(run):
    d = run.json("ensemble", "--width", "64", "--depth", "15", "--act", "tanh", "--sigma-w2", "1.5",
                 "--sigma-b2", "0.05", "--trials", "40")
    assert d["sigma_w2"] == 1.5 and d["sigma_b2"] == 0.05 and d["input"] is None
    assert d["chi1"] == pytest.approx(theory.chi1("tanh", 1.5, 0.05), rel=1e-9)
    assert d["measured_factor"] == pytest.approx(d["chi1"], rel=0.1)
    assert d["depth_scale"] == pytest.approx(-1 / np.log(d["chi1"]))


def test_init_sets_sigma_w(run):
    for init, act, w2 in (("he", "relu", 2.0), ("xavier", "tanh", 1.0), ("orthogonal", "tanh", 25 / 9)):
        d = run.json("ensemble", "--width", "8", "--depth", "4", "--trials", "100", "--init", init, "--act", act)
        assert d["sigma_w2"] == pytest.approx(w2) and d["init"] == init


def test_plot_writes_a_figure_and_still_prints(run, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "band.png"
    result = run("ensemble", *SMALL, "--plot", str(path))
    assert result.exit_code == 0 and "Random networks" in result.stdout
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, option", [
    (("--depth", "0"), "--depth"), (("--width", "0"), "--width"), (("--trials", "0"), "--trials"),
    (("--threads", "0"), "--threads"), (("--act", "nope"), "--act"), (("--init", "glorot"), "--init"),
    (("--sigma-w", "-1"), "--sigma-w"), (("--sigma-b2", "nan"), "--sigma-b2"),
    (("--sigma-w", "1", "--sigma-w2", "1"), "--sigma-w"), (("--width", "2", "--input", "1"), "--input"),
    (("--input", "inf"), "--input"), (("--target", "2"), "--target"), (("--seed", "-1"), "--seed"),
    (("--alpha", "0.1"), "--alpha"), (("--plot", "x.gif"), "--plot"), (("-f", "xml"), "--format"),
])
def test_bad_input_is_a_usage_error(run, tmp_path, args, option):
    run.usage_error("ensemble", "--trials", "10", *args, option=option)
    assert not (tmp_path / "x.gif").exists()
