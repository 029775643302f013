"""The README cannot drift from the program: every `$ gradsim ...` block is re-run and compared."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from gradsim import datasets

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("readme_script", ROOT / "scripts" / "readme.py")
readme = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = readme  # dataclasses look their module up there
spec.loader.exec_module(readme)


def needs_missing_digits(command) -> bool:
    """A block that trains on scikit-learn's digits cannot run without it (it says `--data digits`)."""
    return "digits" in command.args and not datasets.digits_available()


def test_every_readme_block_is_the_programs_output():
    old = (ROOT / "README.md").read_text(encoding="utf-8")
    docs = {p: p.stat().st_mtime_ns for p in (ROOT / "docs").iterdir()}
    new, skipped = readme.regenerate(old, skip=needs_missing_digits)
    assert new == old, "README blocks drifted; run `python scripts/readme.py --write`:\n" + readme.diff(old, new)
    assert {p: p.stat().st_mtime_ns for p in (ROOT / "docs").iterdir()} == docs
    assert len(readme.commands(old.split("\n"))) - len(skipped) >= 15


def test_no_readme_block_depends_on_an_optional_package_it_does_not_name():
    """`gradsim train` with --data auto prints digits or synthetic data by what is installed: blocks say which."""
    for c in readme.commands((ROOT / "README.md").read_text(encoding="utf-8").split("\n")):
        if c.args and c.args[0] == "train":
            assert "--data" in c.args, c.text


@pytest.mark.parametrize("line, args, cut, to_file", [
    ("$ gradsim vanish", ("vanish",), None, False),
    ("$ gradsim clip --depth 300 | head -16", ("clip", "--depth", "300"), ("head", 16), False),
    ("$ gradsim clip | head -n 3   # the start", ("clip",), ("head", 3), False),
    ("$ gradsim steps --trace | tail -n 25   # the trace", ("steps", "--trace"), ("tail", 25), False),
    ("$ gradsim clip --grad 1,inf -f json > out.json", ("clip", "--grad", "1,inf", "-f", "json"), None, True),
])
def test_a_command_line_is_read_as_bash_would(line, args, cut, to_file):
    assert readme.parse(line) == (args, cut, to_file)


@pytest.mark.parametrize("line", ["$ gradsim vanish | grep w", "$ gradsim vanish | head -n x",
                                  "$ gradsim vanish | head -3 | tail -1", "$ python -m gradsim vanish"])
def test_anything_else_is_refused(line):
    with pytest.raises(ValueError):
        readme.parse(line)


def test_blocks_are_rewritten_and_checked(tmp_path, monkeypatch):
    """A stale block is rewritten (head/tail cut, > FILE shows stderr); --plot writes nowhere near the file."""
    monkeypatch.chdir(tmp_path)
    text = ("# t\n\n```\n$ gradsim steps --act relu | head -n 1   # the title\nold\n```\n\n"
            "```bash\n$ gradsim not run: no $ block\n```\n\n"
            "```\n$ gradsim vanish --plot v.png | tail -n 1\n$ gradsim clip --grad 1,inf -f json > out.json\n```\n")
    new, _ = readme.regenerate(text)
    assert "-old" in readme.diff(text, new)
    lines = new.split("\n")
    assert lines[3] == "$ gradsim steps --act relu | head -n 1   # the title"
    assert lines[4].startswith("Steps for f(x) from 0.9 down to 0.5") and lines[5] == "```"
    assert lines[12] == "$ gradsim vanish --plot v.png | tail -n 1"
    assert lines[13] == "wrote v.png"  # stderr, not piped through tail
    assert lines[14] == "cost C = (a_L - target)^2 / 2 = 0.2723"
    assert lines[16].startswith("Warning: the gradient holds g[2] = inf") and lines[17] == "```"
    assert "$ gradsim not run: no $ block" in lines
    assert list(tmp_path.iterdir()) == []
    path = tmp_path / "README.md"
    path.write_text(new)
    assert readme.main(["--check", "--readme", str(path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]
