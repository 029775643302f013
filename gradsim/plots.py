"""Matplotlib figures. Imported only when --plot is given; knows nothing of the command line."""

from __future__ import annotations

import logging
import math
import os
import stat
import sys
import tempfile
from pathlib import Path

from . import atomic
from .errors import GradsimError


def _usable_folder(folder: Path) -> bool:
    """True if `folder` is (or can be made) a writable directory, as matplotlib requires of its config dir."""
    try:
        folder = folder.resolve()
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):
        return False
    return folder.is_dir() and os.access(folder, os.W_OK)


def _private_temp_folder() -> str:
    """A folder of our own under the temp dir (reused, so matplotlib's font cache is built once), else a fresh one."""
    folder = os.path.join(tempfile.gettempdir(), f"gradsim-matplotlib-{os.getuid() if hasattr(os, 'getuid') else 0}")
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return tempfile.mkdtemp(prefix="gradsim-matplotlib-")
    info = os.lstat(folder)
    ours = stat.S_ISDIR(info.st_mode) and not info.st_mode & 0o077 and (
        not hasattr(os, "getuid") or info.st_uid == os.getuid())
    return folder if ours and os.access(folder, os.W_OK) else tempfile.mkdtemp(prefix="gradsim-matplotlib-")


def quiet_config_dir() -> None:
    """Give matplotlib a writable config dir before it is imported, so it never warns about its own.

    matplotlib uses MPLCONFIGDIR, else $XDG_CONFIG_HOME/matplotlib and $XDG_CACHE_HOME/matplotlib (~/.config,
    ~/.cache); when one of them cannot be written it warns on stderr and uses a temporary folder. We choose the
    temporary folder first, quietly.
    """
    given = os.environ.get("MPLCONFIGDIR")
    if given:
        wanted = [Path(given)]
    elif sys.platform.startswith(("linux", "freebsd")):
        try:
            wanted = [Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config", "matplotlib"),
                      Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "matplotlib")]
        except RuntimeError:  # no home directory
            wanted = []
    else:
        try:
            wanted = [Path.home() / ".matplotlib"]
        except RuntimeError:
            wanted = []
    if not wanted or not all(_usable_folder(f) for f in wanted):
        os.environ["MPLCONFIGDIR"] = _private_temp_folder()
        # a first run there builds the font cache; matplotlib announces it on stderr after 5 s
        logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)


if "matplotlib" not in sys.modules:
    quiet_config_dir()

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.transforms import blended_transform_factory  # noqa: E402
from matplotlib.ticker import FixedLocator, Formatter, FuncFormatter, Locator, MaxNLocator, NullFormatter  # noqa: E402

#: Resolution of PNG figures (small files that still read well on a slide).
DPI = 120
#: No date in SVG or PDF files (identical runs give identical bytes); SVG text stays text a teacher can edit.
METADATA = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}
FIXED_RC = {"svg.fonttype": "none", "svg.hashsalt": "gradsim", "pdf.fonttype": 42}


def save(fig, path: str | os.PathLike) -> Path:
    """Write `fig` atomically (atomic.write: a temporary file beside the target, renamed at the end).

    Identical runs give identical bytes (no date in SVG or PDF), and SVG keeps its text as text. An OS error
    (disk full, name too long, a read-only folder) is a GradsimError for --plot; no partial file is left.
    """
    path = Path(path)
    kind = path.suffix.lstrip(".").lower()

    def draw(tmp: str) -> None:
        with matplotlib.rc_context(FIXED_RC):
            fig.savefig(tmp, format=kind, dpi=DPI, bbox_inches="tight", metadata=METADATA.get(kind))

    try:
        write_atomically(path, draw)
    finally:
        plt.close(fig)
    return path


def write_atomically(path: str | os.PathLike, write) -> Path:
    """write(tmp) fills a temporary file beside `path` (atomic.write), renamed to it at the end; an OS error is a
    GradsimError for --plot and leaves no file."""
    try:
        return atomic.write(path, write)
    except OSError as e:
        raise GradsimError(f"cannot write {str(path)!r}: {e.strerror or e}", option="--plot") from None


def log10_ticks(lo: float, hi: float) -> np.ndarray:
    """Tick positions (as log10 values) for a log axis over [10^lo, 10^hi]: at least 3 where possible.

    Whole decades when they give 3 or more ticks, else 1-2-5 times a decade, else evenly spaced plain values
    (over less than a decade). Computed from the exponents, so it works beyond float64 too.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return np.array([])
    lo, hi = min(lo, hi), max(lo, hi)
    tiny = 1e-9 * max(1.0, hi - lo)

    def inside(t: np.ndarray) -> np.ndarray:
        return t[(t >= lo - tiny) & (t <= hi + tiny)]

    decades = inside(MaxNLocator(nbins=8, integer=True, steps=[1, 2, 5, 10]).tick_values(lo, hi))
    decades = decades[np.abs(decades - np.round(decades)) < 1e-9]  # MaxNLocator falls back to fractions
    if len(decades) >= 3:
        return decades
    k = np.arange(math.floor(lo) - 1, math.ceil(hi) + 1)
    one_two_five = inside(np.sort((k[:, None] + np.log10([1, 2, 5])[None, :]).ravel()))
    if len(one_two_five) >= 3:
        return one_two_five
    base = math.floor(lo)
    plain = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(10 ** (lo - base), 10 ** (hi - base))
    return inside(np.log10(plain[plain > 0]) + base)


def power_label(x: float, all_decades: bool) -> str:
    """A tick label for the value 10^x: 10^k at decades, a plain number near 1, else m x 10^k."""
    k = round(x)
    if all_decades or (abs(x - k) < 1e-9 and not -3 <= k <= 4):
        return f"$10^{{{k}}}$"
    k = math.floor(x + 1e-9)
    if -3 <= k <= 4:
        return f"{10 ** x:.4g}"
    return f"${10 ** (x - k):.3g}\\times10^{{{k}}}$"


class _LogTicks(Locator):
    """log10_ticks on an axis that holds log10 values (log10=True) or positive values on a log scale."""

    def __init__(self, log10: bool):
        self.log10 = log10

    def __call__(self):
        return self.tick_values(*self.axis.get_view_interval())

    def tick_values(self, vmin, vmax):
        if self.log10:
            return log10_ticks(vmin, vmax)
        if not (vmin > 0 and vmax > 0):
            return np.array([])
        return 10 ** log10_ticks(math.log10(vmin), math.log10(vmax))


class _LogLabels(Formatter):
    """Labels for _LogTicks: 10^k when every tick is a decade, else plain numbers (or m x 10^k)."""

    def __init__(self, log10: bool):
        self.log10 = log10
        self.ticks: list[float] = []

    def set_locs(self, locs):
        self.ticks = list(locs)

    def _exponents(self, values) -> np.ndarray:
        v = np.asarray(values, dtype=float)
        return v if self.log10 else np.log10(v)

    def __call__(self, x, pos=None):
        exps = self._exponents(self.ticks) if self.ticks else np.array([])
        decades = bool(len(exps)) and bool(np.all(np.abs(exps - np.round(exps)) < 1e-9))
        return power_label(float(self._exponents([x])[0]), decades)


def log_axis(ax, axis: str = "y", log10_values: bool = True) -> None:
    """Ticks at decades (or 1-2-5 steps over a short range) labelled as powers of ten.

    log10_values: the axis holds log10 values (a log axis that also works beyond float64); else it is a
    matplotlib log scale holding the values themselves.
    """
    which = ax.yaxis if axis == "y" else ax.xaxis
    which.set_major_locator(_LogTicks(log10_values))
    which.set_major_formatter(_LogLabels(log10_values))
    which.set_minor_formatter(NullFormatter())


def legend_outside(ax, **kwargs):
    """The legend to the right of the axes, never over the data."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, **kwargs)


def legend_below(ax, **kwargs):
    """The legend under the axes (below the x label), never over the data."""
    ncol = kwargs.pop("ncol", 2)
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), borderaxespad=0.0, ncol=ncol, **kwargs)


def neighbour_gains(result) -> np.ndarray:
    """|w_{j+1} f'(z_j)| for j = 1..L-1: the ratio |dC/db_j| / |dC/db_{j+1}| of neighbouring points.

    dC/db_j = f'(z_j) w_{j+1} f'(z_{j+1}) ... w_L f'(z_L) dC/da_L, so going back one layer multiplies by
    w_{j+1} f'(z_j) (the f'(z_{j+1}) of the layer behind cancels).
    """
    with np.errstate(over="ignore", under="ignore"):
        return np.abs(result.w[1:] * result.dact[:-1])


def chain_figure(result):
    """|dC/db_j| and |dC/dw_j| against layer j on a log axis; between j and j+1 the ratio |w_{j+1} f'(z_j)|."""
    layers = np.arange(1, result.depth + 1)
    fig, ax = plt.subplots(figsize=(9, 4.8))
    with np.errstate(invalid="ignore"):
        ax.plot(layers, result.log10_grad_b, "o-", label=r"$|\partial C/\partial b_j|$")
        ax.plot(layers, result.log10_grad_w, "s--", alpha=0.7, label=r"$|\partial C/\partial w_j|$")
    annotated = result.depth <= 12
    if annotated:
        for j, g in enumerate(neighbour_gains(result), start=1):
            pair = result.log10_grad_b[j - 1:j + 1]
            pair = pair[np.isfinite(pair)]
            if pair.size:
                ax.annotate(f"×{g:.3g}", (j + 0.5, float(pair.mean())), ha="center", va="center", fontsize=9,
                            color="black", bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="0.7"), zorder=4)
        ax.set_xticks(layers)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    log_axis(ax)
    ax.set_xlabel("layer j (1 = first, nearest the input)")
    ax.set_ylabel("gradient magnitude (log scale)")
    ax.set_title(f"Nielsen's chain, {result.activation}, depth {result.depth}: {result.regime}"
                 + (f" (×{result.factor_per_layer:.3g} per layer)" if result.factor_per_layer else ""))
    ax.grid(True, alpha=0.3)
    legend_outside(ax, fontsize=9, title=("number between $j$ and $j+1$:\n"
                                          r"$|\partial C/\partial b_j|\,/\,|\partial C/\partial b_{j+1}|"
                                          r" = |w_{j+1} f'(z_j)|$") if annotated else None, title_fontsize=9)
    fig.tight_layout()
    return fig


#: One colour per activation (13 distinct) and a line style cycling beside it: no two curves look alike.
ACT_COLOURS = [*(f"C{k}" for k in range(10)), "black", "darkgoldenrod", "teal"]
ACT_LINESTYLES = ["-", "--", "-.", ":"]


def act_style(name: str, k: int) -> dict:
    """The colour of activation `name` (fixed by its place in the registry, so it is the same in every figure)
    and the line style of the k-th curve of a figure (neighbours never share one)."""
    from .activations import NAMES

    i = NAMES.index(name) if name in NAMES else k
    return dict(color=ACT_COLOURS[i % len(ACT_COLOURS)], ls=ACT_LINESTYLES[k % len(ACT_LINESTYLES)])


def acts_figure(result):
    """f and f' of each chosen activation on [-5, 5], side by side, one colour and line style per activation."""
    x = np.linspace(-5, 5, 1001)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    for k, s in enumerate(result.summaries):
        a = s.activation
        style = act_style(a.name, k)
        left.plot(x, a.f(x), label=a.name, lw=1.8, **style)
        right.plot(x, a.dact(x), label=a.name, lw=1.8, **style)
    left.set_title("f(x)")
    right.set_title("f'(x) (dotted: 1 and 0.25, the largest sigmoid')")
    right.axhline(1.0, color="gray", lw=0.8, ls=":")
    right.axhline(0.25, color="gray", lw=0.8, ls=":")
    for ax in (left, right):
        ax.set_xlabel("x")
        ax.grid(True, alpha=0.3)
    left.set_ylim(-2, 5)
    legend_outside(right, fontsize=9)
    fig.tight_layout()
    return fig


#: |f(x_k)| beyond this is not drawn (marked on the edge): matplotlib's tick maths overflows near 1.8e308.
STEPS_DRAWN = 1e300


def steps_figure(result):
    """f(x_k) against step k for each walk (the trace), the target as a dashed line, each count in the legend."""
    fig, ax = plt.subplots(figsize=(9, 4.8))
    longest = max(len(w.x) for w in result.results)
    colours = plt.cm.tab20(np.linspace(0, 1, 20)) if len(result.results) > 10 else plt.cm.tab10(np.arange(10))
    off_chart: list[str] = []
    for w, colour in zip(result.results, colours):
        k = np.arange(len(w.x))
        count = f"{w.steps} step{'' if w.steps == 1 else 's'}" if w.reached else f"not reached ({w.stop})"
        value = np.asarray(w.value, dtype=float)
        off = ~(np.abs(value) <= STEPS_DRAWN)  # matplotlib's tickers overflow near float64's end
        ax.plot(k, np.where(off, np.nan, value), "o-" if len(k) <= 200 else "-", ms=3, color=colour,
                label=f"{w.activation}: {count}")
        if off.any():
            edge = blended_transform_factory(ax.transData, ax.transAxes)
            below = value[off] < 0
            ax.plot(k[off], np.where(below, 0.0, 1.0), "v", ms=8, color=colour, transform=edge, clip_on=False)
            off_chart.append(f"{w.activation}: |f(x_k)| > {STEPS_DRAWN:.0e} from step {int(k[off][0])}")
    ax.axhline(result.target, color="gray", ls="--", lw=1, label=f"target {result.target:g}")
    if off_chart:
        ax.text(0.5, 0.5, "off the chart (triangle on the edge):\n" + "\n".join(off_chart), transform=ax.transAxes,
                ha="center", va="center", fontsize=9, bbox=dict(facecolor="white", edgecolor="0.5"))
    if longest > 1000:
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlabel("step k (symlog axis: linear up to 10, logarithmic beyond)")
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("step k")
    ax.set_xlim(left=0)
    ax.set_ylabel("f(x_k)")
    sign = "+" if result.direction == "up" else "-"
    ax.set_title(f"f(x) from {result.start:g} to {result.target:g}: x <- x {sign} {result.lr:g} f'(x)")
    ax.grid(True, alpha=0.3)
    legend_outside(ax, fontsize=8 if len(result.results) > 6 else 9)
    fig.tight_layout()
    return fig


def train_figure(result):
    """Each hidden layer's speed ||dC/db^l|| against epoch on a log axis (Nielsen's figure), the loss beside it."""
    epochs = [e.epoch for e in result.epochs]
    speeds = result.speeds
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    with np.errstate(divide="ignore", invalid="ignore"):
        for layer in range(speeds.shape[1]):
            column = speeds[:, layer]
            shown = np.where(np.isfinite(column) & (column > 0), column, np.nan)  # a log axis cannot show 0
            left.plot(epochs, shown, "o-" if len(epochs) <= 40 else "-", ms=3, label=f"hidden layer {layer + 1}")
    left.set_yscale("log")
    log_axis(left, "y", log10_values=False)
    left.set_xlabel("epoch (0 = at initialisation)")
    left.set_ylabel(r"speed of learning $\|\partial C/\partial b^l\|$")
    left.set_title(f"{result.activation}, hidden {','.join(map(str, result.hidden))}, init {result.init}"
                   + (f", clip {result.clip_mode} {result.clip_threshold:g}" if result.clip_mode != "none" else ""))
    legend_below(left, fontsize=8)
    right.plot(epochs, [e.loss for e in result.epochs], "-", label="training loss")
    right.plot(epochs, [e.test_loss for e in result.epochs], "--", label="held-out loss")
    right.set_xlabel("epoch")
    right.set_ylabel(f"{result.cost} cost")
    right.set_title(f"{result.data}: held-out accuracy {100 * result.epochs[-1].accuracy:.1f}%")
    legend_below(right, fontsize=8)
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def _positive(values) -> np.ndarray:
    """Values a log axis can show: non-positive and non-finite ones become gaps."""
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def compare_figure(results):
    """Hansen's comparison: held-out accuracy and loss against epoch, a line per activation; below, per activation,
    the layer speeds ||dC/db^l||, the saturated share and the update-to-data ratio of each hidden layer."""
    n = len(results)
    from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter

    fig = plt.figure(figsize=(max(11.0, 1.9 * n), 10.5))
    grid = fig.add_gridspec(4, 2 * n, height_ratios=[1.7, 1, 1, 1], hspace=0.42, wspace=0.5, top=0.94, bottom=0.05)
    top = grid[0, :].subgridspec(1, 2, wspace=0.18)
    acc_ax, loss_ax = fig.add_subplot(top[0]), fig.add_subplot(top[1])
    r0 = results[0]
    colours = [f"C{k}" if n <= 10 else plt.cm.tab20(k % 20) for k in range(n)]  # 10 default colours, then tab20
    for k, r in enumerate(results):
        epochs = [e.epoch for e in r.epochs]
        label = f"{r.activation} ({r.init})"
        acc_ax.plot(epochs, [100 * e.accuracy for e in r.epochs], "o-" if len(epochs) <= 40 else "-", ms=3,
                    color=colours[k], label=label)
        loss_ax.plot(epochs, _positive([e.test_loss for e in r.epochs]), "o-" if len(epochs) <= 40 else "-", ms=3,
                     color=colours[k], label=label)
    clip = f", clip {r0.clip_mode} {r0.clip_threshold:g}" if r0.clip_mode != "none" else ""
    drop = f", dropout {r0.dropout:g}" if r0.dropout > 0 else ""
    setting = f"{r0.data}, hidden {','.join(map(str, r0.hidden))}, {r0.optimizer.name} lr {r0.lr:g}{clip}{drop}"
    fig.suptitle(f"C. Hansen's activation comparison: {setting}", fontsize=11, y=0.985)
    acc_ax.set_title("held-out accuracy", fontsize=10)
    acc_ax.set_ylabel("held-out accuracy %")
    loss_ax.set_title("held-out loss", fontsize=10)
    loss_ax.set_ylabel(f"{r0.cost} cost")
    for ax in (acc_ax, loss_ax):
        ax.set_xlabel("epoch (0 = at initialisation)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
    last_epoch = max(max(e.epoch for e in r.epochs) for r in results)
    loss_ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), title="activation (init)",
                   title_fontsize=8)
    layers = len(r0.hidden)
    rows: list = [None, None, None]
    for k, r in enumerate(results):
        epochs = [e.epoch for e in r.epochs]
        speed_ax, sat_ax, upd_ax = (fig.add_subplot(grid[i + 1, 2 * k:2 * k + 2], sharey=rows[i]) for i in range(3))
        rows = [speed_ax, sat_ax, upd_ax]
        for j in range(layers):
            style = dict(color=plt.cm.viridis(j / max(layers - 1, 1)), lw=1.2, label=f"layer {j + 1}")
            speed_ax.plot(epochs, _positive(r.speeds[:, j]), **style)
            sat_ax.plot(epochs, [100 * e.saturated_fraction[j] for e in r.epochs], **style)
            upd_ax.plot(epochs[1:], [e.update_ratio_log10[j] for e in r.epochs[1:]], **style)
        speed_ax.set_yscale("log")
        speed_ax.yaxis.set_minor_formatter(NullFormatter())
        speed_ax.yaxis.set_major_locator(LogLocator(numticks=6))
        speed_ax.set_title(r.activation, fontsize=10, color=colours[k], fontweight="bold")
        sat_ax.set_ylim(-5, 105)
        upd_ax.axhline(-3, color="k", ls="--", lw=0.8)
        for ax in (speed_ax, sat_ax, upd_ax):
            ax.tick_params(labelsize=7, labelleft=k == 0)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
            ax.set_xlim(0, max(last_epoch, 1))
            ax.grid(True, alpha=0.3)
        upd_ax.set_xlabel("epoch", fontsize=8)
        if k == 0:
            speed_ax.set_ylabel(r"speed $\|\partial C/\partial b^l\|$", fontsize=8)
            sat_ax.set_ylabel("saturated units %", fontsize=8)
            upd_ax.set_ylabel("log10 std(dW)/std(W)\n(dashed: -3, Karpathy)", fontsize=8)
        if k == n - 1:
            speed_ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5), title="hidden", title_fontsize=6)
    return fig


def phase_norm(log_chi: np.ndarray):
    """A diverging norm on log10 chi1, centred on chi1 = 1 and running from the data's smallest to its largest."""
    from matplotlib.colors import TwoSlopeNorm

    finite = log_chi[np.isfinite(log_chi)]
    lo = float(finite.min()) if finite.size else -1.0
    hi = float(finite.max()) if finite.size else 1.0
    # TwoSlopeNorm needs vmin < 0 < vmax: a side with no data gets a sliver, so its colour is never shown
    return TwoSlopeNorm(0.0, min(lo, -1e-3 * max(hi, 1.0)), max(hi, -1e-3 * min(lo, -1.0)))


def phase_figure(result):
    """Heatmap of chi1 over sigma_w^2 x sigma_b^2 (blue vanishing, white critical, red exploding), the critical
    line, the inits; the colour scale is centred on chi1 = 1 and spans the data; no value is grey."""
    from matplotlib.patches import Patch

    fig, ax = plt.subplots(figsize=(8.5, 6))
    with np.errstate(divide="ignore"):
        log_chi = np.log10(result.chi1)
    norm = phase_norm(log_chi)
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.6")
    # no value where nothing was computed (left of the first grid column, or a failed point): grey, hatched
    ax.set_facecolor("0.6")
    ax.patch.set_hatch("//")
    ax.patch.set_edgecolor("0.45")
    mesh = ax.pcolormesh(result.sigma_w2, result.sigma_b2, np.ma.masked_invalid(log_chi), shading="nearest",
                         cmap=cmap, norm=norm)
    bar = fig.colorbar(mesh, ax=ax)
    bar.set_label(r"$\chi_1$ (log scale; white = critical, $\chi_1 = 1$)")
    # ticks on each side of 1: the two halves of the bar have their own scales
    bar.ax.yaxis.set_major_locator(FixedLocator(np.union1d(log10_ticks(norm.vmin, 0.0), log10_ticks(0.0, norm.vmax))))
    bar.ax.yaxis.set_major_formatter(_LogLabels(True))
    bar.ax.yaxis.set_minor_formatter(NullFormatter())
    line = np.isfinite(result.line_w2) & (result.line_w2 <= result.sigma_w2[-1])
    ax.plot(result.line_w2[line], result.line_b2[line], "k-", lw=2, label=r"critical line $\chi_1 = 1$")
    table = np.isfinite(result.critical_w2) & (result.critical_w2 <= result.sigma_w2[-1])
    ax.plot(result.critical_w2[table], result.critical_b2[table], "ko", ms=5, label="critical table")
    groups: dict[float, list[str]] = {}
    for p in result.inits:
        groups.setdefault(round(p.sigma_w2, 12), []).append(p.init)
    for k, (w2, names) in enumerate(sorted(groups.items())):
        if w2 <= result.sigma_w2[-1]:
            ax.plot([w2], [0.0], marker="^", ms=11, color=f"C{k + 2}", mec="k", clip_on=False, zorder=5,
                    label=f"{'/'.join(names)}: $\\sigma_w^2$ = {w2:.4g}")
    handles, labels = ax.get_legend_handles_labels()
    left_edge = result.sigma_w2[0] - (result.sigma_w2[1] - result.sigma_w2[0]) / 2 if len(result.sigma_w2) > 1 \
        else result.sigma_w2[0]
    if left_edge > 0 or not np.all(np.isfinite(log_chi)):
        handles.append(Patch(facecolor="0.6", edgecolor="0.45", hatch="//"))
        labels.append("not computed")
    ax.set_xlim(0, result.sigma_w2[-1])
    ax.set_ylim(0, result.sigma_b2[-1])
    ax.set_xlabel(r"$\sigma_w^2$ (weight variance x fan-in)")
    ax.set_ylabel(r"$\sigma_b^2$ (bias variance)")
    ax.set_title(f"{result.activation}: mean-field $\\chi_1$, vanishing (blue) vs exploding (red)")
    ax.legend(handles, labels, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), borderaxespad=0.0, ncol=3)
    fig.tight_layout()
    return fig


def _half_line(row) -> str:
    """The unbounded window of one row in x = wa + b, as a teacher would write it."""
    lo = "-inf" if row.x_lo is None or not np.isfinite(row.x_lo) else f"{row.x_lo:.3g}"
    hi = "inf" if row.x_hi is None or not np.isfinite(row.x_hi) else f"{row.x_hi:.3g}"
    return f"x = wa+b in [{lo}, {hi}]"


def window_figure(result):
    """Width of Nielsen's window against |w|: closed form (sigmoid) as a line, the numerical check as dots, the max;
    an unbounded window (a half line) as an arrow at the top, and said in words when no width is finite."""
    fig, ax = plt.subplots(figsize=(9, 4.8))
    ws = np.array([r.abs_w for r in result.rows])
    numerical = np.array([r.width_numerical for r in result.rows])
    shown = np.isfinite(numerical)
    if result.closed_form:
        from .window import sigmoid_window_width

        dense = np.linspace(result.opens_at, ws.max(), 2000)
        ax.plot(dense, sigmoid_window_width(dense), "-", label=r"closed form $\frac{2}{|w|}\ln\left(\frac{|w|(1+\sqrt{1-4/|w|})}{2}-1\right)$")
    if shown.any():
        ax.plot(ws[shown], numerical[shown], "o" if result.closed_form else "o-", ms=4, label="numerical check")
    if result.at_abs_w is not None and np.isfinite(result.max_width):
        ax.plot([result.at_abs_w], [result.max_width], "*", ms=14, color="C3",
                label=f"max {result.max_width:.4f} at |w| = {result.at_abs_w:.4g}")
    ax.axvline(result.opens_at, color="gray", ls=":", lw=1, label=f"opens at |w| = 1 / max|f'| = {result.opens_at:.4g}")
    unbounded = np.isinf(numerical)
    if unbounded.any():
        top = blended_transform_factory(ax.transData, ax.transAxes)
        ax.plot(ws[unbounded], np.full(unbounded.sum(), 0.97), "^", ms=8, color="C3", transform=top, clip_on=False,
                label="unbounded (width infinite)")
        first = result.rows[int(np.argmax(unbounded))]
        words = (f"unbounded for |w| >= {ws[unbounded].min():.4g}: f' does not decay on one side,\n"
                 f"so |w f'(x)| >= 1 on a half line (at |w| = {first.abs_w:.4g}: {_half_line(first)})")
        ax.text(0.5, 0.5 if not shown.any() else 0.85, words, transform=ax.transAxes, ha="center", va="center",
                color="C3", fontsize=10, bbox=dict(facecolor="white", edgecolor="C3", alpha=0.9))
        if not shown.any():
            ax.set_ylim(0, 1)
            ax.set_yticks([])
    if ws.max() / max(ws.min(), 1e-300) > 20:
        ax.set_xscale("log")
        log_axis(ax, "x", log10_values=False)
    ax.set_xlabel("|w|")
    ax.set_ylabel(r"width of $\{a : |w f'(wa+b)| \geq 1\}$")
    ax.set_title(f"Nielsen's window, {result.activation}: where a factor |w f'| reaches 1")
    ax.grid(True, alpha=0.3)
    legend_outside(ax, fontsize=9)
    fig.tight_layout()
    return fig


CLIP_STYLES = {"value": ("tab:red", "s"), "norm": ("tab:blue", "o"), "global-norm": ("tab:cyan", "x"),
               "adaptive": ("tab:green", "^"), "none": ("black", ".")}


def _clip_plane(ax, result) -> None:
    """A 2-vector: the clipped arrows, the threshold circle (norm) and square (value), g's direction dashed."""
    t = result.threshold
    g = result.input
    reach = 1.6 * max([t] + [float(np.max(np.abs(m.clipped))) for m in result.results])
    ax.add_patch(plt.Circle((0, 0), t, fill=False, color="tab:blue", ls=":", label=f"||g|| = t = {t:g}"))
    ax.add_patch(plt.Rectangle((-t, -t), 2 * t, 2 * t, fill=False, color="tab:red", ls=":", label="|g_i| = t"))
    length = float(np.hypot(*g))
    if length > 0:
        ax.plot([0, g[0] / length * 2 * reach], [0, g[1] / length * 2 * reach], "k--", lw=1,
                label=f"direction of g = ({g[0]:g}, {g[1]:g}), |g| = {length:.4g}")
    for m in result.results:
        colour, _ = CLIP_STYLES[m.mode]
        dashed = m.mode == "global-norm"  # same arrow as norm: drawn thinner on top
        ax.annotate("", xy=tuple(m.clipped), xytext=(0, 0),
                    arrowprops=dict(arrowstyle="->", color=colour, lw=1 if dashed else 2, ls="--" if dashed else "-"))
        ax.plot([], [], color=colour, label=f"{m.mode}: ({m.clipped[0]:.3g}, {m.clipped[1]:.3g})")
    ax.set_xlim(-reach, reach)
    ax.set_ylim(-reach, reach)
    ax.set_aspect("equal")
    ax.axhline(0, color="gray", lw=0.5)
    ax.axvline(0, color="gray", lw=0.5)
    ax.set_xlabel("$g_1$")
    ax.set_ylabel("$g_2$")
    ax.set_title(f"clipping g in the plane, t = {t:g}")
    legend_outside(ax, fontsize=8)


def _clip_components(ax, result) -> None:
    """|component| on a log axis, before and after each mode, the threshold as a line; a component that is 0
    (no place on a log axis) on a row of its own under the axis break, labelled 0."""
    index = np.arange(1, len(result.input) + 1)
    many = len(index) > 40
    with np.errstate(divide="ignore"):
        series = [("gradient", np.asarray(result.gradient.flat_log.log10_abs, dtype=float), "black", "o", None)]
        series += [(m.mode, np.asarray(m.log10_clipped, dtype=float), *CLIP_STYLES[m.mode], "none")
                   for m in result.results]
    threshold = math.log10(result.threshold)
    for label, logs, colour, marker, fill in series:
        ax.plot(index, np.where(np.isfinite(logs), logs, np.nan), "-" if many else marker, color=colour, ms=6,
                mfc=fill, label=label)
    ax.axhline(threshold, color="gray", ls="--", lw=1, label=f"t = {result.threshold:g}")
    finite = np.concatenate([logs[np.isfinite(logs)] for _, logs, *_ in series] + [[threshold]])
    lo, hi = float(finite.min()), float(finite.max())
    pad = max(0.08 * (hi - lo), 0.05)
    lo, hi = lo - pad, hi + pad
    ticks = list(log10_ticks(lo, hi))
    all_decades = all(abs(t - round(t)) < 1e-9 for t in ticks)
    zero_row = None
    if any(np.isneginf(logs).any() for _, logs, *_ in series):
        zero_row, cut = lo - 2.5 * pad, lo - 1.2 * pad
        for label, logs, colour, marker, fill in series:
            zero = np.isneginf(logs)
            if zero.any():
                ax.plot(index[zero], np.full(zero.sum(), zero_row), marker, color=colour, ms=6, mfc=fill, zorder=5)
        ax.axhline(cut, color="black", lw=1.2, ls=(0, (4, 2)))
        ax.text(0.99, cut, "axis break: the row below is 0 ", transform=blended_transform_factory(ax.transAxes,
                ax.transData), ha="right", va="bottom", fontsize=8, color="dimgray")
        ticks.append(zero_row)
        lo = zero_row - pad
    ax.set_ylim(lo, hi)
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(
        lambda v, _: "0" if zero_row is not None and abs(v - zero_row) < 1e-12 else power_label(v, all_decades)))
    if not many:
        ax.set_xticks(index, result.gradient.labels, rotation=45 if len(index) > 8 else 0, fontsize=8)
    else:
        ax.set_xlabel("component")
    ax.set_ylabel("|component| (log scale)")
    ax.set_title("each component before and after clipping" + (" (beyond float64)" if result.rescued else ""))
    legend_outside(ax, fontsize=8)


def _clip_training(ax, training) -> None:
    """Cost per step for each run, on a log axis."""
    for run in training.runs:
        colour, _ = CLIP_STYLES[run.mode]
        with np.errstate(invalid="ignore"):
            shown = np.where(run.costs > 0, run.costs, np.nan)  # a log axis cannot show 0; nan after a blow-up
        ax.plot(np.arange(len(run.costs)), shown, color=colour, lw=2 if run.mode == "none" else 1.2,
                ls="--" if run.mode == "global-norm" else "-", label="no clipping" if run.mode == "none" else run.mode)
    ax.set_yscale("log")
    log_axis(ax, "y", log10_values=False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("gradient step")
    ax.set_ylabel("cost C = (a_L - target)^2 / 2")
    ax.set_title(f"training towards {training.target:g}, lr {training.lr:g}")
    legend_outside(ax, fontsize=8)


def clip_figure(result):
    """Before and after each clipping mode (arrows in the plane for a 2-vector), and training costs if any."""
    panels = 2 if result.training is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(8 * panels, 5.5), squeeze=False)
    plane = len(result.input) == 2 and bool(np.all(np.isfinite(result.input)))
    (_clip_plane if plane else _clip_components)(axes[0, 0], result)
    if result.training is not None:
        _clip_training(axes[0, 1], result.training)
    for ax in axes[0]:
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def _ensemble_forward(ax, result, layers) -> None:
    """Forward panel: the measured mean square of h_l beside the length map's q_l, and f(h_l)'s mean and variance;
    on a log axis (of log10 values, so any float64 value has a place) when they span more than a factor 100."""
    with np.errstate(invalid="ignore"):
        q, theory, mean, var = (np.where(np.isfinite(v), v, np.nan) for v in
                                (result.pre_q, result.q_theory, result.act_mean, result.act_var))
    # the squared statistics set the floor, |mean f| may only raise the top: a mean near 0 is no reason for a log axis
    squares = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in (q, theory, var)])
    means = np.abs(mean[np.isfinite(mean)])
    wide = bool(squares.size) and max(squares.max(), means.max(initial=0.0)) / squares.min() > 100  # else linear
    mean_label = r"measured mean $f(h_l)$"
    if wide:
        with np.errstate(divide="ignore", invalid="ignore"):
            q, theory, var, mean = (np.where(v > 0, np.log10(v), np.nan) for v in (q, theory, var, mean))
        mean_label += " (where > 0)"
    dots = result.depth <= 60
    style = dict(ms=3 if dots else 0)
    ax.plot(layers, q, "o" if dots else "o-", color="tab:orange", label=r"measured mean $h_l^2$", **style)
    ax.plot(layers, theory, "--", color="black", lw=1.2, label=r"mean field $q_l$ (length map)")
    ax.plot(layers, var, "s" if dots else "s-", mfc="none", color="tab:green", label=r"measured Var $f(h_l)$",
            **style)
    ax.plot(layers, mean, "x" if dots else "x-", color="tab:purple", label=mean_label, **style)
    if wide:
        log_axis(ax)
    ax.set_xlabel("layer l")
    ax.set_ylabel("forward statistic" + (" (log scale)" if wide else ""))
    ax.set_title("forward: the signal")
    ax.grid(True, alpha=0.3)
    legend_below(ax, fontsize=9)


def ensemble_figure(result):
    """The 5-95% band and the median of ||delta_l|| against layer l, the RMS gradient and chi1's theory line;
    beside it (when the run measured them) the forward statistics and the length map's q_l."""
    layers = np.arange(1, result.depth + 1)
    forward = result.pre_mean is not None
    if forward:
        fig, (ax_f, ax) = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw=dict(width_ratios=(2, 3)))
        _ensemble_forward(ax_f, result, layers)
    else:
        fig, ax = plt.subplots(figsize=(8, 4.8))
    with np.errstate(invalid="ignore"):
        shown = [np.where(np.isfinite(v), v, np.nan) for v in
                 (result.log10_grad_p5, result.log10_grad_p50, result.log10_grad_p95, result.log10_grad_rms,
                  result.log10_grad_theory)]
    p5, p50, p95, rms, line = shown
    ax.fill_between(layers, p5, p95, color="tab:blue", alpha=0.25, lw=0, label="5th to 95th percentile")
    ax.plot(layers, p50, "-", color="tab:blue", label="median")
    ax.plot(layers, rms, "o" if result.depth <= 60 else "-", ms=3, color="tab:orange",
            label=r"RMS $\sqrt{\mathrm{mean}\,\|\delta_l\|^2}$"
                  + (f" (×{result.measured_factor:.4g} per layer in mean square)" if result.measured_factor else ""))
    ax.plot(layers, line, "--", color="black", lw=1.2,
            label=f"mean field: $\\chi_1$ = {result.chi1:.4g} per layer (level fitted to the RMS)")
    log_axis(ax)
    ax.set_xlabel("layer l (1 = first, nearest the input)")
    ax.set_ylabel(r"$\|\partial C/\partial h_l\|$ (log scale)")
    title = (f"{result.activation}, width {result.width}, depth {result.depth}, {result.trials:,} trials,"
             f" $\\sigma_w^2$ = {result.sigma_w2:.3g}, $\\sigma_b^2$ = {result.sigma_b2:.3g}")
    if forward:
        ax.set_title(f"backward: {result.verdict}")
        fig.suptitle(title)
    else:
        ax.set_title(f"{title}: {result.verdict}")
    ax.grid(True, alpha=0.3)
    legend_below(ax, fontsize=9)
    for axis in fig.axes:
        axis.set_xlim(0.5, result.depth + 0.5)  # every layer in view, even where only one has a finite value
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # no layer 2.5
    fig.tight_layout()
    return fig
