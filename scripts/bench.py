"""Benchmarks measured side by side in one run: medians and ratios, never absolute promises.

    python scripts/bench.py            # every case
    python scripts/bench.py startup    # only the named cases

Contenders of one case are alternated (A B A B ...) so that a noisy shared
machine slows them alike; the ratio of the medians is what we report.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from typing import Callable

CASES: dict[str, Callable[[int], list[tuple[str, float]]]] = {}


def case(fn):
    """Register a benchmark case under its function name."""
    CASES[fn.__name__] = fn
    return fn


def alternate(contenders: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time of each contender, run in turn `repeats` times."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def command(*argv: str) -> Callable[[], object]:
    """A contender that runs a command, output discarded."""
    return lambda: subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def gradsim_exe() -> list[str]:
    exe = shutil.which("gradsim")
    return [exe] if exe else [sys.executable, "-m", "gradsim"]


@case
def startup(repeats: int = 21) -> list[tuple[str, float]]:
    """`gradsim vanish` wall time over `python -c "import numpy"` (target <= 2.0)."""
    m = alternate({"numpy": command(sys.executable, "-c", "import numpy"),
                   "vanish": command(*gradsim_exe(), "vanish")}, repeats)
    return [("python -c 'import numpy' (s)", m["numpy"]), ("gradsim vanish (s)", m["vanish"]),
            ("ratio vanish / import numpy", m["vanish"] / m["numpy"])]


def main(argv: list[str]) -> None:
    names = argv or list(CASES)
    for name in names:
        print(f"== {name}: {CASES[name].__doc__}")
        for label, value in CASES[name]():
            print(f"   {label:<48} {value:10.4g}")


if __name__ == "__main__":
    main(sys.argv[1:])
