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
    try:
        return atomic(path, lambda tmp: fig.savefig(tmp, format=path.suffix.lstrip(".").lower(), dpi=150,
                                                    bbox_inches="tight"))
    finally:
        plt.close(fig)


def atomic(path: str | os.PathLike, write) -> Path:
    """Call write(tmp) on a temporary file in path's folder (same suffix), then rename it to path."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a figure gets the usual permissions
        os.replace(tmp, path)
    finally:
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


def steps_figure(result):
    """f(x_k) against step k for each walk (the trace), the target as a dashed line, each count in the legend."""
    fig, ax = plt.subplots(figsize=(8, 4.8))
    longest = max(len(w.x) for w in result.walks)
    colours = plt.cm.tab20(np.linspace(0, 1, 20)) if len(result.walks) > 10 else plt.cm.tab10(np.arange(10))
    for w, colour in zip(result.walks, colours):
        k = np.arange(len(w.x))
        count = f"{w.steps} step{'' if w.steps == 1 else 's'}" if w.reached else f"not reached ({w.stop})"
        ax.plot(k, w.value, "o-" if len(k) <= 200 else "-", ms=3, color=colour, label=f"{w.activation}: {count}")
        if len(result.walks) <= 3:
            ax.annotate(count, (k[-1], w.value[-1]), xytext=(4, 4), textcoords="offset points", fontsize=9,
                        color=colour)
    ax.axhline(result.target, color="gray", ls="--", lw=1, label=f"target {result.target:g}")
    if longest > 1000:
        ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(left=0)
    ax.set_xlabel("step k")
    ax.set_ylabel("f(x_k)")
    sign = "+" if result.direction == "up" else "-"
    ax.set_title(f"f(x) from {result.start:g} to {result.target:g}: x <- x {sign} {result.lr:g} f'(x)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8 if len(result.walks) > 6 else None)
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
    left.set_xlabel("epoch (0 = at initialisation)")
    left.set_ylabel(r"speed of learning $\|\partial C/\partial b^l\|$")
    left.set_title(f"{result.activation}, hidden {','.join(map(str, result.hidden))}, init {result.init}"
                   + (f", clip {result.clip_mode} {result.clip_threshold:g}" if result.clip_mode != "none" else ""))
    left.legend(fontsize=8)
    right.plot(epochs, [e.loss for e in result.epochs], "-", label="training loss")
    right.plot(epochs, [e.test_loss for e in result.epochs], "--", label="held-out loss")
    right.set_xlabel("epoch")
    right.set_ylabel(f"{result.cost} cost")
    right.set_title(f"{result.data}: held-out accuracy {100 * result.epochs[-1].accuracy:.1f}%")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
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


def phase_figure(result):
    """Heatmap of log10 chi1 over sigma_w^2 x sigma_b^2 (blue vanishing, red exploding), the critical line, the inits."""
    from matplotlib.colors import TwoSlopeNorm

    fig, ax = plt.subplots(figsize=(8, 5.2))
    with np.errstate(divide="ignore"):
        log_chi = np.log10(result.chi1)
    finite = log_chi[np.isfinite(log_chi)]
    reach = max(float(np.abs(finite).max()) if finite.size else 1.0, 1e-3)
    mesh = ax.pcolormesh(result.sigma_w2, result.sigma_b2, np.clip(log_chi, -reach, reach), shading="nearest",
                         cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -reach, reach))
    bar = fig.colorbar(mesh, ax=ax)
    bar.set_label(r"$\chi_1$ (log scale; white = critical)")
    bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{10 ** v:.3g}"))
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
    ax.set_xlim(0, result.sigma_w2[-1])
    ax.set_ylim(0, result.sigma_b2[-1])
    ax.set_xlabel(r"$\sigma_w^2$ (weight variance x fan-in)")
    ax.set_ylabel(r"$\sigma_b^2$ (bias variance)")
    ax.set_title(f"{result.activation}: mean-field $\\chi_1$, vanishing (blue) vs exploding (red)")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def window_figure(result):
    """Width of Nielsen's window against |w|: closed form (sigmoid) as a line, the numerical check as dots, the max."""
    fig, ax = plt.subplots(figsize=(8, 4.8))
    ws = np.array([r.abs_w for r in result.rows])
    numerical = np.array([r.width_numerical for r in result.rows])
    shown = np.isfinite(numerical)
    if result.closed_form:
        from .window import sigmoid_window_width

        dense = np.linspace(result.opens_at, ws.max(), 2000)
        ax.plot(dense, sigmoid_window_width(dense), "-", label=r"closed form $\frac{2}{|w|}\ln\left(\frac{|w|(1+\sqrt{1-4/|w|})}{2}-1\right)$")
    ax.plot(ws[shown], numerical[shown], "o" if result.closed_form else "o-", ms=4, label="numerical check")
    if result.at_abs_w is not None and np.isfinite(result.max_width):
        ax.plot([result.at_abs_w], [result.max_width], "*", ms=14, color="C3",
                label=f"max {result.max_width:.4f} at |w| = {result.at_abs_w:.4g}")
    if not shown.all():
        ax.text(0.98, 0.95, f"unbounded for |w| > {result.unbounded_from:.4g}", transform=ax.transAxes, ha="right",
                va="top", color="C3")
    if ws.max() / max(ws.min(), 1e-300) > 20:
        ax.set_xscale("log")
    ax.set_xlabel("|w|")
    ax.set_ylabel(r"width of $\{a : |w f'(wa+b)| \geq 1\}$")
    ax.set_title(f"Nielsen's window, {result.activation}: where a factor |w f'| reaches 1")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)
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
    ax.set_title(f"clipping g in the plane, t = {t:g}")
    ax.legend(fontsize=8, loc="lower left")


def _clip_components(ax, result) -> None:
    """|component| on a log axis, before and after each mode, the threshold as a line."""
    index = np.arange(1, len(result.input) + 1)
    many = len(index) > 40
    ax.plot(index, result.gradient.flat_log.log10_abs, "-" if many else "o", color="black", ms=6,
            label="gradient")
    with np.errstate(divide="ignore"):
        for m in result.results:
            colour, marker = CLIP_STYLES[m.mode]
            shown = np.where(np.isfinite(m.log10_clipped), m.log10_clipped, np.nan)  # zeros have no log
            ax.plot(index, shown, "-" if many else marker, color=colour, ms=6, mfc="none", label=m.mode)
    ax.axhline(np.log10(result.threshold), color="gray", ls="--", lw=1, label=f"t = {result.threshold:g}")
    if not many:
        ax.set_xticks(index, result.gradient.labels, rotation=45 if len(index) > 8 else 0, fontsize=8)
    else:
        ax.set_xlabel("component")
    power_of_ten_axis(ax)
    ax.set_ylabel("|component| (log scale)")
    ax.set_title("each component before and after clipping" + (" (beyond float64)" if result.rescued else ""))
    ax.legend(fontsize=8)


def _clip_training(ax, training) -> None:
    """Cost per step for each run, on a log axis."""
    for run in training.runs:
        colour, _ = CLIP_STYLES[run.mode]
        with np.errstate(invalid="ignore"):
            shown = np.where(run.costs > 0, run.costs, np.nan)  # a log axis cannot show 0; nan after a blow-up
        ax.plot(np.arange(len(run.costs)), shown, color=colour, lw=2 if run.mode == "none" else 1.2,
                ls="--" if run.mode == "global-norm" else "-", label="no clipping" if run.mode == "none" else run.mode)
    ax.set_yscale("log")
    ax.set_xlabel("gradient step")
    ax.set_ylabel("cost C = (a_L - target)^2 / 2")
    ax.set_title(f"training towards {training.target:g}, lr {training.lr:g}")
    ax.legend(fontsize=8)


def clip_figure(result):
    """Before and after each clipping mode (arrows in the plane for a 2-vector), and training costs if any."""
    panels = 2 if result.training is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 5.5), squeeze=False)
    plane = len(result.input) == 2 and bool(np.all(np.isfinite(result.input)))
    (_clip_plane if plane else _clip_components)(axes[0, 0], result)
    if result.training is not None:
        _clip_training(axes[0, 1], result.training)
    for ax in axes[0]:
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def ensemble_figure(result):
    """The 5-95% band and the median of ||delta_l|| against layer l, the RMS gradient and chi1's theory line."""
    layers = np.arange(1, result.depth + 1)
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
    power_of_ten_axis(ax)
    ax.set_xlabel("layer l (1 = first, nearest the input)")
    ax.set_ylabel(r"$\|\partial C/\partial h_l\|$ (log scale)")
    ax.set_title(f"{result.activation}, width {result.width}, depth {result.depth}, {result.trials:,} trials,"
                 f" $\\sigma_w^2$ = {result.sigma_w2:.3g}, $\\sigma_b^2$ = {result.sigma_b2:.3g}: {result.verdict}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig
