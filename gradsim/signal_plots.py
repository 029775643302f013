"""Signal-propagation figures: forward and backward panels of `signalprop`, the BatchNorm rate, the c-map overlay.

Imported only when a figure is asked for; knows nothing of the command line.
"""

from __future__ import annotations

import numpy as np

from .plots import MaxNLocator, log_axis, plt  # matplotlib set up once, in plots (quiet config folder, Agg)


def _forward(ax, r, layers) -> None:
    """Brock et al.'s signal-propagation plot: variance (and channel metrics) per layer beside the length map."""
    ax.plot(layers, r.pre_var, "o", ms=3, color="tab:blue", label="measured Var(pre) over units, examples, trials")
    ax.plot(layers, r.q_theory, "-", color="black", lw=1.2, label=r"mean field $q_l$ (length map from $q_0 = 1$)")
    if r.chan_sq_mean is not None:
        ax.plot(layers, r.chan_var, "s", ms=3, mfc="none", color="tab:green", label="average channel variance")
        ax.plot(layers, r.chan_sq_mean, "^", ms=3, color="tab:red", label="average channel squared mean")
    ax.plot(layers, r.act_mean, "x", ms=4, color="tab:purple", label="mean of f(.) (activations)")
    if np.nanmax(r.pre_var) / max(np.nanmin(np.abs(r.pre_var)), 1e-300) > 30:
        ax.set_yscale("symlog", linthresh=1e-2)
    ax.set_xlabel("residual block l" if r.arch.alpha is not None else "layer l")
    ax.set_ylabel("forward statistic")
    ax.set_title("forward: signal propagation")
    ax.legend(fontsize=8)


def _backward(ax, r, layers) -> None:
    """The 5-95% band and median of ||delta_l||, the RMS, and the theory line with its per-layer factors."""
    with np.errstate(invalid="ignore"):
        p5, p50, p95, rms, line = (np.where(np.isfinite(v), v, np.nan) for v in
                                   (r.log10_grad_p5, r.log10_grad_p50, r.log10_grad_p95, r.log10_mean_sq / 2,
                                    r.log10_grad_theory))
    ax.fill_between(layers, p5, p95, color="tab:blue", alpha=0.2, lw=0, label="5th to 95th percentile")
    ax.plot(layers, p50, "-", color="tab:blue", lw=1, label="median")
    measured = f" (x{r.measured_factor:.4g} per layer)" if r.measured_factor else ""
    ax.plot(layers, rms, "o", ms=3, color="tab:orange", label=f"RMS, measured{measured}")
    theory = f", x{r.theory_factor:.4g} per layer" if r.theory_factor is not None else ""
    ax.plot(layers, line, "--", color="black", lw=1.2, label=f"mean field{theory} (level fitted)")
    log_axis(ax)
    ax.set_xlabel("layer l (1 = first, nearest the input)")
    ax.set_ylabel(r"$\|\partial C/\partial h_l\|$ (log scale)")
    ax.set_title(f"backward: {r.verdict}")
    ax.legend(fontsize=8)


def _correlation(ax, r, layers) -> None:
    ax.plot(layers, r.correlation, "o", ms=3, color="tab:blue", label="measured cosine of the two inputs' pre")
    if r.correlation_theory is not None:
        ax.plot(layers, r.correlation_theory, "-", color="black", lw=1.2, label="c-map iteration")
    ax.set_xlabel("layer l")
    ax.set_ylabel("correlation c_l")
    ax.set_title(f"two inputs, correlation {r.arch.correlation:g} at the input")
    ax.legend(fontsize=8)


def signal_figure(r):
    """Forward panel (the SPP) beside the backward one; a correlation panel with two inputs."""
    panels = 3 if r.correlation is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(6.2 * panels, 4.6))
    layers = np.arange(1, r.arch.depth + 1)
    _forward(axes[0], r, layers)
    _backward(axes[1], r, layers)
    if panels == 3:
        _correlation(axes[2], r, layers)
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no layer 1.5
    a = r.arch
    fig.suptitle(f"{r.activation} · {a.describe()} · width {a.width}, depth {a.depth}, batch {a.batch}, "
                 f"{r.trials:,} trials · $\\sigma_w^2$ = {a.sigma_w2:.3g}, $\\sigma_b^2$ = {a.sigma_b2:.3g}")
    fig.tight_layout()
    return fig


def bn_rate_figure(rows, batches_theory, theory):
    """Measured per-layer factor of the mean squared gradient (BatchNorm + relu) against batch, per width, with
    lambda(B); rows are (width, batch, measured) triples."""
    fig, ax = plt.subplots(figsize=(8, 4.8))
    ax.plot(batches_theory, theory, ".-", color="black", lw=1, ms=3, label=r"theory $\lambda(B)$ (infinite width)")
    ax.axhline(np.pi / (np.pi - 1), color="gray", ls=":", lw=1, label=r"$\pi/(\pi-1) \approx 1.467$ (B $\to\infty$)")
    widths = sorted({w for w, _, _ in rows})
    for k, width in enumerate(widths):
        pts = sorted((b, m) for w, b, m in rows if w == width)
        ax.plot([b * (1 + 0.04 * (k - 1)) for b, _ in pts], [m for _, m in pts], "o", color=f"C{k}", ms=6,
                label=f"measured, width {width} (nudged sideways)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size B")
    ax.set_ylabel("factor per layer of mean $\\|\\partial C/\\partial h_l\\|^2$")
    ax.set_title("BatchNorm before relu at init: the gradient explodes (Yang et al., ICLR 2019)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def correlation_overlay(fig, result, grid) -> None:
    """On the phase figure: xi_c = -1/ln chi_c contours and the ordered / chaotic labels (Schoenholz et al. 2017)."""
    ax = fig.axes[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = -1.0 / np.log(grid.chi_c)
    xi = np.where(np.isfinite(xi) & (xi > 0), xi, np.nan)
    if np.any(np.isfinite(xi)):
        levels = [v for v in (1, 2, 5, 10, 20, 50) if np.nanmin(xi) < v < np.nanmax(xi)]
        if levels:
            cs = ax.contour(result.sigma_w2, result.sigma_b2, xi, levels=levels, colors="dimgray", linewidths=0.8)
            ax.clabel(cs, fmt=lambda v: f"$\\xi_c$={v:g}", fontsize=7)
    chaotic = grid.c_star < 1
    if np.any(chaotic):
        rows, cols = np.nonzero(chaotic)
        ax.text(result.sigma_w2[int(np.median(cols))], result.sigma_b2[int(np.percentile(rows, 25))],
                "chaotic: c* < 1", ha="center", fontsize=9, color="darkred")
    ordered = ~chaotic & np.isfinite(grid.c_star)
    row = int(0.6 * (len(result.sigma_b2) - 1))
    cols = np.flatnonzero(ordered[row])
    if cols.size:  # in the ordered part of a row 60% up, right of the legend
        ax.text(result.sigma_w2[cols[int(0.75 * (cols.size - 1))]], result.sigma_b2[row], "ordered: c* = 1",
                ha="center", fontsize=9, color="navy", rotation=90)
