"""The command-line contract of `gradsim clip`: tables, JSON, CSV, stderr notes, plots and every error."""

from __future__ import annotations

import csv
import io
import math

import pytest

from gradsim import __version__
from gradsim.clipping import MODES


def test_help_documents_every_formula_and_has_examples(run):
    out = run("clip", "--help", env={"NO_COLOR": "1", "COLUMNS": "200"}).stdout
    assert "Example: gradsim clip" in out
    for formula in ("clamp(g_i, -t, t)", "min(1, t / (||g||_2 + eps))", "sqrt(sum_k ||g_k||^2)",
                    "lam max(||W_i||, 1e-3)", "b1 <- b1 - lr dC/db1"):
        assert formula in out, formula
    assert "clip" in run("--help").stdout


def test_default_run_shows_value_and_norm_side_by_side_and_the_seeds_update(run):
    result = run("clip")
    assert result.exit_code == 0 and result.stderr == ""
    out = result.stdout
    header = next(ln for ln in out.splitlines() if ln.startswith("component"))
    assert header.split()[:4] == ["component", "gradient", "value", "norm"]
    assert "dC/dw1" in out and "dC/db4" in out and "cosine" in out
    assert "-975.0025" in out and "1.31" in out and "1.5522" in out  # b1 = 1.56, lr 0.5
    assert "direction is kept" in out and "direction turns" in out


def test_default_tables_fit_100_columns(run):
    out = run("clip", env={"NO_COLOR": "1", "COLUMNS": "100"}).stdout
    table_lines = [ln for ln in out.splitlines() if ln.startswith(("component", "dC/", "mode", "value ", "norm "))]
    assert table_lines and max(len(ln.rstrip()) for ln in table_lines) <= 100


def test_json_has_the_contract_keys(run):
    d = run.json("clip")
    assert d["command"] == "clip" and d["gradsim_version"] == __version__
    assert d["threshold"] == 0.5 and len(d["input"]) == 8
    assert [m["mode"] for m in d["results"]] == list(MODES)
    for m in d["results"]:
        for key in ("mode", "clipped", "norm_before", "norm_after", "cosine"):
            assert key in m
        assert len(m["clipped"]) == 8
    assert d["input"][1] == 1953.125  # dC/db1 = 0.25 x 25^3 x 0.5
    steps = {s["mode"]: s for s in d["update"]["steps"]}
    assert steps["none"]["new_param"] == pytest.approx(1.56 - 0.5 * 1953.125)


def test_the_3_4_example(run):
    d = run.json("clip", "--grad", "3,4", "-t", "0.5")
    by = {m["mode"]: m for m in d["results"]}
    assert d["input"] == [3.0, 4.0]
    assert by["value"]["clipped"] == [0.5, 0.5]
    assert by["norm"]["clipped"] == pytest.approx([0.3, 0.4], rel=1e-6)
    assert by["norm"]["norm_before"] == 5.0 and by["norm"]["cosine"] == pytest.approx(1.0)
    assert by["value"]["cosine"] == pytest.approx((3 * 0.5 + 4 * 0.5) / (5 * math.sqrt(0.5)))
    assert "adaptive" not in by and d["skipped"] == ["adaptive"]
    d = run.json("clip", "--grad", "3,4", "--eps", "0", "--mode", "norm")
    assert d["results"][0]["clipped"] == pytest.approx([0.3, 0.4], rel=1e-15)


def test_the_seeds_vanishing_step_from_0_2_to_0_199999978(run):
    """Hansen, "Activation Functions Explained": a weight of 0.2, lr 0.5, a vanishing gradient (4.4e-8): the new weight is 0.199999978."""
    d = run.json("clip", "--grad", "4.4e-8", "--param", "0.2", "--lr", "0.5")
    assert d["update"]["component"] == "g[1]"
    for step in d["update"]["steps"]:  # no mode clips so small a gradient
        assert step["new_param"] == 0.2 - 0.5 * 4.4e-8 and step["grad"] == 4.4e-8
    table = run("clip", "--grad", "4.4e-8", "--param", "0.2", "--lr", "0.5").stdout
    assert "0.199999978" in table and "nothing changes" in table
    assert "update" not in run.json("clip", "--grad", "4.4e-8")  # no --param, no update for a given gradient


def test_a_negative_first_component_is_read_as_a_value(run):
    d = run.json("clip", "--grad", "-3,4", "--mode", "value")
    assert d["results"][0]["clipped"] == [-0.5, 0.5]


def test_several_tensors_global_norm_beside_per_tensor_norm(run):
    d = run.json("clip", "--grad", "3,4", "--grad", "1,0", "--weights", "1,1", "--weights", "2,2")
    by = {m["mode"]: m for m in d["results"]}
    total = math.sqrt(26)
    factor = 0.5 / (total + 1e-6)
    assert by["global-norm"]["clipped"] == pytest.approx([3 * factor, 4 * factor, factor, 0.0], rel=1e-14)
    assert by["global-norm"]["per_tensor"] == pytest.approx([0.3, 0.4, 0.5, 0.0], rel=1e-6)
    assert by["global-norm"]["clipped"] == by["norm"]["clipped"]
    # adaptive: tensor 1 is one unit, |G| = 5 > 0.01 x sqrt(2); tensor 2: |G| = 1 > 0.01 x sqrt(8)
    a1, a2 = 0.01 * math.sqrt(2) / 5, 0.01 * math.sqrt(8) / 1
    assert by["adaptive"]["clipped"] == pytest.approx([3 * a1, 4 * a1, a2, 0.0], rel=1e-14)
    out = run("clip", "--grad", "3,4", "--grad", "1,0", "--mode", "global-norm").stdout
    assert "per-tensor" in out and "per-layer" not in out


def test_rows_are_units_for_adaptive(run):
    d = run.json("clip", "--grad", "3,4;0.1,0", "--weights", "10,0;1,0", "--mode", "adaptive", "--lam", "0.1")
    assert d["results"][0]["clipped"] == pytest.approx([0.6, 0.8, 0.1, 0.0], rel=1e-14)


def test_csv_is_the_component_table(run):
    rows = list(csv.reader(io.StringIO(run("clip", "-f", "csv").stdout)))
    assert rows[0][:3] == ["component", "input", "log10_abs_input"]
    assert rows[0][3:] == ["value", "norm", "global-norm", "per-tensor", "adaptive"]
    assert len(rows) == 9 and rows[2][0] == "dC/db1" and float(rows[2][1]) == 1953.125
    assert float(rows[2][3]) == 0.5


def test_beyond_float64_the_output_says_so_and_the_clipped_vector_is_finite(run):
    out = run("clip", "--depth", "300").stdout
    assert "beyond float64" in out and "finite" in out and "nan" in out and "e+417" in out
    d = run.json("clip", "--depth", "300", "--mode", "norm")
    assert d["beyond_float64"] is True
    assert d["input"][0] is None and d["log10_abs_input"][0] == pytest.approx(417.08, abs=0.01)
    norm = d["results"][0]
    assert all(v is not None for v in norm["clipped"]) and norm["norm_after"] == pytest.approx(0.5)
    assert norm["norm_before"] is None and norm["log10_norm_before"] == pytest.approx(417.23, abs=0.01)
    assert norm["naive_float64"][0] is None  # naive float64: nan


def test_non_finite_grad_follows_pytorch_with_a_note_on_stderr(run):
    result = run("clip", "--grad", "1,inf")
    assert result.exit_code == 0 and "Warning" not in result.stdout
    assert "Warning" in result.stderr and "PyTorch" in result.stderr and "inf" in result.stderr
    d = run.json("clip", "--grad", "1,inf")  # strict JSON: nan is null
    by = {m["mode"]: m for m in d["results"]}
    assert by["value"]["clipped"] == [0.5, 0.5]
    assert by["norm"]["clipped"] == [0.0, None]  # inf * 0 = nan, as torch
    result = run("clip", "--grad", "nan,1", "--mode", "norm")
    assert result.exit_code == 0 and "nan" in result.stderr


def test_error_if_nonfinite_is_a_usage_error(run):
    err = run.usage_error("clip", "--grad", "1,inf", "--error-if-nonfinite", option="--grad")
    assert "error-if-nonfinite" in err
    run.usage_error("clip", "--grad", "nan", "--error-if-nonfinite", option="--grad")


@pytest.mark.parametrize("args, option", [
    (["--threshold", "0"], "--threshold"),
    (["--threshold", "-0.5"], "--threshold"),
    (["-t", "nan"], "--threshold"),
    (["-t", "inf"], "--threshold"),
    (["-t", "abc"], "--threshold"),
    (["--eps", "-1"], "--eps"),
    (["--eps", "nan"], "--eps"),
    (["--lam", "0"], "--lam"),
    (["--mode", "bogus"], "--mode"),
    (["--grad", ""], "--grad"),
    (["--grad", "3,x"], "--grad"),
    (["--grad", "1,2;3"], "--grad"),
    (["--grad", "3,4", "--weights", "1,1", "--weights", "1,1"], "--weights"),
    (["--grad", "3,4", "--weights", "1,1,1"], "--weights"),
    (["--grad", "3,4", "--weights", "1,nan"], "--weights"),
    (["--weights", "1,1"], "--weights"),
    (["--grad", "3,4", "--mode", "adaptive"], "--weights"),
    (["--grad", "3,4", "--depth", "5"], "--depth"),
    (["--grad", "3,4", "--act", "tanh"], "--act"),
    (["--grad", "3,4", "--preset", "nielsen-vanish"], "--preset"),
    (["--grad", "3,4", "--steps", "5"], "--steps"),
    (["--depth", "0"], "--depth"),
    (["--act", "bogus"], "--act"),
    (["--preset", "bogus"], "--preset"),
    (["--param", "nan"], "--param"),
    (["--lr", "0"], "--lr"),
    (["--steps", "0"], "--steps"),
    (["--steps", "5", "--train-target", "2"], "--train-target"),
    (["--steps", "5", "--train-lr", "-1"], "--train-lr"),
    (["--format", "xml"], "--format"),
    (["--plot", "out.txt"], "--plot"),
    (["--plot", "/no/such/folder/x.png"], "--plot"),
])
def test_every_bad_input_is_a_usage_error(run, tmp_path, args, option):
    run.usage_error("clip", *args, option=option)
    assert list(tmp_path.iterdir()) == []


def test_no_plot_is_written_on_a_usage_error(run, tmp_path):
    target = tmp_path / "x.png"
    run.usage_error("clip", "-t", "0", "--plot", str(target), option="--threshold")
    assert not target.exists()


def test_another_chain(run):
    d = run.json("clip", "--preset", "nielsen-vanish", "--seed", "3", "--depth", "6", "--act", "tanh")
    assert d["chain"]["activation"] == "tanh" and len(d["input"]) == 12
    assert run("clip", "--preset", "nielsen-vanish", "--seed", "3").stdout == \
        run("clip", "--preset", "nielsen-vanish", "--seed", "3").stdout


def test_steps_shows_cost_per_step_and_states_target_and_lr(run):
    out = run("clip", "--steps", "30").stdout
    assert "target 0.4" in out and "lr 1e-05" in out
    header = next(ln for ln in out.splitlines() if ln.lstrip().startswith("step"))
    assert header.split() == ["step", "none", "value", "norm", "global-norm", "adaptive"]
    d = run.json("clip", "--steps", "30", "--mode", "norm")
    runs = {r["mode"]: r for r in d["training"]["runs"]}
    assert list(runs) == ["none", "norm"] and len(runs["norm"]["costs"]) == 31
    assert runs["none"]["final_cost"] > 10 * runs["none"]["costs"][0]
    assert runs["norm"]["final_cost"] < runs["norm"]["costs"][0] / 10


@pytest.mark.parametrize("args", [["--grad", "3,4"], ["--steps", "20"], ["--depth", "300", "--mode", "norm"]])
def test_plot_writes_a_figure(run, tmp_path, args):
    target = tmp_path / "clip.png"
    result = run("clip", *args, "--plot", str(target))
    assert result.exit_code == 0 and "component" in result.stdout
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
