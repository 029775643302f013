"""`gradsim train`: a fully connected net trained by mini-batch gradient descent, each layer's speed of learning."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .. import render, training
from ..cost import check as check_cost, train_cost
from ..options import AlphaOpt, FormatOpt, PlotOpt, SeedOpt, YesOpt, finite, positive, progress, usage_errors
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
    return (f"Training · {r.activation}{alpha} · hidden {','.join(map(str, r.hidden))} · init {r.init} · {cost}\n"
            f"lr {r.lr:g} · batch {r.batch} · {_plural(r.epochs_requested, 'epoch')} · seed {r.seed}{clip}\n"
            f"data: {r.data_description}: {r.n_train} training, {r.n_test} held out")


def _speed_story(e: Epoch, layers: int, when: str) -> str:
    """'at initialisation hidden layer 4 learns 139x faster than layer 1 (x5.2 per layer)'."""
    if e.log10_ratio is None:
        if e.speeds[0] == 0 and e.speeds[-1] == 0:
            return f"{when}: hidden layers 1 and {layers} do not learn at all (speed 0)."
        return f"{when}: the speed of hidden layer 1 or {layers} is 0 or not finite."
    way = "faster" if e.log10_ratio >= 0 else "slower"
    per_layer = f" (x{render.from_log10(1.0, e.log10_ratio / (layers - 1), 3)} per layer)" if layers > 1 else ""
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
    if r.diverged_at is not None:
        lines.append(f"diverged: a parameter stopped being finite in epoch {r.diverged_at} (is lr too large?); "
                     f"training stopped there.")
    return lines


def _table(r: TrainResult) -> render.Table:
    dead = r.epochs[0].dead_fraction is not None
    layers = _shown_layers(len(r.hidden), LAYERS - 2 if dead else LAYERS)
    clip = r.clip_mode != "none"
    gap = len(layers) < len(r.hidden)  # a "..." column where hidden layers are left out, a "..." row for epochs
    cut = len(layers) // 2
    headers = (["epoch", "loss", "test acc %"] + _with_gap([f"speed {j + 1}" for j in layers], cut, gap)
               + (["last/1st"] if len(r.hidden) > 1 else []) + (["dead %"] if dead else [])
               + (["clipped"] if clip else []))
    rows, previous = [], -1
    for i in _shown_epochs(len(r.epochs)):
        if i > previous + 1:
            rows.append(["..."] + [""] * (len(headers) - 1))
        previous = i
        e = r.epochs[i]
        row = [str(e.epoch), render.num(e.loss), _percent(e.accuracy)] + _with_gap(
            [render.num(e.speeds[j]) for j in layers], cut, gap)
        row += [render.num(e.ratio, 3)] if len(r.hidden) > 1 else []
        row += [" ".join(_with_gap([_percent(e.dead_fraction[j]) for j in layers], cut, gap))] if dead else []
        row += [f"{e.clipped_steps}/{e.steps}"] if clip else []
        rows.append(row)
    return render.Table(headers, rows)


def _with_gap(cells: list[str], cut: int, gap: bool) -> list[str]:
    """`cells` with "..." at `cut` where the layers between are left out of the table."""
    return cells[:cut] + ["..."] + cells[cut:] if gap else cells


def _epoch_data(e: Epoch) -> dict:
    return dict(epoch=e.epoch, loss=e.loss, test_loss=e.test_loss, accuracy=e.accuracy, speeds=e.speeds,
                ratio=e.ratio, log10_ratio=e.log10_ratio, dead_fraction=e.dead_fraction,
                clipped_steps=e.clipped_steps, steps=e.steps)


def _csv(r: TrainResult) -> tuple[list[str], list[list]]:
    k = len(r.hidden)
    dead = r.epochs[0].dead_fraction is not None
    headers = (["epoch", "loss", "test_loss", "accuracy"] + [f"speed_{j + 1}" for j in range(k)] + ["ratio"]
               + ([f"dead_{j + 1}" for j in range(k)] if dead else []) + ["clipped_steps", "steps"])
    rows = [[e.epoch, e.loss, e.test_loss, e.accuracy, *e.speeds, e.ratio, *(e.dead_fraction if dead else []),
             e.clipped_steps, e.steps] for e in r.epochs]
    return headers, rows


def report(r: TrainResult) -> render.Report:
    """The per-epoch table (a selection of epochs and layers), JSON and CSV with all of them."""
    data = dict(activation=r.activation, alpha=r.alpha, hidden=list(r.hidden), init=r.init, cost=r.cost,
                data=r.data, data_description=r.data_description, n_train=r.n_train, n_test=r.n_test,
                n_features=r.n_features, n_classes=r.n_classes, lr=r.lr, batch=r.batch,
                epochs_requested=r.epochs_requested, clip_mode=r.clip_mode, clip_threshold=r.clip_threshold,
                seed=r.seed, diverged_at=r.diverged_at, epochs=[_epoch_data(e) for e in r.epochs])
    headers, rows = _csv(r)
    return render.Report("train", data, title=_title(r), tables=[_table(r)], notes=_notes(r), csv_headers=headers,
                         csv_rows=rows)


def train(
    hidden: Annotated[Optional[str], typer.Option(metavar="N1,N2,...", help="Hidden layer sizes, first first (default 30,30,30,30, Nielsen's deepest net).")] = None,
    act: Annotated[Optional[str], typer.Option(help="Hidden activation (see `gradsim acts`); relu'(0) = 0 as in PyTorch. Default sigmoid.")] = None,
    alpha: AlphaOpt = None,
    init: Annotated[Optional[str], typer.Option(help="nielsen (W ~ N(0,1)/sqrt(fan_in), b ~ N(0,1); the default), xavier, lecun, he, orthogonal or normal (W ~ N(0, sigma_w^2/fan_in), b = 0, sigma_w^2 as in `gradsim ensemble`).")] = None,
    cost: Annotated[Optional[str], typer.Option(help="cross-entropy (on softmax outputs, the default) or quadratic (||sigmoid(z) - y||^2 / 2, as in Nielsen).")] = None,
    data: Annotated[Optional[str], typer.Option(help="digits (scikit-learn's 8x8 digits: pip install 'gradsim[digits]'), synthetic (drawn from --seed), or auto (the default): digits if installed, else synthetic.")] = None,
    lr: Annotated[Optional[float], typer.Option(callback=positive, help="Learning rate (> 0, default 0.1).")] = None,
    epochs: Annotated[Optional[int], typer.Option(help=f"Passes over the training set (1 to {training.MAX_EPOCHS}, default 10).")] = None,
    batch: Annotated[Optional[int], typer.Option(help="Mini-batch size (>= 1, default 10; at most the training set).")] = None,
    clip_mode: Annotated[Optional[str], typer.Option(help="Clip every step's gradient: value, norm (per tensor), global-norm (all tensors) or adaptive (unit-wise, lambda = the threshold); see `gradsim clip`. Default none.")] = None,
    clip_threshold: Annotated[Optional[float], typer.Option(callback=finite, help="Threshold (> 0) for --clip-mode.")] = None,
    seed: SeedOpt = None,
    fmt: FormatOpt = "table",
    plot: PlotOpt = None,
    yes: YesOpt = False,
) -> None:
    """Train a fully connected net and watch each hidden layer's speed of learning (Nielsen, ch. 5).

    speed of hidden layer l = ||dC/db^l||, C the mean cost over the training set, where
    dC/db^l = delta^l = (W^(l+1)^T delta^(l+1)) * f'(z^l). Epoch 0 is the net at initialisation.

    With sigmoid and Nielsen's init the first of 4 hidden layers learns ~100x slower than the last.
    Seed 0 by default: same options, same output.

    Example: gradsim train

    Example: gradsim train --act relu --init he --epochs 30 --plot speeds.png
    """
    with usage_errors():
        check_cost(train_cost(training.parse_hidden(hidden), training.DEFAULTS["epochs"] if epochs is None
                                   else max(1, min(epochs, training.MAX_EPOCHS))), yes)
    with usage_errors(), progress("epochs") as tick:
        result = training.train(hidden=hidden, act=act, init=init, cost=cost, data=data, lr=lr, epochs=epochs,
                                batch=batch, clip_mode=clip_mode, clip_threshold=clip_threshold, seed=seed,
                                alpha=alpha, progress=tick)
    render.emit(report(result), fmt)
    if plot:
        from .. import plots

        plots.save(plots.train_figure(result), plot)
