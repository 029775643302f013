"""Regenerate the README's figures in docs/ by running gradsim itself.

    python scripts/make_figures.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"

FIGURES: dict[str, list[str]] = {
    "vanish.png": ["vanish"],
    "explode.png": ["vanish", "--preset", "nielsen-explode", "--depth", "12"],
    "acts.png": ["acts", "--act", "sigmoid,tanh,relu,gelu,swish"],
}


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    for name, args in FIGURES.items():
        subprocess.run([sys.executable, "-m", "gradsim", *args, "--plot", str(DOCS / name)], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"wrote docs/{name}")


if __name__ == "__main__":
    main()
