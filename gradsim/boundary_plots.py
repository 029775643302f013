"""Decision-boundary figures of 2-D classifiers (TensorFlow Playground's look): a still (.png, .svg, .pdf) or a GIF.

Imported only when --plot is given. Every heat map is gradsim.plane.surface: the network's own forward pass.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from . import plane, plots
from .plots import plt

#: playground.ts colorScale: -1 orange, 0 grey-white, +1 blue; the heat map passes through pure white at 0.5.
ORANGE, BLUE = "#f59322", "#0877bd"
#: Loss curves, one colour per net: none of them the classes' orange or blue.
CURVES = ("black", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:gray")
#: A still's resolution (a wide figure: 110 dpi keeps it small); a GIF's frames per second and resolution.
DPI, FPS, GIF_DPI = 110, 8, 72


def _colormap():
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("playground", [ORANGE, "#ffffff", BLUE])


def region_edges(ids: np.ndarray) -> np.ndarray:
    """Grid points whose right or upper neighbour lies in another linear region."""
    edges = np.zeros(ids.shape, dtype=bool)
    edges[:, :-1] |= ids[:, 1:] != ids[:, :-1]
    edges[:-1, :] |= ids[1:, :] != ids[:-1, :]
    return edges


def _label(r) -> str:
    scale = f" x{r.init_scale:g}" if r.init_scale != 1 else ""
    return f"{r.activation}, hidden {','.join(map(str, r.hidden))}, init {r.init}{scale}"


def _regions_words(s: plane.Surface) -> str:
    if s.regions is None:
        return "regions: n/a (smooth)"
    return f"{s.regions.total:,} linear region{'' if s.regions.total == 1 else 's'}"


class _Panel:
    """One net's heat map with its 0.5 contour, region edges and the points; `show` redraws it for new weights."""

    def __init__(self, ax, result, cmap):
        data, self.ax, self.result = result.dataset, ax, result
        w = data.window
        self.extent = (*w.x1, *w.x2)
        self.axes = w.axes()
        self.image = ax.imshow(np.zeros((w.grid, w.grid)), origin="lower", extent=self.extent, cmap=cmap,
                               vmin=0.0, vmax=1.0, interpolation="nearest")
        self.edges = ax.imshow(np.zeros((w.grid, w.grid, 4)), origin="lower", extent=self.extent,
                               interpolation="nearest")
        self.contour = None
        for points, labels, edge, marker, name in ((data.points_train, data.y_train, "white", "o", "training"),
                                                   (data.points_test, data.y_test, "black", "^", "held out")):
            colours = np.where(labels == 1, BLUE, ORANGE)
            ax.scatter(points[:, 0], points[:, 1], c=colours, s=14, marker=marker, edgecolors=edge, linewidths=0.6,
                       zorder=3)
            ax.scatter([], [], c="lightgray", s=14, marker=marker, edgecolors=edge if edge == "black" else "gray",
                       linewidths=0.6, label=name)
        ax.set_xlim(*w.x1)
        ax.set_ylim(*w.x2)
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")

    def show(self, ws, bs, epoch: int, accuracy: float) -> plane.Surface:
        from .activations import get

        r = self.result
        s = plane.surface(ws, bs, get(r.activation, r.alpha), r.dataset)
        self.image.set_data(s.probability)
        rgba = np.zeros(s.probability.shape + (4,))
        if s.region_ids is not None:
            rgba[region_edges(s.region_ids), 3] = 0.22  # faint black where the region changes
        self.edges.set_data(rgba)
        if self.contour is not None:
            self.contour.remove()
            self.contour = None
        p = s.probability
        if np.isfinite(p).all() and p.min() < 0.5 < p.max():
            self.contour = self.ax.contour(*self.axes, p, levels=[0.5], colors="black", linewidths=1.2)
        self.ax.set_title(f"{_label(r)}\nepoch {epoch}: {_regions_words(s)}, held-out acc {100 * accuracy:.0f}%",
                          fontsize=9)
        return s


def _layout(results: Sequence):
    n = len(results)
    fig, axes = plt.subplots(1, n + 1, figsize=(3.9 * n + 4.2, 4.3),
                             gridspec_kw={"width_ratios": [1] * n + [1.05]})
    cmap = _colormap()
    panels = [_Panel(ax, r, cmap) for ax, r in zip(axes[:-1], results)]
    loss = axes[-1]
    for k, r in enumerate(results):
        epochs = [e.epoch for e in r.epochs]
        colour = CURVES[k % len(CURVES)]
        loss.plot(epochs, [e.loss for e in r.epochs], "-", color=colour, label=_label(r))
        loss.plot(epochs, [e.test_loss for e in r.epochs], "--", color=colour)
    loss.set_xlabel("epoch")
    losses = np.array([e.loss for r in results for e in r.epochs] + [e.test_loss for r in results for e in r.epochs])
    losses = losses[np.isfinite(losses) & (losses > 0)]
    wide = losses.size > 0 and losses.max() > 30 * losses.min()  # e.g. an oversized init, 100s of times the end
    if wide:
        loss.set_yscale("log")
    loss.set_ylabel(f"{results[0].cost} loss" + (" (log scale)" if wide else ""))
    loss.set_title(f"{results[0].data}: loss per epoch", fontsize=9)
    loss.grid(True, alpha=0.3)
    loss.plot([], [], "-", color="gray", label="training (solid)")
    loss.plot([], [], "--", color="gray", label="held out (dashed)")
    # one row under the whole figure, off the curves and the points
    fig.legend(*loss.get_legend_handles_labels(), loc="lower center", ncol=n + 2, fontsize=8, frameon=False)
    panels[0].ax.legend(loc="lower left", fontsize=7, framealpha=0.8)
    fig.suptitle(f"{results[0].data_description}\nP(class 1): orange 0, white 0.5, blue 1; black line: 0.5; "
                 "grey: linear-region edges", fontsize=9)
    return fig, panels, loss


def boundary_figure(results: Sequence):
    """Each trained net's P(class 1) over the window side by side, its 0.5 contour and region edges; the losses."""
    fig, panels, _ = _layout(results)
    for p in panels:
        p.show(p.result.weights, p.result.biases, p.result.epochs[-1].epoch, p.result.epochs[-1].accuracy)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def boundary_animation(results: Sequence):
    """One frame per recorded epoch (TrainResult.snapshots, the same epochs for every net), a marker on the losses."""
    from matplotlib.animation import FuncAnimation

    fig, panels, loss = _layout(results)
    marker = loss.axvline(0, color="gray", lw=1)
    epochs = sorted({s[0] for r in results for s in r.snapshots})

    def draw(k: int):
        for p in panels:  # a run that diverged early shows its last snapshot from then on
            epoch, ws, bs = [s for s in p.result.snapshots if s[0] <= epochs[k]][-1]
            p.show(ws, bs, epoch, p.result.epochs[epoch].accuracy)
        marker.set_xdata([epochs[k]] * 2)
        return []

    draw(0)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return FuncAnimation(fig, draw, frames=len(epochs), blit=False, repeat=False)


def _writer():
    """matplotlib's PillowWriter, each frame cut to a 128-colour palette without dithering (a dithered heat map
    does not compress: the GIF is several times smaller this way)."""
    from matplotlib.animation import PillowWriter

    class Writer(PillowWriter):
        def grab_frame(self, **savefig_kwargs):
            super().grab_frame(**savefig_kwargs)
            from PIL import Image

            self._frames[-1] = self._frames[-1].convert("RGB").quantize(128, dither=Image.Dither.NONE)

    return Writer(fps=FPS)


def save(results: Sequence, path: str | os.PathLike) -> Path:
    """A still for .png/.svg/.pdf, an animated GIF (Pillow) for .gif; written atomically."""
    path = Path(path)
    if path.suffix.lower() != ".gif":
        return plots.save(boundary_figure(results), path)
    animation = boundary_animation(results)
    try:
        return plots.write_atomically(path, lambda tmp: animation.save(tmp, writer=_writer(), dpi=GIF_DPI))
    finally:
        plt.close(animation._fig)
