"""Keep the README's command blocks in sync with the program.

    python scripts/readme.py --check    # exit 1 and print a unified diff when a block has drifted
    python scripts/readme.py --write    # rewrite every block with the program's output

A block is a ```-fenced block whose first line is `$ gradsim ...`. Every `$ gradsim` line in it is a
command, and the lines after it, up to the next `$ ` line or the fence, are its output. A command may
end in `| head -n K`, `| head -K`, `| tail -n K`, `| tail -K` (applied here, to the output) or in
`> FILE` (stdout goes nowhere, so the output shown is stderr), and in a `# comment`.

Each command runs as `python -m gradsim` with this repository's code on the running python, with
COLUMNS=100 and NO_COLOR=1, stderr merged into stdout in the order written, in a temporary folder (so
`--plot` and `> FILE` write nothing here: docs/ is never touched). Trailing spaces and blank lines
at the end of an output are dropped.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
COLUMNS = 100
FENCE = "```"
PIPE = re.compile(r"^(head|tail)$")


@dataclass(frozen=True)
class Command:
    """One `$ gradsim ...` line of a block: where it is, what to run, and how to cut its output."""

    line: int  # index in the README's lines
    text: str  # the line as written, `$ ` included
    args: tuple[str, ...]  # after `gradsim`
    cut: tuple[str, int] | None = None  # ("head", K) or ("tail", K)
    to_file: bool = False  # `> FILE`: stdout is not shown
    end: int = 0  # index of the first line after its output


def parse(text: str) -> tuple[tuple[str, ...], tuple[str, int] | None, bool]:
    """(args, cut, to_file) of a `$ gradsim ...` line; ValueError for anything else."""
    words = shlex.split(text[2:], comments=True)
    if not words or words[0] != "gradsim":
        raise ValueError(f"not a gradsim command: {text!r}")
    args, cut, to_file = [], None, False
    rest = words[1:]
    while rest:
        word = rest.pop(0)
        if word == "|":
            tool = rest.pop(0) if rest else ""
            count = rest.pop(0) if rest else ""
            if count == "-n" and rest:
                count = rest.pop(0)
            elif count.startswith("-"):
                count = count[1:]
            if not PIPE.match(tool) or not count.isdigit() or cut is not None:
                raise ValueError(f"only `| head -n K` or `| tail -n K` may follow a command: {text!r}")
            cut = (tool, int(count))
        elif word == ">":
            if not rest:
                raise ValueError(f"`>` needs a file: {text!r}")
            rest.pop(0)
            to_file = True
        elif cut is not None or to_file:
            raise ValueError(f"nothing may follow `| {cut}` or `> FILE` but a comment: {text!r}")
        else:
            args.append(word)
    return tuple(args), cut, to_file


def commands(lines: list[str]) -> list[Command]:
    """Every command of every ```-block whose first line is `$ gradsim ...`."""
    found: list[Command] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == FENCE and i + 1 < len(lines) and lines[i + 1].startswith("$ gradsim"):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == FENCE)
            starts = [j for j in range(i + 1, end) if lines[j].startswith("$ ")]
            for k, j in enumerate(starts):
                args, cut, to_file = parse(lines[j])
                stop = starts[k + 1] if k + 1 < len(starts) else end
                found.append(Command(j, lines[j], args, cut, to_file, stop))
            i = end + 1
        else:
            i += 1
    return found


def run(command: Command, folder: str) -> list[str]:
    """The lines a user sees for `command` at COLUMNS=100 with NO_COLOR=1 (trailing spaces dropped)."""
    env = {**os.environ, "COLUMNS": str(COLUMNS), "NO_COLOR": "1", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("FORCE_COLOR", None)
    piped = command.to_file or command.cut is not None  # a pipe or a file takes stdout only, as in a shell
    result = subprocess.run([sys.executable, "-m", "gradsim", *command.args], cwd=folder, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL if command.to_file else subprocess.PIPE,
                            stderr=subprocess.PIPE if piped else subprocess.STDOUT, text=True)
    out = (result.stderr if command.to_file else result.stdout).splitlines()
    if command.cut is not None:
        tool, count = command.cut
        out = out[:count] if tool == "head" else out[len(out) - count:] if count else []
        # stderr reaches the terminal unpiped: before tail's output (tail prints at the end), after head's
        err = result.stderr.splitlines()
        out = err + out if tool == "tail" else out + err
    out = [line.rstrip() for line in out]
    while out and not out[-1]:  # a block ends with its last printed line
        out.pop()
    return out


def render(lines: list[str], outputs: dict[int, list[str]]) -> list[str]:
    """The README with each command's output replaced by `outputs[its line]`."""
    new: list[str] = []
    cmds = {c.line: c for c in commands(lines)}
    i = 0
    while i < len(lines):
        new.append(lines[i])
        if i in cmds:
            new += outputs[i]
            i = cmds[i].end
        else:
            i += 1
    return new


def regenerate(text: str, skip=lambda command: False, jobs: int | None = None) -> tuple[str, list[Command]]:
    """The README text with every block regenerated, and the commands left as they were (`skip`)."""
    lines = text.split("\n")
    cmds = commands(lines)
    skipped = [c for c in cmds if skip(c)]
    outputs = {c.line: lines[c.line + 1:c.end] for c in skipped}
    todo = [c for c in cmds if c not in skipped]
    with tempfile.TemporaryDirectory(prefix="gradsim-readme-") as folder:
        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
            for c, out in zip(todo, pool.map(lambda c: run(c, folder), todo)):
                outputs[c.line] = out
    return "\n".join(render(lines, outputs)), skipped


def diff(old: str, new: str, name: str = "README.md") -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), name, f"{name} (regenerated)"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 with a unified diff if a block has drifted")
    mode.add_argument("--write", action="store_true", help="rewrite the blocks in place")
    parser.add_argument("--readme", type=Path, default=README, help="the file (default: the README.md here)")
    parser.add_argument("-j", "--jobs", type=int, default=None, help="commands run at once (default: every core)")
    opts = parser.parse_args(argv)
    old = opts.readme.read_text(encoding="utf-8")
    new, _ = regenerate(old, jobs=opts.jobs)
    if opts.write:
        if new != old:
            opts.readme.write_text(new, encoding="utf-8")
        print(f"{opts.readme.name}: {len(commands(old.split(chr(10))))} commands, "
              f"{'rewritten' if new != old else 'already in sync'}", file=sys.stderr)
        return 0
    if new != old:
        sys.stdout.write(diff(old, new, opts.readme.name))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
