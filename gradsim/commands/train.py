"""`gradsim train`: a fully connected net trained by mini-batch gradient descent, each layer's speed of learning."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .. import render, training
from ..options import AlphaOpt, AnimatedPlotOpt, FormatOpt, SeedOpt, finite, positive, progress, usage_errors
from ..errors import GradsimError
from ..training import Epoch, TrainResult

#: A table shows every epoch up to this many rows, else an even selection (JSON and CSV have all).
ROWS = 16
#: A table shows every hidden layer's speed up to this many layers (4 beside the dead-unit column), else the
#: first and last half of that many.
LAYERS = 6


def _shown_epochs(n: int, limit: int = ROWS) -> list[int]:
    """Indices of the epochs a table shows: all of them, or `limit` spread evenly with the first and last."""
    if n <= limit:
        return list(range(n))
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})


def _shown_layers(k: int, limit: int = LAYERS) -> list[int]:
    """Indices of the hidden layers a table shows: all, or the first and last limit/2."""
    return list(range(k)) if k <= limit else list(range(limit // 2)) + list(range(k - limit // 2, k))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _percent(x: float) -> str:
    return render.num(100.0 * x, 3)


def _title(r: TrainResult) -> str:
    alpha = f" (alpha {r.alpha:g})" if r.alpha is not None else ""
    cost = "cross-entropy on softmax" if r.cost == "cross-entropy" else "quadratic on sigmoid outputs"
    clip = f" · clip {r.clip_mode} {r.clip_threshold:g}" if r.clip_mode != "none" else ""
    scale = f" x{r.init_scale:g}" if r.init_scale != 1 else ""
    return (f"Training · {r.activation}{alpha} · hidden {','.join(map(str, r.hidden))} · init {r.init}{scale} · {cost}\n"
            f"lr {r.lr:g} · batch {r.batch} · {_plural(r.epochs_requested, 'epoch')} · seed {r.seed}{clip}\n"
            f"data: {r.data_description}: {r.n_train} training, {r.n_test} held out")


def _speed_story(e: Epoch, layers: int, when: str) -> str:
    """'at initialisation hidden layer 4 learns 139x faster than layer 1 (x5.2 per layer)'."""
    if e.log10_ratio is None:
        if e.speeds[0] == 0 and e.speeds[-1] == 0:
            return f"{when}: hidden layers 1 and {layers} do not learn at all (speed 0)."
        return f"{when}: the speed of hidden layer 1 or {layers} is 0 or not finite."
    way = "faster" if e.log10_ratio >= 0 else "slower"
    per_layer = f" (x{render.num(10 ** (e.log10_ratio / (layers - 1)), 3)} per layer)" if layers > 1 else ""
    return (f"{when}: hidden layer {layers} learns {render.times(abs(e.log10_ratio))}x {way} than layer 1"
            f"{per_layer}.")


def _notes(r: TrainResult) -> list[str]:
    first, last, k = r.epochs[0], r.epochs[-1], len(r.hidden)
    lines = ["speed of hidden layer l = ||dC/db^l||, C the mean cost over the training set (Nielsen, ch. 5)."]
    if k > 1:
        lines.append(_speed_story(first, k, "at initialisation"))
        if last.epoch > 0:
            lines.append(_speed_story(last, k, f"after {_plural(last.epoch, 'epoch')}"))
    lines.append(f"loss {render.num(first.loss)} -> {render.num(last.loss)}, held-out accuracy "
                 f"{_percent(first.accuracy)}% -> {_percent(last.accuracy)}%.")
    if last.dead_fraction is not None and r.diverged_at is None:
        dead = ", ".join(f"{_percent(d)}%" for d in last.dead_fraction)
        passes = "no gradient" if r.activation == "relu" else f"only alpha = {r.alpha:g} of it"
        lines.append(f"dead units at the end (z <= 0 on every training example: {passes}): {dead}.")
    if r.clip_mode != "none":
        clipped, steps = sum(e.clipped_steps for e in r.epochs), sum(e.steps for e in r.epochs)
        lines.append(f"clipping ({r.clip_mode}, threshold {r.clip_threshold:g}) changed the gradient in {clipped}"
                     f" of {steps} steps.")
    lines += _plane_notes(r)
    if r.diverged_at is not None:
        lines.append(f"diverged: a parameter stopped being finite in epoch {r.diverged_at} (is lr too large?); "
                     f"training stopped there.")
    return lines


def _plane_notes(r: TrainResult) -> list[str]:
    """Linear regions (2-D sets) and, where units of a layer coincide, how many distinct units there are."""
    lines = []
    window = getattr(r.dataset, "window", None)
    first, last = r.epochs[0].regions, r.epochs[-1].regions
    if window is not None and last is None:
        lines.append(f"linear regions: not defined for {r.activation} (smooth: the boundary is curved, not made "
                     "of straight pieces).")
    elif window is not None:
        grid = f"{window.grid} x {window.grid} grid on [{window.x1[0]:g}, {window.x1[1]:g}]^2"
        per_layer = ", ".join(f"{n:,}" for n in last.per_layer)
        lines.append(f"linear regions (distinct on/off patterns of the hidden units on the {grid}): {first.total:,} "
                     f"at initialisation -> {last.total:,} after {_plural(r.epochs[-1].epoch, 'epoch')}; per "
                     f"layer alone {per_layer}.")
    if any(d < n for d, n in zip(r.distinct_units, r.hidden)):
        units = ", ".join(f"{d} of {n}" for d, n in zip(r.distinct_units, r.hidden))
        lines.append(f"distinct units per hidden layer at the end (rows of W, b compared exactly): {units}; "
                     "units that start identical get identical gradients and stay identical.")
    return lines


def _table(r: TrainResult) -> render.Table:
    dead = r.epochs[0].dead_fraction is not None
    layers = _shown_layers(len(r.hidden), LAYERS - 2 if dead else LAYERS)
    clip = r.clip_mode != "none"
    headers = (["epoch", "loss", "test acc %"] + [f"speed {j + 1}" for j in layers]
               + (["last/1st"] if len(r.hidden) > 1 else []) + (["dead %"] if dead else [])
               + (["clipped"] if clip else []) + (["regions"] if r.epochs[0].regions is not None else []))
    rows = []
    for i in _shown_epochs(len(r.epochs)):
        e = r.epochs[i]
        row = [str(e.epoch), render.num(e.loss), _percent(e.accuracy)] + [render.num(e.speeds[j]) for j in layers]
        row += [render.num(e.ratio, 3)] if len(r.hidden) > 1 else []
        row += [" ".join(_percent(e.dead_fraction[j]) for j in layers)] if dead else []
        row += [f"{e.clipped_steps}/{e.steps}"] if clip else []
        row += [f"{e.regions.total:,}"] if e.regions is not None else []
        rows.append(row)
    return render.Table(headers, rows)


def _epoch_data(e: Epoch) -> dict:
    return dict(epoch=e.epoch, loss=e.loss, test_loss=e.test_loss, accuracy=e.accuracy, speeds=e.speeds,
                ratio=e.ratio, log10_ratio=e.log10_ratio, dead_fraction=e.dead_fraction,
                clipped_steps=e.clipped_steps, steps=e.steps,
                regions=None if e.regions is None else e.regions.total,
                regions_per_layer=None if e.regions is None else list(e.regions.per_layer))


def _csv(r: TrainResult) -> tuple[list[str], list[list]]:
    k = len(r.hidden)
    dead = r.epochs[0].dead_fraction is not None
    headers = (["epoch", "loss", "test_loss", "accuracy"] + [f"speed_{j + 1}" for j in range(k)] + ["ratio"]
               + ([f"dead_{j + 1}" for j in range(k)] if dead else []) + ["clipped_steps", "steps"])
    rows = [[e.epoch, e.loss, e.test_loss, e.accuracy, *e.speeds, e.ratio, *(e.dead_fraction if dead else []),
             e.clipped_steps, e.steps] for e in r.epochs]
    return headers, rows


def _plane_data(r: TrainResult) -> dict:
    """window (x1, x2 ranges and grid size), features, samples, noise of a 2-D set; null for the others."""
    d = r.dataset
    window = getattr(d, "window", None)
    if window is None:
        return dict(window=None, features=None, samples=None, noise=None)
    return dict(window=dict(x1=list(window.x1), x2=list(window.x2), grid=window.grid), features=list(d.features),
                samples=d.samples, noise=d.noise)


def report(r: TrainResult) -> render.Report:
    """The per-epoch table (a selection of epochs and layers), JSON and CSV with all of them."""
    data = dict(activation=r.activation, alpha=r.alpha, hidden=list(r.hidden), init=r.init, cost=r.cost,
                data=r.data, data_description=r.data_description, n_train=r.n_train, n_test=r.n_test,
                n_features=r.n_features, n_classes=r.n_classes, lr=r.lr, batch=r.batch,
                epochs_requested=r.epochs_requested, clip_mode=r.clip_mode, clip_threshold=r.clip_threshold,
                seed=r.seed, diverged_at=r.diverged_at, init_scale=r.init_scale,
                distinct_units=list(r.distinct_units), **_plane_data(r), epochs=[_epoch_data(e) for e in r.epochs])
    headers, rows = _csv(r)
    return render.Report("train", data, title=_title(r), tables=[_table(r)], notes=_notes(r), csv_headers=headers,
                         csv_rows=rows)


def train(
    hidden: Annotated[Optional[str], typer.Option(metavar="N1,N2,...", help="Hidden layer sizes, first first (default 30,30,30,30, Nielsen's deepest net).")] = None,
    act: Annotated[Optional[str], typer.Option(help="Hidden activation (see `gradsim acts`); relu'(0) = 0 as in PyTorch. Default sigmoid.")] = None,
    alpha: AlphaOpt = None,
    init: Annotated[Optional[str], typer.Option(help="nielsen (W ~ N(0,1)/sqrt(fan_in), b ~ N(0,1); the default), xavier, lecun, he, orthogonal or normal (W ~ N(0, sigma_w^2/fan_in), b = 0, sigma_w^2 as in `gradsim ensemble`), zeros (every weight and bias 0: the units of a layer never differ).")] = None,
    cost: Annotated[Optional[str], typer.Option(help="cross-entropy (on softmax outputs, the default) or quadratic (||sigmoid(z) - y||^2 / 2, as in Nielsen).")] = None,
    data: Annotated[Optional[str], typer.Option(help="digits (scikit-learn's 8x8 digits: pip install 'gradsim[digits]'), synthetic (drawn from --seed), or auto (the default): digits if installed, else synthetic. 2-D sets: circle, xor, gauss, spiral (TensorFlow Playground's), moons.")] = None,
    samples: Annotated[Optional[int], typer.Option(help="Points of a 2-D set (4 to 100,000; default 500 as in Playground), half of each class.")] = None,
    noise: Annotated[Optional[float], typer.Option(help="Noise of a 2-D set, Playground's model (0 to 0.8; default 0; its slider goes to 0.5).")] = None,
    features: Annotated[Optional[str], typer.Option(metavar="F1,F2,...", help="Inputs of a 2-D net (Playground's): comma list of x1, x2, x1sq, x2sq, x1x2, sinx1, sinx2, or all. Default x1,x2.")] = None,
    init_scale: Annotated[Optional[float], typer.Option(callback=finite, help="Multiply the initial weights by K (> 0), e.g. 10 for the oversized init of the classic exercise.")] = None,
    frames: Annotated[Optional[int], typer.Option(help=f"Frames of a .gif plot (1 to {training.MAX_FRAMES}; default one per epoch up to 50), epochs spread evenly.")] = None,
    lr: Annotated[Optional[float], typer.Option(callback=positive, help="Learning rate (> 0, default 0.1).")] = None,
    epochs: Annotated[Optional[int], typer.Option(help=f"Passes over the training set (1 to {training.MAX_EPOCHS}, default 10).")] = None,
    batch: Annotated[Optional[int], typer.Option(help="Mini-batch size (>= 1, default 10; at most the training set).")] = None,
    clip_mode: Annotated[Optional[str], typer.Option(help="Clip every step's gradient: value, norm (per tensor), global-norm (all tensors) or adaptive (unit-wise, lambda = the threshold); see `gradsim clip`. Default none.")] = None,
    clip_threshold: Annotated[Optional[float], typer.Option(callback=finite, help="Threshold (> 0) for --clip-mode.")] = None,
    seed: SeedOpt = None,
    fmt: FormatOpt = "table",
    plot: AnimatedPlotOpt = None,
) -> None:
    """Train a fully connected net and watch each hidden layer's speed of learning (Nielsen, ch. 5).

    speed of hidden layer l = ||dC/db^l||, C the mean cost over the training set, where
    dC/db^l = delta^l = (W^(l+1)^T delta^(l+1)) * f'(z^l). Epoch 0 is the net at initialisation.

    With sigmoid and Nielsen's init the first of 4 hidden layers learns ~100x slower than the last.
    Seed 0 by default: same options, same output.

    Example: gradsim train

    Example: gradsim train --act relu --init he --epochs 30 --plot speeds.png

    Example: gradsim train --data spiral --act relu --hidden 8,8,8,8 --init he --epochs 100 --plot boundary.gif
    """
    with usage_errors(), progress("training") as tick:
        gif = _frames(plot, frames, data, epochs)
        result = training.train(hidden=hidden, act=act, init=init, cost=cost, data=data, lr=lr, epochs=epochs,
                                batch=batch, clip_mode=clip_mode, clip_threshold=clip_threshold, seed=seed,
                                alpha=alpha, progress=tick, samples=samples, noise=noise, features=features,
                                init_scale=init_scale, frames=gif)
    render.emit(report(result), fmt)
    if plot and hasattr(result.dataset, "window"):
        from .. import boundary_plots

        boundary_plots.save([result], plot)
    elif plot:
        from .. import plots

        plots.save(plots.train_figure(result), plot)


def _frames(plot, frames: int | None, data: str | None, epochs: int | None) -> int:
    """Frames to record: --frames (or one per epoch up to 50) for a .gif of a 2-D set, else none."""
    from ..playground import NAMES

    gif = plot is not None and plot.suffix.lower() == ".gif"
    if gif and (data or "").strip().lower() not in NAMES:
        raise GradsimError(f"an animated .gif shows a decision boundary: it needs 2-D data ({', '.join(NAMES)})",
                           option="--plot")
    if frames is not None and not gif:
        raise GradsimError("--frames is for an animated --plot NAME.gif", option="--frames")
    if frames is not None and not 1 <= frames <= training.MAX_FRAMES:
        raise GradsimError(f"frames must be from 1 to {training.MAX_FRAMES}, got {frames}", option="--frames")
    if not gif:
        return 0
    return frames if frames is not None else min((epochs or training.DEFAULTS["epochs"]) + 1, 50)
