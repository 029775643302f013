"""One name for one thing, the same in Python, tables, JSON, CSV and the README."""

from __future__ import annotations

import csv
import io
from fractions import Fraction
from pathlib import Path

import gradsim

ROOT = Path(__file__).resolve().parent.parent


def test_steps_results_are_called_results_in_python_and_json(run):
    r = gradsim.steps(act="sigmoid,relu")
    assert not hasattr(r, "walks")
    d = run.json("steps")
    assert [w.activation for w in r.results] == [w["activation"] for w in d["results"]] == ["sigmoid", "relu"]
    assert [w.steps for w in r.results] == [w["steps"] for w in d["results"]]


def test_each_tensor_clipped_alone_is_per_tensor_everywhere(run):
    """Table, CSV header and notes say per-tensor; JSON and Python per_tensor; never per-layer or per_tensor_norm."""
    for args in (("clip",), ("clip", "--grad", "3,4", "--grad", "1,0", "--mode", "global-norm")):
        table = run(*args).stdout
        assert "per-tensor" in table and "per-layer" not in table, args
        header = next(csv.reader(io.StringIO(run(*args, "-f", "csv").stdout)))
        assert "per-tensor" in header and "per_tensor_norm" not in header, header
        glob = [m for m in run.json(*args)["results"] if m["mode"] == "global-norm"][0]
        assert "per_tensor" in glob
    assert gradsim.clip(grads=["3,4", "1,0"], mode="global-norm").results[0].per_tensor is not None
    readme = (ROOT / "README.md").read_text()
    assert "per-layer norm" not in readme and "per_tensor_norm" not in readme


def test_window_rows_are_the_numbers_the_table_prints(run):
    """Sigmoid's window opens at |w| = 4 exactly; the default rows are 4 (1 + k/8), 16, 20, 40, 100 exactly."""
    d = run.json("window")
    expected = [4 * (1 + Fraction(k, 8)) for k in range(17)] + [16, 20, 40, 100]
    assert [Fraction(r["abs_w"]) for r in d["rows"]] == expected
    assert d["opens_at"] == 4.0


def test_the_row_at_4_is_the_run_with_abs_w_4(run):
    row = run.json("window")["rows"][0]
    alone = run.json("window", "--abs-w", "4")["rows"][0]
    assert row == alone
