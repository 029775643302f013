"""Matplotlib figures. Imported only when --plot is given; knows nothing of the command line."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save(fig, path: str | os.PathLike) -> Path:
    """Write `fig` atomically: a temporary file in the same folder, renamed at the end."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        fig.savefig(tmp, format=path.suffix.lstrip(".").lower(), dpi=150, bbox_inches="tight")
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a figure gets the usual permissions
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def power_of_ten_axis(ax, axis: str = "y") -> None:
    """Label an axis that holds log10 values as 10^k (a log axis that also works beyond float64)."""
    fmt = FuncFormatter(lambda v, _: f"$10^{{{v:g}}}$")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt)


def chain_figure(result):
    """|dC/db_j| and |dC/dw_j| against layer j on a log axis, each gain w_j f'(z_j) annotated."""
    layers = np.arange(1, result.depth + 1)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    with np.errstate(invalid="ignore"):
        ax.plot(layers, result.log10_grad_b, "o-", label=r"$|\partial C/\partial b_j|$")
        ax.plot(layers, result.log10_grad_w, "s--", alpha=0.7, label=r"$|\partial C/\partial w_j|$")
    if result.depth <= 12:
        for j in range(1, result.depth):
            y = np.nanmean(result.log10_grad_b[j - 1:j + 1])
            if np.isfinite(y):
                ax.annotate(f"×{result.gain[j]:.3g}", (j + 0.5, y), ha="center", va="bottom", fontsize=9,
                            color="dimgray")
        ax.set_xticks(layers)
    power_of_ten_axis(ax)
    ax.set_xlabel("layer j (1 = first, nearest the input)")
    ax.set_ylabel("gradient magnitude (log scale)")
    ax.set_title(f"{result.activation} chain, depth {result.depth}: {result.regime}"
                 + (f" (×{result.factor_per_layer:.3g} per layer)" if result.factor_per_layer else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(title="annotated: gain $w_j f'(z_j)$" if result.depth <= 12 else None)
    fig.tight_layout()
    return fig


def acts_figure(result):
    """f and f' of each chosen activation on [-5, 5], side by side."""
    x = np.linspace(-5, 5, 1001)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    for s in result.summaries:
        a = s.activation
        left.plot(x, a.f(x), label=a.name)
        right.plot(x, a.dact(x), label=a.name)
    left.set_title("f(x)")
    right.set_title("f'(x)")
    right.axhline(1.0, color="gray", lw=0.8, ls=":")
    right.axhline(0.25, color="gray", lw=0.8, ls=":")
    for ax in (left, right):
        ax.set_xlabel("x")
        ax.grid(True, alpha=0.3)
    left.set_ylim(-2, 5)
    right.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig
