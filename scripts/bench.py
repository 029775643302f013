"""Benchmarks measured side by side in one run: medians and ratios, never absolute promises.

    python scripts/bench.py            # every case
    python scripts/bench.py startup    # only the named cases

Contenders of one case are alternated (A B A B ...) so that a noisy shared
machine slows them alike; the ratio of the medians is what we report.
"""

from __future__ import annotations

import math
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



# ---------------------------------------------------------------- gradsim ensemble (issue 5)
CHAIN = dict(width=1, depth=100, trials=1_000_000)
WIDE = dict(width=512, depth=50, trials=20)


def ensemble_args(width: int, depth: int, trials: int) -> list[str]:
    return ["ensemble", "--width", str(width), "--depth", str(depth), "--trials", str(trials), "-f", "json"]


def ensemble_normals(width: int, depth: int, trials: int) -> int:
    """The normals a run draws: a weight and a bias per layer for a chain; N^2 + N per layer and N inputs wider."""
    return trials * 2 * depth if width == 1 else trials * (depth * (width * width + width) + width)


def draw_floor(count: int, block: int = 2**22) -> Callable[[], object]:
    """The floor: numpy's default Generator drawing `count` normals in one thread, a block at a time."""
    import numpy as np

    out = np.empty(block)

    def draw() -> None:
        rng, left = np.random.default_rng(0), count
        while left > 0:
            rng.standard_normal(out=out[:min(left, block)])
            left -= block

    return draw


def in_process(width: int, depth: int, trials: int) -> Callable[[], object]:
    """gradsim.ensemble(...) called from Python: the computation without the start-up of a command."""
    import gradsim

    return lambda: gradsim.ensemble(width=width, depth=depth, trials=trials)


def torch_chain(depth: int, trials: int, batch: int = 2**17) -> Callable[[], object]:
    """The chain as a PyTorch user writes it: batched float64 tensors, autograd for dC/db, then the same statistics
    (percentiles by kthvalue over all trials, log10 mean ||delta||^2 by logsumexp). Layers are taken with
    unbind: indexing b[layer] instead makes autograd's backward quadratic in depth (26 s instead of 2 s here)."""
    import math

    import torch

    def run() -> None:
        torch.manual_seed(0)
        logs = torch.empty(depth, trials, dtype=torch.float64)
        for start in range(0, trials, batch):
            n = min(batch, trials - start)
            w = torch.randn(depth, n, dtype=torch.float64)
            b = torch.randn(depth, n, dtype=torch.float64, requires_grad=True)
            a = torch.ones(n, dtype=torch.float64)
            for w_layer, b_layer in zip(w.unbind(0), b.unbind(0)):
                a = torch.sigmoid(w_layer * a + b_layer)
            (0.5 * (a**2).sum()).backward()
            logs[:, start:start + n] = torch.log10(b.grad.abs())
        for p in (5, 50, 95):
            torch.kthvalue(logs, max(1, math.ceil(p / 100 * trials)), dim=1)
        torch.logsumexp(2 * math.log(10) * logs, dim=1)

    return run


def peak_rss_mb(*argv: str) -> float:
    """Peak resident memory of a command, in MB (ru_maxrss of a child of a fresh interpreter)."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL);"
            " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *argv], check=True, capture_output=True, text=True)
    return int(out.stdout) / 1024


@case
def ensemble_chain(repeats: int = 5) -> list[tuple[str, float]]:
    """`gradsim ensemble --width 1 --depth 100 --trials 1000000` over the floor: numpy's default Generator drawing
    its 2 x 10^8 normals in one thread (target <= 1.0)."""
    m = alternate({"floor": draw_floor(ensemble_normals(**CHAIN)),
                   "command": command(*gradsim_exe(), *ensemble_args(**CHAIN)),
                   "python": in_process(**CHAIN)}, repeats)
    return [("floor: 2e8 normals, one thread (s)", m["floor"]), ("gradsim ensemble command (s)", m["command"]),
            ("gradsim.ensemble() in Python (s)", m["python"]), ("ratio command / floor", m["command"] / m["floor"]),
            ("ratio gradsim.ensemble() / floor", m["python"] / m["floor"])]


@case
def ensemble_torch(repeats: int = 3) -> list[tuple[str, float]]:
    """The same chain written as a PyTorch user would (batched float64 tensors, autograd) over gradsim
    (target >= 5.0); skipped when torch is not installed."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return [("torch not installed: skipped", math.nan)]
    m = alternate({"torch": torch_chain(CHAIN["depth"], CHAIN["trials"]),
                   "command": command(*gradsim_exe(), *ensemble_args(**CHAIN)),
                   "python": in_process(**CHAIN)}, repeats)
    return [("PyTorch, batched float64 autograd (s)", m["torch"]), ("gradsim ensemble command (s)", m["command"]),
            ("gradsim.ensemble() in Python (s)", m["python"]), ("ratio torch / command", m["torch"] / m["command"]),
            ("ratio torch / gradsim.ensemble()", m["torch"] / m["python"])]


@case
def ensemble_wide(repeats: int = 3) -> list[tuple[str, float]]:
    """`gradsim ensemble --width 512 --depth 50 --trials 20` over the floor for its 2.6 x 10^8 normals."""
    m = alternate({"floor": draw_floor(ensemble_normals(**WIDE)),
                   "command": command(*gradsim_exe(), *ensemble_args(**WIDE))}, repeats)
    return [("floor: its normals, one thread (s)", m["floor"]), ("gradsim ensemble command (s)", m["command"]),
            ("ratio command / floor", m["command"] / m["floor"])]


@case
def ensemble_memory(repeats: int = 1) -> list[tuple[str, float]]:
    """Peak RSS of `gradsim ensemble --depth 100` with 10^5 and 10^6 trials, and of the width-512 case
    (target <= 200 MB for the chain, flat in the number of trials)."""
    rows = []
    for trials in (100_000, 1_000_000):
        rows.append((f"chain, {trials:.0e} trials: peak RSS (MB)",
                     peak_rss_mb(*gradsim_exe(), *ensemble_args(1, 100, trials))))
    rows.append(("width 512, depth 50, 20 trials: peak RSS (MB)", peak_rss_mb(*gradsim_exe(), *ensemble_args(**WIDE))))
    return rows


# ---------------------------------------------------------------- gradsim train on the plane (issue 14)
@case
def train_regions(repeats: int = 3) -> list[tuple[str, float]]:
    """Linear regions every epoch (a 201^2-grid forward pass and pattern count): relu over softplus, same net."""
    from gradsim import training

    options = dict(data="spiral", hidden="8,8,8,8", init="he", lr=0.03, epochs=20)
    m = alternate({"softplus": lambda: training.train(act="softplus", **options),
                   "relu": lambda: training.train(act="relu", **options)}, repeats)
    return [("spiral, 8,8,8,8, 20 epochs, softplus (no regions) (s)", m["softplus"]),
            ("the same, relu (regions every epoch) (s)", m["relu"]), ("ratio relu / softplus", m["relu"] / m["softplus"])]


# ---------------------------------------------------------------- gradsim train against PyTorch (issue 13)
def train_data(name: str):
    """(x_train, y_train, sizes): the digits' training part with the default net 64-30-30-30-30-10, or a synthetic
    MNIST-sized set (60000 x 784 in [0, 1], 10 classes) with a 784-100-100-10 net."""
    import numpy as np

    from gradsim import datasets

    if name == "default":
        data = datasets.load("digits" if datasets.digits_available() else "synthetic", np.random.default_rng(0))
        return data.x_train, data.y_train, (data.n_features, 30, 30, 30, 30, 10)
    rng = np.random.default_rng(0)
    return rng.random((60_000, 784)), rng.integers(0, 10, 60_000), (784, 100, 100, 10)


def gradsim_epoch(x, y, sizes, act: str = "sigmoid", batch: int = 10, lr: float = 0.1) -> Callable[[], object]:
    """One epoch of gradsim's training loop (mini-batch SGD, cross-entropy), without the per-epoch measuring."""
    import numpy as np

    from gradsim import activations, datasets, training

    activation = activations.get(act)
    ws, bs = training.init_params(sizes, "nielsen", activation, np.random.default_rng(0))
    data = datasets.Dataset("bench", "bench", x, y, x[:1], y[:1], sizes[-1])
    rng = np.random.default_rng(1)
    return lambda: training.train_epoch(ws, bs, activation, "cross-entropy", data, lr, batch, "none", None, rng)


def torch_epoch(x, y, sizes, batch: int = 10, lr: float = 0.1) -> Callable[[], object]:
    """The same net as PyTorch users write it: nn.Sequential in float64, torch.optim.SGD, an index loop.

    One intra-op thread (torch.set_num_threads(1)): with torch's default of one thread per core, on this shared
    2-core machine an epoch of the default net took 5 s instead of 0.2 s (threads waiting for a busy core).
    """
    import torch
    from torch import nn

    torch.set_num_threads(1)
    layers: list = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.Sigmoid()]
    model = nn.Sequential(*layers[:-1]).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    tx, ty = torch.tensor(x, dtype=torch.float64), torch.tensor(y)

    def epoch() -> None:
        order = torch.randperm(len(ty))
        for start in range(0, len(ty), batch):
            rows = order[start:start + batch]
            optimizer.zero_grad()
            loss = loss_fn(model(tx[rows]), ty[rows])
            loss.backward()
            optimizer.step()

    return epoch


def train_vs_torch(name: str, repeats: int) -> list[tuple[str, float]]:
    try:
        import torch  # noqa: F401
    except ImportError:
        return [("torch not installed: skipped", math.nan)]
    x, y, sizes = train_data(name)
    m = alternate({"gradsim": gradsim_epoch(x, y, sizes), "torch": torch_epoch(x, y, sizes)}, repeats)
    net = "-".join(map(str, sizes))
    return [(f"gradsim, one epoch of {net}, batch 10 (s)", m["gradsim"]),
            ("PyTorch float64, same net and batch (s)", m["torch"]), ("ratio torch / gradsim", m["torch"] / m["gradsim"])]


@case
def train_default(repeats: int = 7) -> list[tuple[str, float]]:
    """One epoch of `gradsim train`'s default net (64-30-30-30-30-10, sigmoid, batch 10, SGD) on the digits' 1438
    training images against the same net in PyTorch (float64, CPU) (target: ratio torch / gradsim >= 2)."""
    return train_vs_torch("default", repeats)


@case
def train_wide(repeats: int = 3) -> list[tuple[str, float]]:
    """One epoch of a 784-100-100-10 sigmoid net, batch 10, on a synthetic MNIST-sized set (60000 x 784) against
    the same in PyTorch (target: ratio torch / gradsim >= 1)."""
    return train_vs_torch("wide", repeats)
#: The BatchNorm case of issue 15: width 512, depth 50, batch 256, relu with He's init, 2 trials.
BN = dict(width=512, depth=50, batch=256, trials=2)


def torch_batchnorm(width: int, depth: int, batch: int, trials: int) -> Callable[[], object]:
    """The same network in PyTorch float64: one forward with autograd's graph, the forward statistics taken under
    no_grad, then dC/dh_l of C = sum r * out by autograd."""
    import torch

    def run() -> None:
        g = torch.Generator().manual_seed(0)
        for _ in range(trials):
            ws = [torch.randn(width, width, generator=g, dtype=torch.float64) * math.sqrt(2.0 / width)
                  for _ in range(depth)]
            x = torch.randn(batch, width, generator=g, dtype=torch.float64)
            r = torch.randn(batch, width, generator=g, dtype=torch.float64)
            hs, stats, a = [], [], x
            for w in ws:
                h = a @ w.T
                if h.requires_grad:
                    h.retain_grad()
                else:
                    h.requires_grad_(True)
                hs.append(h)
                a = torch.relu(torch.nn.functional.batch_norm(h, None, None, training=True, eps=1e-5))
                with torch.no_grad():  # forward statistics outside the graph
                    hd, zd = h.detach(), a.detach()
                    stats.append((hd.mean(), hd.var(), zd.mean(), zd.var(), (hd.mean(0) ** 2).mean(),
                                  hd.var(0).mean()))
            (r * a).sum().backward()
            [float((h.grad ** 2).sum()) for h in hs]

    return run


@case
def signal_batchnorm(repeats: int = 3) -> list[tuple[str, float]]:
    """`ensemble --width 512 --depth 50 --norm batch --batch 256` (2 trials, relu, He) against PyTorch float64."""
    from gradsim.signalprop import signal

    mine = lambda: signal(act="relu", init="he", width=BN["width"], depth=BN["depth"], norm="batch",  # noqa: E731
                          batch=BN["batch"], trials=BN["trials"])
    try:
        contenders = {"torch": torch_batchnorm(**BN), "gradsim": mine}
    except ImportError:
        return [("torch not installed: skipped", math.nan)]
    m = alternate(contenders, repeats)
    return [("PyTorch float64, stats + autograd (s)", m["torch"]), ("gradsim signalprop.signal() (s)", m["gradsim"]),
            ("ratio gradsim / torch", m["gradsim"] / m["torch"])]


def main(argv: list[str]) -> None:
    names = argv or list(CASES)
    for name in names:
        print(f"== {name}: {CASES[name].__doc__}")
        for label, value in CASES[name]():
            print(f"   {label:<48} {value:10.4g}")


if __name__ == "__main__":
    main(sys.argv[1:])
