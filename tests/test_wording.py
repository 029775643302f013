"""What a user reads: sources cited by name, never as "seed 00N"; summaries that say what the numbers say."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import gradsim
from gradsim.commands import train as train_command

ROOT = Path(__file__).resolve().parent.parent


def user_facing_files() -> list[Path]:
    return sorted((ROOT / "gradsim").rglob("*.py")) + [ROOT / "README.md"]


def test_no_source_is_called_a_seed_and_no_folder_outside_the_repository():
    """`--seed` is the RNG: a source is cited by name, and the README stands alone."""
    for path in user_facing_files():
        text = path.read_text(encoding="utf-8")
        for bad in ("seed 00", "../shared", "the seed's", "the seed draws"):
            assert bad not in text.lower(), (path.name, bad)


def test_the_readme_lists_the_sources_with_links():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    sources = text.split("## Sources", 1)[1]
    for link in ("neuralnetworksanddeeplearning.com/chap5.html", "mlfromscratch.com/activation-functions-explained",
                 "github.com/microsoft/ai-edu"):
        assert link in sources, link
    for name in ("Hansen", "AI-edu", "Nielsen", "Hardware_10W", "BP"):
        assert name in sources, name


@pytest.mark.parametrize("args", [("clip",), ("clip", "--grad", "4.4e-8", "--param", "0.2"), ("steps",)])
def test_tables_and_json_cite_no_seed(run, args):
    for fmt in ("table", "json"):
        out = run(*args, "-f", fmt).stdout.lower()
        assert "seed 00" not in out and "the seed" not in out, (args, fmt)


# ---------------------------------------------------------------- the train summary
def _story(speeds) -> str:
    e = gradsim.train(hidden="5,5,5,5", epochs=1, data="synthetic").epochs[-1]
    return train_command._speed_story(dataclasses.replace(e, speeds=np.array(speeds, dtype=float)), len(speeds),
                                      "after 1 epoch")


@pytest.mark.parametrize("speeds, says, never", [
    ((0, 0, 0, 0), "no hidden layer learns at all (all 4 speeds are 0)", "1 and 4"),
    ((0, 1e-3, 0, 0), "hidden layers 1, 3 and 4 do not learn at all", "layers 1 and 4 "),
    ((0, 1e-3, 2e-3, 1e-2), "hidden layer 1 does not learn at all", "layer 4"),
    ((1e-3, 1e-3, 1e-3, float("inf")), "the speed of hidden layer 4 is not finite", "do not learn"),
])
def test_a_speed_of_zero_is_named_where_it_is(speeds, says, never):
    story = _story(speeds)
    assert says in story and never not in story, story


def test_the_dead_relu_net_says_that_every_layer_stopped(run):
    """`train --act relu --init he --lr 1 --epochs 5` on the digits ends with every speed 0: the note says so."""
    pytest.importorskip("sklearn")
    args = ("train", "--act", "relu", "--init", "he", "--lr", "1", "--epochs", "5", "--data", "digits")
    speeds = run.json(*args)["epochs"][-1]["speeds"]
    assert speeds == [0.0] * 4  # the premise, from the JSON
    line = [s for s in run(*args).stdout.splitlines() if s.startswith("after 5 epochs")][0]
    assert "all 4 speeds are 0" in line and "1 and 4" not in line, line
