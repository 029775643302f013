"""`gradsim steps` on the command line: the AI-edu table, trace, formats, errors and plot."""

from __future__ import annotations

import csv
import io
import math
import re

import pytest

import gradsim
from gradsim import activations as A


def flat(text: str) -> str:
    """stderr without typer's panel borders and line wrapping, for checking a message's words."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_default_table_shows_sigmoid_67_beside_relu_2(run):
    result = run("steps", env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert result.exit_code == 0 and result.stderr == ""
    rows = {ln.split()[0]: ln.split() for ln in result.stdout.splitlines() if ln.endswith("reached")}
    assert rows["sigmoid"][3] == "67" and rows["relu"][3] == "2"
    assert "relu needs 33.5 times fewer steps than sigmoid (2 vs 67)." in result.stdout
    assert max(len(ln.rstrip()) for ln in result.stdout.splitlines() if "─" in ln or ln[:8].strip() in rows) <= 100


def test_trace_shows_the_first_sigmoid_step_and_shortens_the_long_trace(run):
    out = run("steps", "--trace").stdout
    first = next(ln for ln in out.splitlines() if ln.split()[:1] == ["1"])
    assert "2.179225" in first and "0.898368" in first  # ln 9 - 0.2 * 0.09 and sigmoid of it
    assert re.search(r"^\s*\.\.\.\s+48 steps\s+\.\.\.", out, re.M)  # 68 rows: 10 head + 48 + 10 tail
    assert re.search(r"^\s*67\s+-0.00363", out, re.M) and re.search(r"^\s*2\s+0.5\s+0.5\s+1\s+-0.2", out, re.M)


def test_json_has_the_contract_keys_and_complete_traces(run):
    d = run.json("steps", "--trace")
    assert d["command"] == "steps" and (d["start"], d["target"], d["lr"]) == (0.9, 0.5, 0.2)
    sigmoid, relu = d["results"]
    for r in d["results"]:
        for key in ("activation", "steps", "reached", "x0", "final_x", "final_value"):
            assert key in r
    assert (sigmoid["activation"], sigmoid["steps"], relu["steps"]) == ("sigmoid", 67, 2)
    assert sigmoid["x0"] == pytest.approx(math.log(9))
    assert len(sigmoid["trace"]["x"]) == 68 and sigmoid["trace"]["dx"][0] is None
    assert sigmoid["trace"]["value"][1] == pytest.approx(1 / (1 + math.exp(-(math.log(9) - 0.018))))
    assert d["times_fewer"] == 33.5 and d["fastest"] == "relu" and d["slowest"] == "sigmoid"


def test_csv_is_the_summary_or_the_complete_trace(run):
    rows = list(csv.reader(io.StringIO(run("steps", "-f", "csv").stdout)))
    assert rows[0][:3] == ["activation", "alpha", "steps"] and [r[2] for r in rows[1:]] == ["67", "2"]
    rows = list(csv.reader(io.StringIO(run("steps", "--trace", "-f", "csv").stdout)))
    assert rows[0] == ["activation", "step", "x", "value", "dact", "dx"]
    assert len(rows) == 1 + 68 + 3 and rows[68][:2] == ["sigmoid", "67"] and rows[-1][:2] == ["relu", "2"]


def test_act_all_and_repeated_act(run):
    d = run.json("steps", "--act", "all")
    assert [r["activation"] for r in d["results"]] == list(A.NAMES)
    assert all(r["reached"] for r in d["results"])
    d = run.json("steps", "--act", "tanh", "--act", "leaky-relu,elu", "--alpha", "0.5")
    assert [(r["activation"], r["alpha"]) for r in d["results"]] == [("tanh", None), ("leaky-relu", 0.5), ("elu", 0.5)]


def test_non_monotone_branch_is_said(run):
    out = run("steps", "--act", "gelu,swish").stdout
    assert "gelu is not monotone" in out and "swish is not monotone" in out and "increasing branch" in out


def test_dead_relu_is_a_result_not_an_error(run):
    result = run("steps", "--act", "relu", "--start", "0", "--target", "0.5")
    assert result.exit_code == 0 and "dead relu unit" in result.stdout
    (r,) = run.json("steps", "--act", "relu", "--start", "0", "--target", "0.5")["results"]
    assert r["reached"] is False and r["steps"] is None and r["stop"] == "dead" and "f'(x) = 0" in r["reason"]


def test_hitting_max_steps_is_a_result(run):
    (r,) = run.json("steps", "--act", "sigmoid", "--max-steps", "10")["results"]
    assert (r["reached"], r["steps"], r["stop"], r["taken"]) == (False, None, "max-steps", 10)


def test_overshooting_lr_and_start_equal_to_target(run):
    d = run.json("steps", "--lr", "1000")
    assert [r["steps"] for r in d["results"]] == [1, 1]
    d = run.json("steps", "--start", "0.5", "--target", "0.5")
    assert [r["steps"] for r in d["results"]] == [0, 0] and d["direction"] == "none"


@pytest.mark.parametrize("args,option,text", [
    (["--act", "relu", "--target", "-0.1"], "--target", "outside the range of relu, [0, inf)"),
    (["--act", "sigmoid", "--start", "1.2"], "--start", "outside the range of sigmoid, (0, 1)"),
    (["--act", "tanh", "--target", "1"], "--target", "outside the range of tanh, (-1, 1)"),
    (["--act", "all", "--start", "-0.5"], "--start", "outside the range of sigmoid"),
    (["--start", "nan"], "--start", "finite"),
    (["--target", "inf"], "--target", "finite"),
    (["--lr", "0"], "--lr", "> 0"),
    (["--lr", "-1"], "--lr", "> 0"),
    (["--lr", "nan"], "--lr", "> 0"),
    (["--max-steps", "0"], "--max-steps", "1<=x<=1000000"),
    (["--max-steps", "2000000"], "--max-steps", "1<=x<=1000000"),
    (["--act", "nope"], "--act", "choose from sigmoid"),
    (["--alpha", "0.1"], "--alpha", "leaky-relu, prelu, elu"),
    (["--plot", "figure.bmp"], "--plot", ".png, .svg, .pdf"),
    (["--plot", "missing-folder/x.png"], "--plot", "does not exist"),
    (["-f", "xml"], "--format", "table, json, csv"),
])
def test_bad_input_is_a_usage_error_naming_option_and_range(run, tmp_path, monkeypatch, args, option, text):
    monkeypatch.chdir(tmp_path)
    stderr = run.usage_error("steps", *args, option=option)
    assert text in flat(stderr)
    assert list(tmp_path.iterdir()) == []


def test_plot_writes_a_png_and_still_prints_the_table(run, tmp_path):
    path = tmp_path / "steps.png"
    result = run("steps", "--plot", str(path))
    assert result.exit_code == 0 and "33.5 times fewer" in result.stdout
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_help_and_python_api(run):
    out = run("steps", "--help").stdout
    assert "Example:" in out and "increasing branch" in flat(out)
    assert gradsim.steps().results[0].steps == 67


def test_the_comparison_line_when_not_every_walk_arrives(run):
    out = run("steps", "--act", "relu,linear,sigmoid", "--max-steps", "5").stdout
    assert "relu and linear reached the target in 2 steps." in out
    assert "sigmoid: not reached, max-steps" in out and "after 5 steps" in out
