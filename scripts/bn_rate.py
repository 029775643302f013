"""BatchNorm before relu at initialisation: the measured per-layer factor of mean ||dC/dh_l||^2 as width and batch
grow, beside the infinite-width closed form lambda(B) (Yang et al., ICLR 2019; derived in gradsim/layers.py).

    python scripts/bn_rate.py                      # the README's table
    python scripts/bn_rate.py --plot docs/bn-rate.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gradsim.layers import bn_relu_factor  # noqa: E402
from gradsim.signalprop import signal  # noqa: E402

WIDTHS = (128, 512, 2048)
BATCHES = (8, 32, 128, 512)
DEPTH = 16
#: Skip runs beyond this many multiply-adds per trial (depth x batch x width^2): minutes each on 2 cores.
MAX_MACS = 2**34


def trials_for(width: int, batch: int) -> int:
    """More trials where a trial holds few values (a small batch's factor has heavy tails: B/(B-3))."""
    cells = width * batch
    return 16 if cells <= 4096 else 4 if cells <= 65536 else 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    rows = []
    print("| width \\ batch | " + " | ".join(f"B = {b}" for b in BATCHES) + " |")
    print("|---|" + "---|" * len(BATCHES))
    print("| theory lambda(B), infinite width | " + " | ".join(f"{bn_relu_factor(b):.4f}" for b in BATCHES) + " |")
    for width in WIDTHS:
        cells = []
        for batch in BATCHES:
            if DEPTH * batch * width * width > MAX_MACS:
                cells.append("-")
                continue
            r = signal(act="relu", init="he", width=width, depth=DEPTH, norm="batch", batch=batch,
                       trials=trials_for(width, batch), seed=0)
            rows.append((width, batch, r.measured_factor))
            error = 100 * (r.measured_factor / bn_relu_factor(batch) - 1)
            cells.append(f"{r.measured_factor:.4f} ({error:+.1f}%)")
            print(f"  width {width} batch {batch}: {r.measured_factor:.4f}", file=sys.stderr, flush=True)
        print(f"| N = {width} | " + " | ".join(cells) + " |", flush=True)
    if args.plot:
        from gradsim import plots, signal_plots

        b = np.unique(np.round(np.geomspace(5, 1024, 120)).astype(int))
        plots.save(signal_plots.bn_rate_figure(rows, b, [bn_relu_factor(int(v)) for v in b]), args.plot)


if __name__ == "__main__":
    main()
