"""`gradsim clip`: gradient clipping by value, norm, global norm and adaptive, on real exploding gradients."""

from __future__ import annotations

import math
from typing import Annotated, Callable, List, Optional

import numpy as np
import typer

from .. import chain, clipping, cost, render
from ..clipping import ClipResult, ModeResult, Training
from ..options import AlphaOpt, FormatOpt, PlotOpt, SeedOpt, YesOpt, act_option, finite, positive, progress, usage_errors

#: A chain deeper than this shows its first HEAD_LAYERS and last TAIL_LAYERS layers in the table.
HEAD_LAYERS, TAIL_LAYERS = 6, 2
#: The steps the training table shows (and the last one).
SHOWN_STEPS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000)
#: A final gradient norm below 10^VANISHED_LOG10 means the run is stuck in saturation.
VANISHED_LOG10 = -8

WHAT = {
    "value": "clamp(g_i, -t, t)",
    "norm": "g min(1, t / (||g|| + eps))",
    "global-norm": "one factor for all tensors",
    "adaptive": "per unit, |G_i| <= lam |W_i|",
}
#: Beside global-norm: each tensor clipped by its own norm (in the chain a layer's (w_j, b_j) is one tensor);
#: JSON and Python call it per_tensor.
PER_TENSOR = "per-tensor"
#: What the naive float64 code of each mode is (the comparison beyond float64).
NAIVE = {"norm": "torch clip_grad_norm_", "global-norm": "tf.clip_by_global_norm", "adaptive": "timm adaptive_clip_grad"}


# ---------------------------------------------------------------- text
def _title(r: ClipResult) -> str:
    t = f"t = {r.threshold:g} · eps {r.eps:g}" + (f" · lambda {r.lam:g}" if _has(r, "adaptive") else "")
    if r.chain is None:
        shapes = ["x".join(map(str, b.shape[1:])) or "1" for b in r.gradient.blocks]
        what = f"a tensor of shape {shapes[0]}" if len(shapes) == 1 else f"{len(shapes)} tensors: {', '.join(shapes)}"
        return f"Clipping the gradient given ({what}) · {t}"
    c = r.chain
    return f"Clipping Nielsen's chain ({c.preset}, {c.activation}, depth {c.depth}) · {t}"


def _has(r: ClipResult, mode: str) -> bool:
    return any(m.mode == mode for m in r.results)


def _get(r: ClipResult, mode: str) -> ModeResult | None:
    return next((m for m in r.results if m.mode == mode), None)


def _shown(r: ClipResult) -> list[int]:
    """Component indices the table shows (-1: a gap): all, or the first and last layers of a deep chain."""
    n = len(r.input)
    if r.chain is None or r.chain.depth <= HEAD_LAYERS + TAIL_LAYERS + 1:
        return list(range(n)) if n <= 40 else list(range(20)) + [-1] + list(range(n - 10, n))
    return list(range(2 * HEAD_LAYERS)) + [-1] + list(range(n - 2 * TAIL_LAYERS, n))


def _exact_text(x: clipping.LogArray) -> Callable[[int], str]:
    """Component i as text from sign and log10 magnitude (nan stays nan; 1e-420 is not printed as 0)."""
    def text(i: int) -> str:
        if np.isnan(x.log10_abs[i]) or np.isnan(x.sign[i]):
            return "nan"
        return render.from_log10(x.sign[i], x.log10_abs[i])
    return text


def _component_table(r: ClipResult) -> render.Table:
    """Each component before and after every mode (and the naive float64 result beyond float64)."""
    headers, columns = ["component", "gradient"], [_exact_text(r.gradient.flat_log)]
    for m in r.results:
        headers.append(m.mode)
        columns.append(_exact_text(m.exact))
        if m.per_tensor_exact is not None and r.gradient.n_tensors > 1:
            headers.append(PER_TENSOR)
            columns.append(_exact_text(m.per_tensor_exact))
    naive = _get(r, "norm") or _get(r, "global-norm")
    if r.rescued and naive is not None:
        headers.append("naive norm")
        columns.append(lambda i: render.num(naive.naive[i]))
    rows = []
    for i in _shown(r):
        if i < 0:
            rows.append(["..."] + [""] * (len(headers) - 1))
            continue
        rows.append([r.gradient.labels[i]] + [text(i) for text in columns])
    return render.Table(headers, rows, justify=["left"] + ["right"] * (len(headers) - 1))


def _norm_text(m: ModeResult) -> str:
    return render.from_log10(1.0, m.log10_norm_before) if math.isfinite(m.log10_norm_before) \
        else render.num(m.norm_before)


def _mode_table(r: ClipResult) -> render.Table:
    """Norm before and after, cosine to the input and components changed, per mode."""
    n = len(r.input)
    rows = []
    for m in r.results:
        rows.append([m.mode, _norm_text(m), render.num(m.norm_after), render.num(m.cosine, 6), f"{m.changed} of {n}",
                     WHAT[m.mode]])
        if m.per_tensor is not None and r.gradient.n_tensors > 1:
            rows.append([PER_TENSOR, _norm_text(m), render.num(clipping.l2_norm(m.per_tensor)),
                         render.num(m.per_tensor_cosine, 6), "", "each tensor alone"])
    return render.Table(["mode", "||g|| before", "||g|| after", "cosine", "changed", "what it does"], rows,
                        title="Norms and direction (cosine to the unclipped gradient)",
                        justify=["left", "right", "right", "right", "right", "left"])


def _digits(param: float, log10_step: float) -> int:
    """Significant digits that show a step of 10^log10_step on `param`: 7, or more for a tiny step (0.199999978)."""
    if param == 0 or not math.isfinite(log10_step):
        return 7
    return int(min(17, max(7, math.ceil(math.log10(abs(param)) - log10_step) + 2)))


def _param_name(r: ClipResult) -> str:
    """b1 for the chain's bias, p for the parameter of a given gradient's first component."""
    return "b1" if r.chain is not None else "p"


def _update_table(r: ClipResult) -> render.Table:
    u = r.update
    rows = [[s.mode, render.from_log10(s.sign_grad, s.log10_grad), render.from_log10(-s.sign_grad, s.log10_step),
             render.num(s.new_param, _digits(u.param, s.log10_step)) if math.isfinite(s.new_param)
             else render.from_log10(-s.sign_grad, s.log10_step)]
            for s in u.steps]
    g, p = u.component, _param_name(r)
    title = "Hansen's single update" if r.chain is not None else f"One step of the parameter p that {g} belongs to"
    return render.Table(["mode", f"{g} used", f"-lr {g}", f"new {p}"], rows,
                        title=f"{title}: {p} = {u.param:g}, lr {u.lr:g}, {p} <- {p} - lr {g}",
                        justify=["left", "right", "right", "right"])


def _training_steps(t: Training) -> list[int]:
    """A few steps, and the last two (a 2-cycle shows in them)."""
    return sorted({k for k in SHOWN_STEPS if k <= t.steps} | {t.steps - 1, t.steps})


def _training_table(r: ClipResult) -> render.Table:
    t = r.training
    rows = [[str(k)] + [render.num(run.costs[k]) for run in t.runs] for k in _training_steps(t)]
    return render.Table(["step"] + [run.mode for run in t.runs], rows,
                        title=(f"Training the chain towards target {t.target:g} with lr {t.lr:g}: "
                               f"cost (a_L - {t.target:g})^2 / 2 after k steps"))


# ---------------------------------------------------------------- notes
def _direction_notes(r: ClipResult) -> list[str]:
    lines = []
    value, norm, glob = _get(r, "value"), _get(r, "norm"), _get(r, "global-norm")
    if value is not None and value.changed == 0:
        lines.append(f"value: every component is already in [-{r.threshold:g}, {r.threshold:g}]: nothing changes.")
    elif value is not None and np.isfinite(value.cosine):
        lines.append(f"value: every component is clamped to [-{r.threshold:g}, {r.threshold:g}], so the "
                     f"direction turns (cosine {render.num(value.cosine, 6)}).")
    if norm is not None and norm.changed == 0:
        lines.append(f"norm: ||g|| = {render.num(norm.norm_before)} is within t = {r.threshold:g}: nothing changes.")
    elif norm is not None and np.isfinite(norm.cosine):
        lines.append(f"norm: the whole vector is scaled to norm {render.num(norm.norm_after)} by one factor, so "
                     f"the direction is kept (cosine {render.num(norm.cosine, 6)}).")
    if glob is not None and r.gradient.n_tensors > 1:
        lines.append(f"global-norm: one factor for all {r.gradient.n_tensors} tensors is norm on their "
                     f"concatenation; clipping each tensor alone ({PER_TENSOR}) turns the direction "
                     f"(cosine {render.num(glob.per_tensor_cosine, 6)}).")
    if r.skipped:
        lines.append("adaptive: skipped; it needs the weights (give one --weights per --grad).")
    return lines


def _rescue_notes(r: ClipResult) -> list[str]:
    if not r.rescued:
        return []
    flat = r.input
    over = int(np.count_nonzero(np.isinf(flat)))
    lines = [f"beyond float64: {over} of {len(flat)} components are inf in float64 (|dC/db1| = "
             f"{render.from_log10(1.0, float(r.chain.log10_grad_b[0]))}). gradsim clips from the exact log10 "
             "magnitudes, so every clipped vector above is finite and correct."]
    for m in r.results:
        if m.mode != "value":
            nan, zero = int(np.count_nonzero(np.isnan(m.naive))), int(np.count_nonzero(m.naive == 0))
            lines.append(f"naive float64 {m.mode} (as {NAIVE[m.mode]} on these values): {nan} nan and "
                         f"{zero} zeros.")
    return lines


def _update_notes(r: ClipResult) -> list[str]:
    if r.update is None:
        return []
    c = r.chain
    lines = []
    if c is not None and c.preset == "nielsen-explode" and c.depth == 4:
        lines.append("Hansen's text draws each sigmoid'(z) at random from (0, 0.25) and sets dC/da_4 = 1; here every "
                     "z_j = 0, so f'(z_j) = 0.25 and dC/da_4 = a_4 - target = 0.5, hence dC/db1 = 0.25 x 25^3 x 0.5.")
    if _has(r, "adaptive"):
        lines.append(f"adaptive update: the unit's weight is the parameter itself, |{_param_name(r)}| = "
                     f"{r.update.param:g}.")
    return lines


def _training_notes(r: ClipResult) -> list[str]:
    t = r.training
    if t is None:
        return []
    c = r.chain
    chosen = (t.target, t.lr) == (clipping.TRAIN_TARGET, clipping.TRAIN_LR)
    why = ("the defaults, chosen for the preset's depth 4: there da_4/db_1 = 25^3/4 ~ 3906, so moving b_1 by 1e-4 "
           "moves a_4 by ~0.4, and a target beside the start a_4 = 0.5 makes a jump into saturation cost more, "
           "not less" if chosen else "as given")
    lines = [f"Training: plain gradient descent on every w_j and b_j for {t.steps} steps; target {t.target:g} and "
             f"lr {t.lr:g} are {why}."]
    if c.preset == "nielsen-explode" and c.depth > 4:
        lines.append(f"At depth {c.depth} the chain is 25^{c.depth - 4} times steeper than at depth 4: "
                     "lower --train-lr accordingly.")
    lines += [f"{run.mode}: {_run_story(run, t)}" for run in t.runs]
    if any(run.mode != "none" and run.clipped_steps == t.steps and run.final < t.start_cost for run in t.runs):
        lines.append("Where clipping acts on every step, each step has a fixed size (lr t for norm), so the run "
                     "ends in a 2-cycle around the target whose width that size sets.")
    return lines


def _run_story(run: clipping.Run, t: Training) -> str:
    if run.diverged_at is not None:
        return f"the parameters left float64 after step {run.diverged_at} (inf): the run blew up."
    ratio = run.final / t.start_cost if t.start_cost > 0 else math.nan
    lo, hi = run.tail
    band = render.num(lo) if lo == hi else f"{render.num(lo)} to {render.num(hi)}"
    text = (f"cost {render.num(t.start_cost)} -> {band} over the last {min(clipping.TAIL, t.steps + 1)} steps "
            f"(x{render.num(ratio, 3)} at the end, {'worse' if ratio > 1 else 'better'}); at the end a_L = "
            f"{render.num(run.final_output)}, ||g|| = {render.from_log10(1.0, run.log10_final_grad_norm)}")
    if run.log10_final_grad_norm < VANISHED_LOG10:
        text += " (saturated units: the gradient has vanished, so the run is stuck)"
    if run.mode == "none":
        return text + "."
    return text + f"; clipping acted on {run.clipped_steps} of {t.steps} steps."


# ---------------------------------------------------------------- JSON and CSV
def _mode_data(m: ModeResult) -> dict:
    d = dict(mode=m.mode, clipped=m.clipped, norm_before=m.norm_before, norm_after=m.norm_after, cosine=m.cosine,
             log10_norm_before=m.log10_norm_before, log10_abs_clipped=m.log10_clipped, changed=m.changed)
    if m.per_tensor is not None:
        d.update(per_tensor=m.per_tensor, per_tensor_cosine=m.per_tensor_cosine)
    if m.naive is not None:
        d["naive_float64"] = m.naive
    return d


def _data(r: ClipResult) -> dict:
    g = r.gradient
    data = dict(threshold=r.threshold, eps=r.eps, lam=r.lam, source=r.source, input=r.input,
                log10_abs_input=g.flat_log.log10_abs, sign_input=g.flat_log.sign, labels=g.labels,
                tensor_shapes=[b.shape[1:] for b in g.blocks for _ in range(b.shape[0])],
                beyond_float64=r.rescued, nonfinite=r.nonfinite_note, skipped=r.skipped,
                results=[_mode_data(m) for m in r.results])
    if r.chain is not None:
        c = r.chain
        data["chain"] = dict(activation=c.activation, alpha=c.alpha, depth=c.depth, preset=c.preset,
                             target=c.target, weights=c.weights_spec, biases=c.biases_spec, regime=c.regime)
    if r.update is not None:
        u = r.update
        data["update"] = dict(param=u.param, lr=u.lr, component=u.component,
                              steps=[dict(mode=s.mode, grad=s.grad, log10_abs_grad=s.log10_grad,
                                          new_param=s.new_param, log10_abs_step=s.log10_step) for s in u.steps])
    if r.training is not None:
        t = r.training
        data["training"] = dict(target=t.target, lr=t.lr, steps=t.steps,
                                runs=[dict(mode=run.mode, costs=run.costs, final_cost=run.final,
                                           diverged_at=run.diverged_at, clipped_steps=run.clipped_steps)
                                      for run in t.runs])
    return data


def _csv(r: ClipResult) -> tuple[list[str], list[list]]:
    """One row per component: the input and every mode's clipped value, full precision."""
    headers = ["component", "input", "log10_abs_input"]
    columns = []
    for m in r.results:
        headers.append(m.mode)
        columns.append(m.clipped)
        if m.per_tensor is not None:
            headers.append(PER_TENSOR)
            columns.append(m.per_tensor)
    g = r.gradient.flat_log
    rows = [[label, r.input[i], g.log10_abs[i]] + [col[i] for col in columns]
            for i, label in enumerate(r.gradient.labels)]
    return headers, rows


def report(r: ClipResult) -> render.Report:
    """The clip tables, JSON and CSV."""
    tables = [_component_table(r), _mode_table(r)]
    if r.update is not None:
        tables.append(_update_table(r))
    if r.training is not None:
        tables.append(_training_table(r))
    notes = _direction_notes(r) + _rescue_notes(r) + _update_notes(r) + _training_notes(r)
    headers, rows = _csv(r)
    return render.Report("clip", _data(r), title=_title(r), tables=tables, notes=notes, csv_headers=headers,
                         csv_rows=rows)


# ---------------------------------------------------------------- the command
def clip(
    threshold: Annotated[float, typer.Option("--threshold", "-t", help="The threshold t (> 0): the largest |component| (value), the largest norm (norm, global-norm).")] = 0.5,
    grad: Annotated[Optional[List[str]], typer.Option("--grad", metavar="G1,G2,...", help="A gradient tensor to clip instead of the chain's, e.g. 3,4 (inf and nan allowed); rows with ';' (1,2;3,4: rows are AGC's units). Repeat for several tensors.")] = None,
    weights: Annotated[Optional[List[str]], typer.Option("--weights", metavar="W1,W2,...", help="The weights W of each --grad tensor (same shape), for adaptive clipping.")] = None,
    mode: Annotated[str, typer.Option("--mode", "-m", metavar="MODE", help="value, norm, global-norm, adaptive or all.")] = "all",
    eps: Annotated[float, typer.Option(callback=finite, help="Added to the norm in norm and global-norm: 1e-6 as in PyTorch's clip_grad_norm_; 0 gives TensorFlow's clip_by_norm, (g t) / max(||g||, t), digit for digit above the threshold; a vector whose norm is already <= t is returned as it is (TensorFlow's order would round subnormal components).")] = clipping.NORM_EPS,
    lam: Annotated[float, typer.Option("--lam", callback=positive, help="AGC's lambda: the largest |G_i| / max(|W_i|, 1e-3) (Brock et al. use 0.01).")] = clipping.LAM,
    depth: Annotated[Optional[int], typer.Option(min=1, max=chain.MAX_DEPTH, help="Depth of the chain whose gradient is clipped (default 4; 300 goes beyond float64).")] = None,
    act: Annotated[Optional[str], act_option("sigmoid", what=" of the chain")] = None,
    alpha: AlphaOpt = None,
    preset: Annotated[Optional[str], typer.Option(metavar="NAME", help="The chain: nielsen-explode (default: weights 100, z_j = 0, every gain 25) or nielsen-vanish.")] = None,
    seed: SeedOpt = None,
    param: Annotated[Optional[float], typer.Option(callback=finite, help="The parameter before one update: b1 of the chain (default 1.56, as in C. Hansen's text); with --grad, the parameter of its first component (no update without it).")] = None,
    lr: Annotated[float, typer.Option(callback=positive, help="Learning rate of that single update (0.5 as in Hansen's text).")] = clipping.LR,
    steps: Annotated[Optional[int], typer.Option(min=1, max=clipping.MAX_STEPS, help="Also train the chain: N steps of w, b <- w, b - train_lr clip(dC/dw, dC/db), without clipping and with each mode; shows the cost (a_L - target)^2 / 2 per step.")] = None,
    train_target: Annotated[float, typer.Option(callback=finite, help="Target of the training (beside the start a_4 = 0.5).")] = clipping.TRAIN_TARGET,
    train_lr: Annotated[float, typer.Option(callback=positive, help="Learning rate of the training (the steep depth-4 chain needs tiny steps).")] = clipping.TRAIN_LR,
    error_if_nonfinite: Annotated[bool, typer.Option("--error-if-nonfinite", help="Refuse a gradient holding inf or nan (exit 2), like PyTorch's error_if_nonfinite=True.")] = False,
    fmt: FormatOpt = "table",
    plot: PlotOpt = None,
    yes: YesOpt = False,
) -> None:
    """Clip a gradient by value, by norm, by global norm and adaptively (threshold 0.5 as in C. Hansen, "Activation Functions Explained", mlfromscratch).

    value: g_i -> clamp(g_i, -t, t). The direction turns.

    norm: g -> g * min(1, t / (||g||_2 + eps)), eps = 1e-6 as in PyTorch; --eps 0 is TensorFlow's clip_by_norm.
    A zero vector stays zero; the direction is kept.

    global-norm: g_k -> g_k * min(1, t / (sqrt(sum_k ||g_k||^2) + eps)) for every tensor g_k.
    That is norm on all tensors together; beside it, each tensor clipped by its own norm (per-tensor).

    adaptive (AGC, Brock et al. 2021): G_i -> G_i * min(1, lam max(||W_i||, 1e-3) / ||G_i||), unit i = row i.
    A vector is one unit; in the chain each w_j and each b_j is a unit (one neuron per layer).

    Without --grad: the gradient (dC/dw_j, dC/db_j) of Nielsen's chain (preset nielsen-explode), then
    Hansen's single update b1 <- b1 - lr dC/db1 with b1 = 1.56 and lr = 0.5, without clipping and with each mode.

    Beyond float64 (--depth 300) norms and factors come from the log10 magnitudes: finite, not nan or 0.

    inf or nan in --grad: as PyTorch (norm inf -> factor 0, inf * 0 = nan), noted on stderr.

    Example: gradsim clip

    Example: gradsim clip --grad 3,4 -t 0.5

    Example: gradsim clip --grad 4.4e-8 --param 0.2 --lr 0.5

    Example: gradsim clip --grad 3,4 --grad 1,0 --weights 1,1 --weights 2,2 --mode global-norm

    Example: gradsim clip --steps 200 --plot clip.png
    """
    with usage_errors():
        runs = 1 + (len(clipping.MODES) if mode.strip().lower() == "all" else 1)  # no clipping, then each mode
        cost.check(cost.clip_cost(4 if depth is None or grad else depth, fmt, steps or 0, runs), yes)
    with usage_errors(), progress("steps") as tick:
        result = clipping.clip(threshold=threshold, grads=grad, weights=weights, mode=mode, eps=eps, lam=lam,
                               depth=depth, act=act, alpha=alpha, preset=preset, seed=seed, param=param, lr=lr,
                               steps=steps, train_target=train_target, train_lr=train_lr,
                               error_if_nonfinite=error_if_nonfinite, progress=tick)
    if result.nonfinite_note:
        typer.echo(f"Warning: {result.nonfinite_note}", err=True)
    render.emit(report(result), fmt)
    if plot:
        from .. import plots
        from ..options import save_plot

        save_plot(plots.clip_figure(result), plot)
