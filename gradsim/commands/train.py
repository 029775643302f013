"""`gradsim train`: a fully connected net trained by mini-batch gradient descent, each layer's speed of learning."""

from __future__ import annotations

import math
from typing import Annotated, List, Optional

import typer

from .. import activations, render, training
from ..cost import check as check_cost, train_cost
from ..datasets import is_npz
from ..errors import GradsimError
from ..npzdata import npz_shape
from ..options import AlphaOpt, AnimatedPlotOpt, FormatOpt, SeedOpt, YesOpt, acts_option, finite, positive, progress, usage_errors
from ..regions import PIECEWISE_LINEAR
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
    clip = _extras(r)
    scale = f" x{r.init_scale:g}" if r.init_scale != 1 else ""
    return (f"Training · {r.activation}{alpha} · hidden {','.join(map(str, r.hidden))} · init {r.init}{scale} · {cost}\n"
            f"lr {r.lr:g} · batch {r.batch} · {_plural(r.epochs_requested, 'epoch')} · seed {r.seed}{clip}\n"
            f"data: {r.data_description}: {r.n_train} training, {r.n_test} held out")


def _which(layers: list[int]) -> str:
    """'layer 2', 'layers 1 and 4', 'layers 1, 3 and 4'."""
    if len(layers) == 1:
        return f"layer {layers[0]}"
    return f"layers {', '.join(map(str, layers[:-1]))} and {layers[-1]}"


def _extras(r: TrainResult, optimizer: bool = True) -> str:
    """' · clip value 0.5 · adam (...) · dropout 0.1' for what is not plain SGD without clipping or dropout."""
    out = f" · clip {r.clip_mode} {r.clip_threshold:g}" if r.clip_mode != "none" else ""
    out += f" · {r.optimizer.describe()}" if optimizer and r.optimizer.name != "sgd" else ""
    return out + (f" · dropout {r.dropout:g}" if r.dropout > 0 else "")


def _speed_story(e: Epoch, layers: int, when: str) -> str:
    """'at initialisation hidden layer 4 learns 139x faster than layer 1 (x5.2 per layer)'."""
    if e.log10_ratio is None:
        zero = [j + 1 for j, v in enumerate(e.speeds) if v == 0]
        odd = [j + 1 for j, v in enumerate(e.speeds) if not math.isfinite(v)]
        if len(zero) == layers:
            return f"{when}: no hidden layer learns at all (all {layers} speeds are 0)."
        parts = ([f"hidden {_which(zero)} {'does' if len(zero) == 1 else 'do'} not learn at all (speed 0)"]
                 if zero else []) + ([f"the speed of hidden {_which(odd)} is not finite"] if odd else [])
        return f"{when}: {'; '.join(parts)}."
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
    lines += _plane_notes(r)
    if r.diverged_at is not None:
        lines.append(f"diverged: a parameter stopped being finite in epoch {r.diverged_at} (is lr too large?); "
                     f"training stopped there.")
    return lines


def _plane_notes(r: TrainResult) -> list[str]:
    """Linear regions (2-D sets) and, where units of a layer coincide, how many distinct units there are."""
    lines = []
    window = getattr(r.dataset, "window", None)
    counted = [e for e in r.epochs if e.regions is not None]
    if window is not None and r.activation not in PIECEWISE_LINEAR:
        lines.append(f"linear regions: not defined for {r.activation} (smooth: the boundary is curved, not made "
                     "of straight pieces).")
    elif window is not None and not counted:
        lines.append("linear regions: not counted (the parameters were not finite from the start).")
    elif window is not None:
        first, last = counted[0].regions, counted[-1].regions
        grid = f"{window.grid} x {window.grid} grid on [{window.x1[0]:g}, {window.x1[1]:g}]^2"
        per_layer = ", ".join(f"{n:,}" for n in last.per_layer)
        lines.append(f"linear regions (distinct on/off patterns of the hidden units on the {grid}): {first.total:,} "
                     f"at initialisation -> {last.total:,} after {_plural(counted[-1].epoch, 'epoch')}; per "
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
    gap = len(layers) < len(r.hidden)  # a "..." column where hidden layers are left out, a "..." row for epochs
    cut = len(layers) // 2
    regions = any(e.regions is not None for e in r.epochs)  # relu-family nets on 2-D data ('-' once diverged)
    headers = (["epoch", "loss", "test acc %"] + _with_gap([f"speed {j + 1}" for j in layers], cut, gap)
               + (["last/1st"] if len(r.hidden) > 1 else []) + (["dead %"] if dead else [])
               + (["clipped"] if clip else []) + (["regions"] if regions else []))
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
        row += [("-" if e.regions is None else f"{e.regions.total:,}")] if regions else []
        rows.append(row)
    return render.Table(headers, rows)


def _with_gap(cells: list[str], cut: int, gap: bool) -> list[str]:
    """`cells` with "..." at `cut` where the layers between are left out of the table."""
    return cells[:cut] + ["..."] + cells[cut:] if gap else cells


def _epoch_data(e: Epoch) -> dict:
    return dict(epoch=e.epoch, loss=e.loss, test_loss=e.test_loss, accuracy=e.accuracy, speeds=e.speeds,
                ratio=e.ratio, log10_ratio=e.log10_ratio, dead_fraction=e.dead_fraction,
                clipped_steps=e.clipped_steps, steps=e.steps, saturated_fraction=e.saturated_fraction,
                update_ratio_log10=e.update_ratio_log10, regions=None if e.regions is None else e.regions.total,
                regions_per_layer=None if e.regions is None else list(e.regions.per_layer))


def _csv(r: TrainResult) -> tuple[list[str], list[list]]:
    k = len(r.hidden)
    dead = r.epochs[0].dead_fraction is not None
    headers = (["epoch", "loss", "test_loss", "accuracy"] + [f"speed_{j + 1}" for j in range(k)] + ["ratio"]
               + ([f"dead_{j + 1}" for j in range(k)] if dead else []) + ["clipped_steps", "steps"])
    rows = [[e.epoch, e.loss, e.test_loss, e.accuracy, *e.speeds, e.ratio, *(e.dead_fraction if dead else []),
             e.clipped_steps, e.steps] for e in r.epochs]
    # the per-layer diagnostics come after today's columns, so scripts reading those by position still work
    headers += [f"saturated_{j + 1}" for j in range(k)] + [f"update_ratio_log10_{j + 1}" for j in range(k)]
    for row, e in zip(rows, r.epochs):
        row += [*e.saturated_fraction, *(e.update_ratio_log10 if e.update_ratio_log10 is not None else [None] * k)]
    if any(e.regions is not None for e in r.epochs):  # relu-family nets on 2-D data: the linear regions, last
        headers.append("regions")
        for row, e in zip(rows, r.epochs):
            row.append(None if e.regions is None else e.regions.total)
    return headers, rows


def report(r: TrainResult) -> render.Report:
    """The per-epoch table (a selection of epochs and layers), JSON and CSV with all of them."""
    data = _run_data(r)
    headers, rows = _csv(r)
    return render.Report("train", data, title=_title(r), tables=[_table(r)], notes=_notes(r), csv_headers=headers,
                         csv_rows=rows)


def _run_data(r: TrainResult) -> dict:
    """One run as a JSON object (the single-activation output, and each of a comparison's `runs`)."""
    return dict(activation=r.activation, alpha=r.alpha, hidden=list(r.hidden), init=r.init, cost=r.cost,
                data=r.data, data_description=r.data_description, n_train=r.n_train, n_test=r.n_test,
                n_features=r.n_features, n_classes=r.n_classes, lr=r.lr, batch=r.batch,
                epochs_requested=r.epochs_requested, clip_mode=r.clip_mode, clip_threshold=r.clip_threshold,
                seed=r.seed, diverged_at=r.diverged_at, optimizer=r.optimizer.as_dict(), dropout=r.dropout,
                dropout_kind=r.dropout_kind, init_scale=r.init_scale, distinct_units=list(r.distinct_units),
                **_plane_data(r), epochs=[_epoch_data(e) for e in r.epochs])


def _plane_data(r: TrainResult) -> dict:
    """window (x1, x2 ranges and grid size), features, samples, noise of a 2-D set; null for the others."""
    d = r.dataset
    window = getattr(d, "window", None)
    if window is None:
        return dict(window=None, features=None, samples=None, noise=None)
    return dict(window=dict(x1=list(window.x1), x2=list(window.x2), grid=window.grid), features=list(d.features),
                samples=d.samples, noise=d.noise)


# ---------------------------------------------------------------- several activations
def _log10_ratio(x: float | None, layers: int) -> str:
    return "-" if x is None or layers < 2 else render.num(10.0**x, 3)


def _comparison_table(results: list[TrainResult], rows: list[training.Comparison]) -> render.Table:
    headers = ["activation", "init", "acc %", "best %", "@", "loss", "best loss", "l/1 init", "l/1 end",
               "dead %", "sat %"]
    layers = len(results[0].hidden)
    body = [[c.activation + ("*" if c.diverged_at is not None else ""), c.init, _percent(c.final_accuracy),
             _percent(c.best_accuracy), str(c.best_epoch), render.num(c.final_test_loss, 3),
             render.num(c.best_test_loss, 3), _log10_ratio(c.log10_ratio_init, layers),
             _log10_ratio(c.log10_ratio_end, layers),
             "-" if c.dead_fraction is None else _percent(c.dead_fraction),
             "-" if c.saturated_fraction is None else _percent(c.saturated_fraction)]
            for c in rows]
    return render.Table(headers, body, justify=["left", "left"] + ["right"] * 9)


#: Activations per table of held-out accuracy by epoch (more get a second table: 100 columns stay enough).
CURVES = 7


def _curves_tables(results: list[TrainResult]) -> list[render.Table]:
    """Held-out accuracy % by epoch, a column per activation (Hansen's first figure as numbers)."""
    n = max(len(r.epochs) for r in results)
    tables = []
    for start in range(0, len(results), CURVES):
        group = results[start:start + CURVES]
        rows = [[str(i)] + [_percent(r.epochs[i].accuracy) if i < len(r.epochs) else "-" for r in group]
                for i in _shown_epochs(n)]
        tables.append(render.Table(["epoch"] + [r.activation for r in group], rows,
                                   title="held-out accuracy % by epoch" + (" (continued)" if start else "")))
    return tables


def _compare_title(results: list[TrainResult]) -> str:
    r = results[0]
    cost = "cross-entropy on softmax" if r.cost == "cross-entropy" else "quadratic on sigmoid outputs"
    return (f"Activation comparison · hidden {','.join(map(str, r.hidden))} · {cost}\n"
            f"{r.optimizer.describe()} · lr {r.lr:g} · batch {r.batch} · {_plural(r.epochs_requested, 'epoch')} · "
            f"seed {r.seed}\n" + (f"{_extras(r, optimizer=False)[3:]}\n" if _extras(r, optimizer=False) else "") +
            f"data: {r.data_description}: {r.n_train} training, {r.n_test} held out\n"
            f"every activation: same split, batch order, dropout draws, N(0,1) weights scaled by its init")


def _compare_notes(results: list[TrainResult], rows: list[training.Comparison]) -> list[str]:
    lines = ["acc, loss: held-out, at the last epoch; best: over the epochs, @ the epoch of the best accuracy.",
             "l/1: speed ||dC/db|| of the last hidden layer over the first, at initialisation and at the end.",
             "dead: z <= 0 on every training example (relu family); sat: |f'(z)| below 1% of max |f'| on most",
             "training examples (a relu unit: off on most); both at the end, as a share of all hidden units."]
    kinds = {r.dropout_kind for r in results} - {"none"}
    if kinds:
        lines.append(f"dropout {results[0].dropout:g} in training only: "
                     + ("AlphaDropout for selu (Klambauer et al. 2017), inverted for the rest." if "alpha" in kinds
                        else "inverted dropout on every hidden layer."))
    if results[0].clip_mode != "none":
        lines.append(f"clipping ({results[0].clip_mode}, threshold {results[0].clip_threshold:g}) acts on the "
                     f"gradient before the {results[0].optimizer.name} step.")
    if getattr(results[0].dataset, "window", None) is not None:
        counts = ", ".join(f"{r.activation} {'n/a' if r.epochs[-1].regions is None else r.epochs[-1].regions.total}"
                           for r in results)
        lines.append(f"linear regions at the end ({results[0].dataset.window.grid}^2 grid; n/a: smooth): {counts}.")
    for c in rows:
        if c.diverged_at is not None:
            lines.append(f"* {c.activation} diverged in epoch {c.diverged_at} (a parameter stopped being finite).")
    return lines


def _comparison_data(c: training.Comparison) -> dict:
    return dict(activation=c.activation, init=c.init, final_accuracy=c.final_accuracy,
                best_accuracy=c.best_accuracy, best_epoch=c.best_epoch, final_test_loss=c.final_test_loss,
                best_test_loss=c.best_test_loss, best_loss_epoch=c.best_loss_epoch,
                ratio_init=None if c.log10_ratio_init is None else 10.0**c.log10_ratio_init,
                log10_ratio_init=c.log10_ratio_init,
                ratio_end=None if c.log10_ratio_end is None else 10.0**c.log10_ratio_end,
                log10_ratio_end=c.log10_ratio_end, dead_fraction=c.dead_fraction,
                saturated_fraction=c.saturated_fraction, diverged_at=c.diverged_at)


def _long_csv(results: list[TrainResult]) -> tuple[list[str], list[list]]:
    """One row per activation and epoch; per-layer columns up to the network's depth."""
    k = len(results[0].hidden)
    headers = ["activation", "init", "epoch", "loss", "test_loss", "accuracy", "ratio"]
    headers += [f"{what}_{j + 1}" for what in ("speed", "dead", "saturated", "update_ratio_log10") for j in range(k)]
    headers += ["clipped_steps", "steps"]
    none = [None] * k
    rows = [[r.activation, r.init, e.epoch, e.loss, e.test_loss, e.accuracy, e.ratio, *e.speeds,
             *(none if e.dead_fraction is None else e.dead_fraction), *e.saturated_fraction,
             *(none if e.update_ratio_log10 is None else e.update_ratio_log10), e.clipped_steps, e.steps]
            for r in results for e in r.epochs]
    return headers, rows


def compare_report(results: list[TrainResult]) -> render.Report:
    """Several activations: the comparison table, held-out accuracy by epoch; JSON runs + comparison; long CSV."""
    rows = [training.compare(r) for r in results]
    data = dict(activations=[r.activation for r in results], runs=[_run_data(r) for r in results],
                comparison=[_comparison_data(c) for c in rows])
    headers, csv_rows = _long_csv(results)
    return render.Report("train", data, title=_compare_title(results),
                         tables=[_comparison_table(results, rows), *_curves_tables(results)],
                         notes=_compare_notes(results, rows), csv_headers=headers, csv_rows=csv_rows)


def train(
    hidden: Annotated[Optional[str], typer.Option(metavar="N1,N2,...", help="Hidden layer sizes, first first (default 30,30,30,30, Nielsen's deepest net).")] = None,
    act: Annotated[Optional[List[str]], acts_option("sigmoid", " Several train the same net side by side: same split, mini-batch order and N(0,1) weight draws, each scaled by its own init (see --init auto); relu'(0) = 0 as in PyTorch.")] = None,
    alpha: AlphaOpt = None,
    init: Annotated[Optional[str], typer.Option(metavar="NAME", help="nielsen (W ~ N(0,1)/sqrt(fan_in), b ~ N(0,1)), xavier, lecun, he, orthogonal or normal (W ~ N(0, sigma_w^2/fan_in), b = 0, sigma_w^2 as in `gradsim ensemble`), zeros (every weight and bias 0: the units of a layer never differ), or auto: lecun for selu and linear, he for relu, leaky-relu, prelu, elu, gelu, gelu-tanh, swish and softplus, xavier for sigmoid, tanh and softsign. Default nielsen for one activation, auto for several.")] = None,
    cost: Annotated[Optional[str], typer.Option(metavar="NAME", help="cross-entropy (on softmax outputs, the default) or quadratic (||sigmoid(z) - y||^2 / 2, as in Nielsen).")] = None,
    data: Annotated[Optional[str], typer.Option(metavar="NAME", help="digits (scikit-learn's 8x8 digits: pip install 'gradsim[digits]'), synthetic (drawn from --seed), or auto (the default): digits if installed, else synthetic. A path ending in .npz is your own data: arrays x (n x d) and y (integer labels), or x_train, y_train, x_test, y_test as in mnist.npz (that split, images flattened and scaled to [0, 1]). 2-D sets: circle, xor, gauss, spiral (TensorFlow Playground's), moons.")] = None,
    samples: Annotated[Optional[int], typer.Option(help="Points of a 2-D set (4 to 100,000; default 500 as in Playground), half of each class.")] = None,
    noise: Annotated[Optional[float], typer.Option(help="Noise of a 2-D set, Playground's model (0 to 0.8; default 0; its slider goes to 0.5).")] = None,
    features: Annotated[Optional[str], typer.Option(metavar="F1,F2,...", help="Inputs of a 2-D net (Playground's): comma list of x1, x2, x1sq, x2sq, x1x2, sinx1, sinx2, or all. Default x1,x2.")] = None,
    init_scale: Annotated[Optional[float], typer.Option(callback=finite, metavar="K", help="Multiply the initial weights by K (> 0), e.g. 10 for the oversized init of the classic exercise. Default 1.")] = None,
    frames: Annotated[Optional[int], typer.Option(help=f"Frames of a .gif plot (1 to {training.MAX_FRAMES}; default one per epoch up to 50), epochs spread evenly.")] = None,
    lr: Annotated[Optional[float], typer.Option(callback=positive, help="Learning rate (> 0; default 0.1, with adam 0.001 as in PyTorch and Keras).")] = None,
    epochs: Annotated[Optional[int], typer.Option(help=f"Passes over the training set (1 to {training.MAX_EPOCHS}, default 10).")] = None,
    batch: Annotated[Optional[int], typer.Option(help="Mini-batch size (>= 1, default 10; at most the training set).")] = None,
    clip_mode: Annotated[Optional[str], typer.Option(metavar="MODE", help="Clip every step's gradient: value, norm (per tensor), global-norm (all tensors) or adaptive (unit-wise, lambda = the threshold); see `gradsim clip`. Default none.")] = None,
    clip_threshold: Annotated[Optional[float], typer.Option(callback=finite, help="Threshold (> 0) for --clip-mode (no default: a --clip-mode needs one).")] = None,
    optimizer: Annotated[Optional[str], typer.Option(metavar="sgd|momentum|adam", help="Update rule, as torch.optim writes it: sgd (the default), momentum (SGD with momentum) or adam. Clipping acts on the gradient before the optimizer's step, as Keras' clipvalue/clipnorm and PyTorch's clip_grad_value_/clip_grad_norm_ before step() do.")] = None,
    momentum: Annotated[Optional[float], typer.Option(callback=finite, help="Momentum mu in [0, 1) for --optimizer momentum (default 0.9): v <- mu v + g, theta <- theta - lr v.")] = None,
    beta1: Annotated[Optional[float], typer.Option(callback=finite, help="Adam's beta1 in [0, 1) (default 0.9, PyTorch's and Keras').")] = None,
    beta2: Annotated[Optional[float], typer.Option(callback=finite, help="Adam's beta2 in [0, 1) (default 0.999, PyTorch's and Keras').")] = None,
    adam_eps: Annotated[Optional[float], typer.Option(callback=finite, help="Adam's epsilon (> 0; default 1e-8 as in PyTorch; Keras uses 1e-7).")] = None,
    dropout: Annotated[Optional[float], typer.Option(callback=finite, metavar="P", help="Drop each hidden unit with probability P in training (inverted dropout, off at evaluation); selu gets AlphaDropout (Klambauer et al. 2017). Default 0.")] = None,
    seed: SeedOpt = None,
    fmt: FormatOpt = "table",
    plot: AnimatedPlotOpt = None,
    yes: YesOpt = False,
) -> None:
    """Train a fully connected net and watch each hidden layer's speed of learning (Nielsen, ch. 5).

    speed of hidden layer l = ||dC/db^l||, C the mean cost over the training set, where
    dC/db^l = delta^l = (W^(l+1)^T delta^(l+1)) * f'(z^l). Epoch 0 is the net at initialisation.

    With sigmoid and Nielsen's init the first of 4 hidden layers learns ~100x slower than the last.
    Seed 0 by default: same options, same output.

    Example: gradsim train

    Example: gradsim train --act relu --init he --epochs 5 --plot speeds.png

    Example: gradsim train --act sigmoid,relu,elu,leaky-relu,selu,gelu --alpha 0.2 --optimizer adam --clip-mode value --clip-threshold 0.5 --dropout 0.1

    Example: gradsim train --data spiral --act tanh,relu --hidden 8,8,8,8 --lr 0.03 --epochs 50 --plot boundary.gif
    """
    with usage_errors():
        runs = len(activations.resolve_many(act, alpha)) if act else 1
        from ..playground import NAMES as PLANE_SETS

        n_epochs = training.DEFAULTS["epochs"] if epochs is None else max(1, min(epochs, training.MAX_EPOCHS))
        if (data or "").strip().lower() in PLANE_SETS:  # its points, and the window's grid measured each epoch
            work = train_cost(training.parse_hidden(hidden), n_epochs, n_examples=samples or 500, runs=runs,
                              features=len((features or "x1,x2").split(",")) if features != "all" else 7, classes=2,
                              measured=201 * 201)
        else:
            shape = npz_shape(data) if is_npz(data) else None  # a user's file: its size, not the digits'
            size = dict(zip(("n_examples", "features", "classes"), shape)) if shape else {}
            work = train_cost(training.parse_hidden(hidden), n_epochs, runs=runs, **size)
        check_cost(work, yes)
    with usage_errors(), progress("epochs") as tick:
        gif = _frames(plot, frames, data, epochs)
        results = training.train_many(acts=act, hidden=hidden, init=init, cost=cost, data=data, lr=lr,
                                      epochs=epochs, batch=batch, clip_mode=clip_mode, clip_threshold=clip_threshold,
                                      seed=seed, alpha=alpha, progress=tick, optimizer=optimizer, momentum=momentum,
                                      beta1=beta1, beta2=beta2, adam_eps=adam_eps, dropout=dropout, samples=samples,
                                      noise=noise, features=features, init_scale=init_scale, frames=gif)
    render.emit(report(results[0]) if len(results) == 1 else compare_report(results), fmt)
    if plot and hasattr(results[0].dataset, "window"):
        from .. import boundary_plots
        from ..options import save_plot

        save_plot(results, plot, boundary_plots.save)
    elif plot:
        from .. import plots
        from ..options import save_plot

        save_plot(plots.train_figure(results[0]) if len(results) == 1 else plots.compare_figure(results), plot)


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
