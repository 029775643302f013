"""Count what the adversarial suite's corpus does: invocations, refusals, distinct messages, runs.

    python scripts/corpus.py

Runs every generated invocation of tests/test_adversarial.py once, in process (as the tests do), and prints
the figures the README quotes. Takes a few minutes.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
warnings.simplefilter("error")  # as pytest's filterwarnings: a warning would be a failure

from conftest import Run  # noqa: E402
from test_adversarial import ALPHA_CASES, CASES, CONTEXT_CASES  # noqa: E402


def message(stderr: str) -> str:
    """The error text without typer's box and usage lines."""
    text = stderr.split("Error", 1)[-1]
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def without_value(text: str, value: str) -> str:
    """The message with the offending value taken out of it."""
    return text.replace(f"'{value}'", "V").replace(value, "V") if value else text


def main() -> None:
    run = Run()
    for name, cases in (("generated", CASES), ("where the option is used", CONTEXT_CASES), ("--alpha", ALPHA_CASES)):
        codes, messages, general = Counter(), Counter(), set()
        for args in cases:
            result = run(*args, "-f", "json")
            codes[result.exit_code] += 1
            if result.exit_code == 2:
                text = message(result.stderr)
                messages[text] += 1
                general.add(without_value(text, args[-1]))
        print(f"{name}: {len(cases):,} invocations; exit 2 (refused): {codes[2]:,} with {len(messages):,} distinct "
              f"messages ({len(general):,} once the value is taken out); exit 0 (extreme but valid): {codes[0]:,}; "
              f"other exits: {sum(v for k, v in codes.items() if k not in (0, 2))}")


if __name__ == "__main__":
    main()
