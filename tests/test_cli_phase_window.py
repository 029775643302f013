"""`gradsim phase` and `gradsim window` through the CLI: JSON keys, known points, CSV, plots, bad input."""

from __future__ import annotations

import csv
import io
import math

import pytest

SMALL = ("--grid", "5")  # keeps the chi1 grid cheap; the critical table does not depend on it


def test_phase_relu_is_critical_at_two_everywhere(run):
    d = run.json("phase", "--act", "relu", *SMALL)
    assert d["command"] == "phase" and d["activation"] == "relu"
    assert [c["sigma_b2"] for c in d["critical"]] == [0.0, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0]
    for point in d["critical"]:
        assert set(point) >= {"sigma_b2", "sigma_w2"}
        assert point["sigma_w2"] == pytest.approx(2.0, rel=1e-12)
    for point in d["critical_line"]:
        assert point["sigma_w2"] == pytest.approx(2.0, rel=1e-12)
    he = next(p for p in d["inits"] if p["init"] == "he")
    assert he["sigma_w2"] == 2.0 and he["chi1"] == pytest.approx(1.0) and he["regime"] == "critical"
    assert he["depth_scale"] is None  # inf in strict JSON


def test_phase_tanh_known_point_and_grid(run):
    d = run.json("phase", *SMALL, "--sigma-b2", "0,0.3")
    assert d["activation"] == "tanh"
    zero, other = d["critical"]
    assert zero["sigma_b2"] == 0 and zero["sigma_w2"] == pytest.approx(1.0, abs=1e-6)
    assert other["sigma_w2"] > 1.5
    grid = d["grid"]
    assert len(grid["sigma_w2"]) == 5 and len(grid["sigma_b2"]) == 5
    assert len(grid["chi1"]) == 5 and all(len(row) == 5 for row in grid["chi1"])
    assert grid["sigma_b2"][-1] == 0.3  # the axis reaches the largest table value
    # tanh at sigma_b2 = 0 and sigma_w2 <= 1: chi1 = sigma_w2
    for w2, c in zip(grid["sigma_w2"], grid["chi1"][0]):
        if w2 <= 1:
            assert c == pytest.approx(w2, rel=1e-12)


def test_phase_table_and_csv(run):
    table = run("phase", "--act", "relu", *SMALL)
    assert table.exit_code == 0
    assert "critical sigma_w^2" in table.stdout and "he" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()[1:]) <= 130
    out = run("phase", "--act", "relu", *SMALL, "-f", "csv").stdout
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["sigma_b2", "sigma_w2", "sigma_w", "q_star"]
    assert len(rows) == 8 and float(rows[1][1]) == pytest.approx(2.0)


def test_phase_plot(run, tmp_path):
    path = tmp_path / "phase.png"
    result = run("phase", *SMALL, "--plot", str(path))
    assert result.exit_code == 0 and path.stat().st_size > 1000


@pytest.mark.parametrize("args,option", [
    (("phase", "--act", "nope"), "--act"),
    (("phase", "--sigma-b2", "-0.1"), "--sigma-b2"),
    (("phase", "--sigma-b2", "0,x"), "--sigma-b2"),
    (("phase", "--sigma-b2", "nan"), "--sigma-b2"),
    (("phase", "--grid", "1"), "--grid"),
    (("phase", "--sigma-w2-max", "0"), "--sigma-w2-max"),
    (("phase", "--sigma-b2-max", "inf"), "--sigma-b2-max"),
    (("phase", "--alpha", "0.1"), "--alpha"),
    (("phase", "--plot", "x.txt"), "--plot"),
    (("window", "--abs-w", "0"), "--abs-w"),
    (("window", "--abs-w", "5,x"), "--abs-w"),
    (("window", "--abs-w", "inf"), "--abs-w"),
    (("window", "--act", "softmax"), "--act"),
    (("window", "--plot", "missing-folder/w.png"), "--plot"),
])
def test_bad_input(run, args, option):
    run.usage_error(*args, option=option)


def test_window_sigmoid_maximum(run):
    d = run.json("window")
    assert d["command"] == "window" and d["activation"] == "sigmoid"
    assert round(d["max_width"], 4) == 0.4477 and round(d["at_abs_w"], 2) == 6.89
    assert round(d["max_width_numerical"], 4) == 0.4477
    first = d["rows"][0]
    assert set(first) >= {"abs_w", "width"} and first["abs_w"] == pytest.approx(4.0) and first["width"] == 0.0
    for row in d["rows"]:
        # at |w| = 4 the window is one point (a tangency): float64 finds its edges only to ~1e-8
        tol = 1e-7 if row["abs_w"] == 4 else 1e-15
        assert row["width"] == pytest.approx(row["width_numerical"], rel=1e-12, abs=tol)
        w = row["abs_w"]
        # the table agrees with the closed form written here
        expected = 2 / w * math.log(w * (1 + math.sqrt(1 - 4 / w)) / 2 - 1) if w > 4 else 0.0
        assert row["width"] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_window_table_shows_the_maximum(run):
    out = run("window").stdout
    assert "0.4477 at |w| = 6.89" in out
    assert "closed form" in out and "numerical" in out


def test_window_other_activations(run):
    d = run.json("window", "--act", "tanh", "--abs-w", "2,4")
    assert [r["abs_w"] for r in d["rows"]] == [2.0, 4.0]
    assert d["rows"][0]["width"] == pytest.approx(2 * math.acosh(math.sqrt(2)) / 2, rel=1e-12)
    assert d["closed_form"] is None and d["max_width"] > 0.8
    d = run.json("window", "--act", "relu", "--abs-w", "2")
    assert d["max_width"] is None and d["rows"][0]["width"] is None and d["rows"][0]["unbounded"] is True


def test_window_csv_and_plot(run, tmp_path):
    rows = list(csv.reader(io.StringIO(run("window", "--abs-w", "5,7", "-f", "csv").stdout)))
    assert rows[0][:2] == ["abs_w", "width"] and len(rows) == 3
    path = tmp_path / "window.svg"
    assert run("window", "--plot", str(path)).exit_code == 0 and path.stat().st_size > 1000


@pytest.mark.parametrize("command", ["phase", "window"])
def test_help_has_an_example(run, command):
    result = run(command, "--help")
    assert result.exit_code == 0 and "Example: gradsim " + command in result.stdout
