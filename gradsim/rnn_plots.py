"""Figures of `gradsim rnn`: the gradient through time, the LSTM carousel, Pascanu et al.'s cliff, training curves.

Imported only when --plot is given; saved with `plots.save` (atomic).
"""

from __future__ import annotations

import numpy as np

from .plots import CLIP_STYLES, legend_below, log_axis, plt


def _finite(v: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(v), v, np.nan)


def _line_style(steps: int) -> str:
    return "o-" if steps <= 60 else "-"


def time_figure(r):
    """log10 ||dC/dh_t|| against t, and the per-step factor beside it (the line |factor| = 1 dashed)."""
    t = np.arange(1, r.steps + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5.2), gridspec_kw={"width_ratios": [3, 2]})
    name = r"$|\partial C/\partial h_t|$" if r.units == 1 else r"$\|\partial C/\partial h_t\|$"
    left.plot(t, _finite(r.log10_grad_h), _line_style(r.steps), ms=3, label=name)
    if r.units == 1:
        left.plot(t, _finite(r.log10_grad_w), "--", alpha=0.7, label=r"$|\partial C/\partial w|$ from step t")
    log_axis(left)
    left.set_xlabel("time step t (1 = first)")
    left.set_ylabel("gradient magnitude (log scale)")
    per = "" if r.log10_factor_per_step is None else f" (×{10 ** r.log10_factor_per_step:.3g} per step)" \
        if abs(r.log10_factor_per_step) < 300 else ""
    left.set_title(f"BPTT, {r.activation} RNN, {r.units} unit{'s' if r.units > 1 else ''}, T {r.steps}: "
                   f"{r.regime}{per}")
    legend_below(left, fontsize=9)
    with np.errstate(over="ignore", under="ignore"):
        factor = 10.0 ** _finite(r.log10_factor)
    right.plot(t, np.where(factor > 0, factor, np.nan), _line_style(r.steps), ms=3, color="tab:orange",
               label="measured")
    right.axhline(1.0, color="gray", ls="--", lw=1, label="factor 1")
    bound = r.bounds.largest_singular_value * r.bounds.gamma
    if bound > 0:
        right.axhline(bound, color="tab:red", ls=":", lw=1.2,
                      label=f"bound {'|w|' if r.units == 1 else 'sigma_max(W)'} max|f'| = {bound:.3g}")
    right.set_yscale("log")
    log_axis(right, log10_values=False)
    right.set_xlabel("time step t")
    right.set_ylabel("|w f'(z_t)|" if r.units == 1 else r"$\|\mathrm{diag}\,f'(z_t)\,W\|_2$")
    right.set_title("per-step factor")
    legend_below(right, fontsize=8, ncol=1)
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def lstm_figure(r):
    """The carousel prod f_k, the LSTM's |dC/dc_t| and the vanilla RNN's prod |w f'(z_k)| against t."""
    t = np.arange(1, r.steps + 1)
    p = r.lstm
    fig, ax = plt.subplots(figsize=(8.5, 5.6))
    ax.plot(t, _finite(p.log10_carousel), "-", lw=2.5, color="tab:green",
            label=r"LSTM carousel $\prod_{k>t} f_k$ (forget gates)")
    ax.plot(t, _finite(p.log10_grad_c), "--", color="tab:blue", label=r"LSTM $|\partial C/\partial c_t|$ (all paths)")
    ax.plot(t, _finite(p.vanilla_log10_product), "-", color="tab:red",
            label=f"{r.activation} RNN " + r"$\prod_{k>t} |w f'(z_k)|$" + f", w = {r.weight:g}")
    log_axis(ax)
    ax.set_xlabel("time step t")
    ax.set_ylabel("product from step t to T, or gradient (log scale)")
    ax.set_title(f"Constant error carousel (Hochreiter & Schmidhuber 1997): forget bias {r.forget_bias:g}, T {r.steps}")
    ax.grid(True, alpha=0.3)
    legend_below(ax, fontsize=9, ncol=1)
    fig.tight_layout()
    return fig


def surface_figure(r):
    """Pascanu et al.'s error surface: C(w, b) with the wall and descent paths, and log10 ||grad C|| beside it."""
    s = r.surface
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 6.2))
    mesh = left.pcolormesh(s.w, s.b, _finite(s.cost), shading="nearest", cmap="viridis")
    fig.colorbar(mesh, ax=left, label=f"cost $(h_T - {s.target:g})^2/2$")
    grad = right.pcolormesh(s.w, s.b, _finite(s.log10_grad_norm), shading="nearest", cmap="magma")
    bar = fig.colorbar(grad, ax=right, label=r"$\|\nabla C\|$ (log scale)")
    log_axis(bar.ax)
    for ax in (left, right):
        ax.plot(s.wall_w, s.wall_b, "o", ms=2.5, color="white", mec="black", mew=0.3,
                label=r"wall: a fixed point with $|w f'(w h^* + b)| = 1$")
        for tr in s.trajectories:
            colour = "tab:red" if tr.mode == "none" else CLIP_STYLES.get(tr.mode, ("tab:cyan", "o"))[0]
            if tr.mode == "norm":
                colour = "deepskyblue"
            name = "no clipping" if tr.mode == "none" else f"clip {tr.mode} {s.threshold:g}"
            longest = float(tr.step_length.max()) if tr.step_length.size else 0.0
            ax.plot(tr.w, tr.b, "o-", ms=3, lw=1.5, color=colour, label=f"{name} (longest step {longest:.3g})")
        ax.plot([s.trajectories[0].w[0]], [s.trajectories[0].b[0]], "*", ms=14, color="gold", mec="k",
                label="start")
        ax.set_xlim(s.w[0], s.w[-1])
        ax.set_ylim(s.b[0], s.b[-1])
        ax.set_xlabel("recurrent weight w")
        ax.set_ylabel("bias b")
    left.set_title(f"Cliff of a one-unit {r.activation} RNN, T {r.steps}, h0 {r.h0:g} (Pascanu et al. 2013)")
    right.set_title(f"gradient norm; descent lr {s.lr:g}")
    legend_below(left, fontsize=8)
    fig.tight_layout()
    return fig


def training_figure(r):
    """Cost per epoch of each run (log axis), the largest gradient norm in the legend."""
    tr = r.training
    fig, ax = plt.subplots(figsize=(8.5, 5.8))
    for run in tr.runs:
        colour, _ = CLIP_STYLES[run.mode]
        shown = np.where(run.costs > 0, run.costs, np.nan)
        name = "no clipping" if run.mode == "none" else run.mode
        extra = f", diverged at epoch {run.diverged_at}" if run.diverged_at else ""
        ax.plot(np.arange(len(run.costs)), shown, color=colour, lw=2 if run.mode == "none" else 1.3,
                ls="--" if run.mode == "global-norm" else "-",
                label=f"{name}: max ||g|| {10 ** min(run.log10_max_grad_norm, 300):.3g}{extra}")
    ax.axhline(0.5, color="gray", ls=":", lw=1, label="0.5: output 0 (nothing remembered)")
    ax.set_yscale("log")
    log_axis(ax, log10_values=False)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean cost")
    ax.set_title(f"Recall x_1 after {tr.steps - 1} noise steps: {r.activation}, {tr.units} units, "
                 f"radius {r.radius if r.radius is not None else abs(r.weight):g}, lr {tr.lr:g}, "
                 f"threshold {tr.threshold:g}")
    ax.grid(True, alpha=0.3)
    legend_below(ax, fontsize=8)
    fig.tight_layout()
    return fig


def figure(r):
    """The figure for the run: surface, training, LSTM or the gradient through time."""
    if r.surface is not None:
        return surface_figure(r)
    if r.training is not None:
        return training_figure(r)
    if r.lstm is not None:
        return lstm_figure(r)
    return time_figure(r)
