"""`gradsim rnn`: gradients through time, Pascanu et al.'s cliff, clipping in training, and LSTM's carousel."""

from __future__ import annotations

import math
from typing import Annotated, Optional

import numpy as np
import typer

from .. import activations, render
from ..options import AlphaOpt, FormatOpt, PlotOpt, SeedOpt, act_option, finite, positive, progress, usage_errors
from ..rnn import MAX_RADIUS, MAX_STEPS, MAX_UNITS, RnnResult
from ..rnn import rnn as simulate
from ..rnn_train import SEQUENCES

#: The surface rows and columns the table shows.
SURFACE_ROWS = 11


def shown_steps(steps: int) -> list[int]:
    """Which steps a table shows (1-based): all of a short run; 1, 2, 3, 5, 10, 20, 50, ... and the last ones."""
    if steps <= 30:
        return list(range(1, steps + 1))
    near = {t for k in range(7) for t in (10 ** k, 2 * 10 ** k, 5 * 10 ** k) if t <= steps}
    near |= {1, 2, 3} | {steps - d for d in (0, 1, 2, 5, 10, 20, 50, 100, 1000) if steps - d >= 1}
    return sorted(near)


def _g(sign: float, log10_abs: float) -> str:
    return render.from_log10(sign, log10_abs)


def _title(r: RnnResult) -> str:
    if r.cell == "lstm":
        net = (f"LSTM cell (gate weight {r.extra['gate_weight']:g}, input weight {r.input_weight:g}, bias {r.bias:g}, "
               f"forget bias {r.forget_bias:g})\nbeside a {r.activation} RNN with w {r.weight:g}")
    elif r.units == 1:
        net = (f"one-unit {r.activation} RNN h_t = f({r.weight:g} h + {r.input_weight:g} x_t "
               f"{'-' if r.bias < 0 else '+'} {abs(r.bias):g})")
    else:
        net = f"{r.units}-unit {r.activation} RNN, W {r.init}, spectral radius {r.radius:g}, seed {r.seed}"
    return f"{net} · T {r.steps} · x {r.input} · h0 {r.h0:g} · y {r.target:g}, cost {r.cost}"


def _factor(r: RnnResult, i: int) -> str:
    """w f'(z_t) as a float, or from its log10 where f'(z_t) is below float64."""
    if r.factor[i] == 0 and math.isfinite(r.log10_factor[i]):
        return _g(r.extra["sign_factor"][i], r.log10_factor[i])
    return render.num(r.factor[i])


def _table(r: RnnResult) -> render.Table:
    lstm = r.lstm
    if lstm is not None:
        headers = ["t", "x", "c", "h", "forget f_t", "prod f (carousel)", "|dC/dc_t|", "|dC/dh_t|",
                   f"{r.activation} RNN prod w f'"]
    elif r.units == 1:
        headers = ["t", "x", "h", "w f'(z_t)", "|dC/dh_t|", "dC/dw from t"]
    else:
        headers = ["t", "x", "||h_t||", "||J_t||", "||dC/dh_t||", "||dC/dW|| from t"]
    rows = []
    for t in shown_steps(r.steps):
        i = t - 1
        row = [str(t), render.num(r.x[i])]
        if lstm is not None:
            row += [render.num(lstm.c[i]), render.num(r.h[i]), render.num(lstm.forget[i], 6),
                    _g(1.0, lstm.log10_carousel[i]), _g(1.0, lstm.log10_grad_c[i]), _g(1.0, r.log10_grad_h[i]),
                    _g(1.0, lstm.vanilla_log10_product[i])]
        elif r.units == 1:
            row += [_g(math.copysign(1.0, r.h[i]), r.log10_h[i]), _factor(r, i),
                    _g(1.0, r.log10_grad_h[i]), _g(1.0, r.log10_grad_w[i])]
        else:
            row += [_g(1.0, r.log10_h[i]), _g(1.0, r.log10_factor[i]), _g(1.0, r.log10_grad_h[i]),
                    _g(1.0, r.log10_grad_w[i])]
        rows.append(row)
    return render.Table(headers, rows)


def _verdict(r: RnnResult) -> str:
    bar = "|" if r.units == 1 else "||"
    name = "dC/dc_" if r.cell == "lstm" else "dC/dh_"
    what, last = f"{bar}{name}1{bar}", f"{bar}{name}{r.steps}{bar}"
    if r.log10_ratio is None:
        return f"{r.regime}: the gradient is 0 (the state already equals the target)" if r.steps > 1 else \
            f"{r.regime}: a single step has nothing to compare with"
    if not math.isfinite(r.log10_ratio):
        return f"{r.regime}: {what} is {'0' if r.log10_ratio < 0 else 'beyond any float'}"
    size = render.times(abs(r.log10_ratio))
    per = render.from_log10(1.0, r.log10_factor_per_step, 3)
    side = "smaller" if r.log10_ratio < 0 else "larger"
    source = " (the cost on h_T alone)" if r.cost == "every" else ""
    return f"{r.regime}: {what} is {size} x {side} than {last}{source} (x{per} per step)"


def _bounds_note(r: RnnResult) -> list[str]:
    b = r.bounds
    if b is None:
        return []
    name = "|w|" if r.units == 1 else "largest singular value of W"
    radius = f" (spectral radius {b.spectral_radius:.4g})" if r.units > 1 else ""
    lines = [f"Bounds: gamma = max|f'| = {b.gamma:.4g}; {name} = {b.largest_singular_value:.4g}{radius}."]
    if b.vanishing_guaranteed:
        lines.append(f"  {name} < 1/gamma = {1 / b.gamma:.4g}: vanishing is guaranteed (Hochreiter 1991;")
        lines.append("  Bengio et al. 1994; the sufficient condition of Pascanu et al. 2013).")
    else:
        lines.append(f"  {name} >= 1/gamma = {1 / b.gamma:.4g}: the necessary condition for exploding holds")
        lines.append("  (Pascanu et al. 2013); whether it explodes depends on where the states sit.")
    return lines


def _surface_table(r: RnnResult) -> render.Table:
    s = r.surface
    cols = np.linspace(0, len(s.w) - 1, min(SURFACE_ROWS, len(s.w))).round().astype(int)
    rows_i = np.linspace(0, len(s.b) - 1, min(SURFACE_ROWS, len(s.b))).round().astype(int)[::-1]
    rows = [[render.num(s.b[i], 3)] + [render.num(s.cost[i, j], 2) for j in cols] for i in rows_i]
    return render.Table(["b \\ w"] + [render.num(s.w[j], 3) for j in cols], rows,
                        title=f"Cost C(w, b) = (h_T - {s.target:g})^2 / 2 of the one-unit RNN (every "
                              f"{len(s.w) // (len(cols) - 1) if len(cols) > 1 else 1}th grid point)")


def _descent_table(r: RnnResult) -> render.Table:
    s = r.surface
    rows = []
    for t in s.trajectories:
        i = int(np.argmax(t.step_length)) if t.step_length.size else 0
        longest = t.step_length.max() if t.step_length.size else 0
        rows.append([t.mode, render.num(longest), f"({t.w[i]:.3g}, {t.b[i]:.3g})" if t.step_length.size else "-",
                     _g(1.0, float(np.max(t.log10_grad_norm))), str(t.clipped_steps),
                     render.num(t.cost[-1]), f"({t.w[-1]:.4g}, {t.b[-1]:.4g})",
                     "-" if t.diverged_at is None else str(t.diverged_at)])
    return render.Table(["clipping", "longest step", "from (w, b)", "max ||grad||", "clipped", "final cost",
                         "final (w, b)", "diverged"], rows,
                        title=f"Gradient descent from (w, b) = ({s.trajectories[0].w[0]:g}, "
                              f"{s.trajectories[0].b[0]:g}), lr {s.lr:g}, {len(s.trajectories[0].step_length)} steps,"
                              f" threshold {s.threshold:g}",
                        justify=["left"] + ["right"] * 7)


def _training_table(r: RnnResult) -> render.Table:
    tr = r.training
    epochs = len(tr.runs[0].costs) - 1
    shown = sorted({0, 1, 5, 10, 20, 50, 100, 200, 500, 1000, epochs} & set(range(epochs + 1)))
    rows = []
    for run in tr.runs:
        rows.append([run.mode] + [render.num(run.costs[e], 3) for e in shown]
                    + [f"{100 * run.accuracy:.0f}%" if math.isfinite(run.accuracy) else "-",
                       render.from_log10(1.0, run.log10_max_grad_norm, 3), str(run.clipped_steps),
                       "-" if run.diverged_at is None else str(run.diverged_at)])
    return render.Table(["clipping"] + [str(e) for e in shown] + ["recalled", "max ||grad||", "clipped",
                                                                  "diverged"], rows,
                        title=f"Recall x_1 after {tr.steps - 1} noise steps ({tr.units} units, lr {tr.lr:g}, threshold "
                              f"{tr.threshold:g}): mean cost after epoch 0, 1, 5, ...",
                        justify=["left"] + ["right"] * (len(shown) + 4))


def _time_data(r: RnnResult) -> list[dict]:
    out = []
    for i in range(r.steps):
        row = dict(t=i + 1, x=r.x[i], h=r.h[i], log10_abs_h=r.log10_h[i], log10_grad_h=r.log10_grad_h[i])
        if r.cell == "lstm":
            row.update(c=r.lstm.c[i], forget=r.lstm.forget[i], log10_carousel=r.lstm.log10_carousel[i],
                       log10_grad_c=r.lstm.log10_grad_c[i], vanilla_log10_product=r.lstm.vanilla_log10_product[i],
                       vanilla_log10_grad_h=r.lstm.vanilla_log10_grad_h[i])
        else:
            if r.units == 1:
                row.update(factor=r.factor[i], sign_grad_h=r.sign_grad_h[i])
            row.update(log10_factor=r.log10_factor[i], log10_grad_w=r.log10_grad_w[i])
        out.append(row)
    return out


def _extra_data(r: RnnResult) -> dict:
    data = {}
    if r.surface is not None:
        s = r.surface
        data["surface"] = dict(
            w=s.w, b=s.b, cost=s.cost, log10_grad_norm=s.log10_grad_norm, target=s.target, lr=s.lr,
            threshold=s.threshold, wall=[dict(w=w, b=b) for w, b in zip(s.wall_w, s.wall_b)],
            trajectories=[dict(mode=t.mode, w=t.w, b=t.b, cost=t.cost, log10_grad_norm=t.log10_grad_norm,
                               step_length=t.step_length, clipped_steps=t.clipped_steps, diverged_at=t.diverged_at)
                          for t in s.trajectories])
    if r.training is not None:
        tr = r.training
        data["training"] = [dict(mode=run.mode, costs=run.costs, accuracy=run.accuracy, max_grad_norm=run.max_grad_norm,
                                 log10_max_grad_norm=run.log10_max_grad_norm, clipped_steps=run.clipped_steps,
                                 steps_taken=run.steps_taken, diverged_at=run.diverged_at) for run in tr.runs]
        data["training_settings"] = dict(steps=tr.steps, units=tr.units, lr=tr.lr, epochs=tr.epochs,
                                         threshold=tr.threshold, sequences=SEQUENCES)
    return data


def report(r: RnnResult) -> render.Report:
    """The rnn table (and the surface or training tables), JSON and CSV."""
    b = r.bounds
    data = dict(activation=r.activation, alpha=r.alpha, cell=r.cell, units=r.units, steps=r.steps, input=r.input,
                **({"gate_weight": r.extra["gate_weight"]} if r.cell == "lstm" else {}),
                cost=r.cost, target=r.target, seed=r.seed, weight=r.weight, input_weight=r.input_weight, bias=r.bias,
                h0=r.h0, radius=r.radius, init=r.init, forget_bias=r.forget_bias, regime=r.regime,
                log10_ratio=r.log10_ratio, log10_factor_per_step=r.log10_factor_per_step, why=r.why,
                grad_w=r.grad_w_total, grad_b=r.grad_b_total,
                bounds=None if b is None else dict(gamma=b.gamma, largest_singular_value=b.largest_singular_value,
                                                   spectral_radius=b.spectral_radius,
                                                   vanishing_guaranteed=b.vanishing_guaranteed,
                                                   exploding_possible=b.exploding_possible),
                time=_time_data(r), **_extra_data(r))
    tables, notes = [_table(r)], [f"{_verdict(r)}.", f"Why: {r.why}", *_bounds_note(r)]
    if r.grad_w_total is not None:
        notes.append(f"dC/dw = {render.num(r.grad_w_total)}, dC/db = {render.num(r.grad_b_total)} (summed over t).")
    if r.surface is not None:
        tables += [_surface_table(r), _descent_table(r)]
        notes += ["The wall: h -> f(w h + b) has a fixed point with |w f'(w h* + b)| = 1 (Pascanu et al. 2013,",
                  "section 2.3); crossing it, h_T jumps from one branch to the other."]
    if r.training is not None:
        tables.append(_training_table(r))
        notes = [f"Untrained: {_verdict(r)}.", "Cost 0.5: the output is 0, nothing remembered.",
                 "Clipping caps each step; it cannot revive a vanished gradient."]
    keys = list(data["time"][0])
    return render.Report("rnn", data, title=_title(r), tables=tables, notes=notes, csv_headers=keys,
                         csv_rows=([row[k] for k in keys] for row in data["time"]))


def rnn(
    act: Annotated[Optional[str], act_option("sigmoid (tanh with --train, and for the RNN beside --cell lstm)",
                                             what=" of the RNN")] = None,
    alpha: AlphaOpt = None,
    weight: Annotated[Optional[float], typer.Option(callback=finite, metavar="W", help="The scalar recurrent weight w (default 3; 6 with --surface, the start of descent; 0.9 for the RNN beside --cell lstm).")] = None,
    input_weight: Annotated[Optional[float], typer.Option(callback=finite, metavar="U", help="Input weight u (default 1; N units: U ~ u N(0,1)).")] = None,
    bias: Annotated[Optional[float], typer.Option(callback=finite, metavar="B", help="Bias b of every unit (default 0; -3.2 with --surface).")] = None,
    h0: Annotated[Optional[float], typer.Option(callback=finite, help="Initial state h_0 of every unit (default 0).")] = None,
    steps: Annotated[Optional[int], typer.Option(metavar="T", help=f"Time steps T, 1 to {MAX_STEPS:,} (50 if not given; 100 with --cell lstm, 20 with --train).")] = None,
    input: Annotated[Optional[str], typer.Option("--input", metavar="const:V|pulse|noise", help="Inputs x_t: const:V (every step), pulse (x_1 = 1, then 0; the default) or noise (N(0,1) from --seed).")] = None,
    units: Annotated[Optional[int], typer.Option(help=f"Units N (1 to {MAX_UNITS}; default 1, 8 with --train); N > 1 draws W from --init with spectral radius --radius.")] = None,
    radius: Annotated[Optional[float], typer.Option(callback=finite, metavar="R", help=f"Spectral radius of W for N > 1 units (0 < R <= {MAX_RADIUS:g}; default 1).")] = None,
    init: Annotated[Optional[str], typer.Option(metavar="gaussian|orthogonal", help="W for N > 1 units: gaussian (N(0, 1/N) rescaled; the default) or orthogonal (QR), times the radius.")] = None,
    cell: Annotated[Optional[str], typer.Option(metavar="rnn|lstm", help="rnn (the default) or lstm: one LSTM cell, its carousel prod f_t beside the RNN's prod w f'(z_t).")] = None,
    forget_bias: Annotated[Optional[float], typer.Option(callback=finite, help="The LSTM forget gate's bias (default 1); 40 makes f_t = 1 in float64.")] = None,
    gate_weight: Annotated[Optional[float], typer.Option(callback=finite, help="Recurrent weight from h_(t-1) into each LSTM gate (default 0: the gates see x_t only).")] = None,
    cost: Annotated[Optional[str], typer.Option(metavar="last|every", help="C = (h_T - y)^2 / 2 on the last step (the default), or summed over every step.")] = None,
    target: Annotated[Optional[float], typer.Option(callback=finite, metavar="Y", help="Target y of the cost (default 0; 0.7 with --surface).")] = None,
    surface: Annotated[bool, typer.Option("--surface", help="Pascanu et al.'s cliff: C(w, b) of the one-unit RNN over a grid, the wall, and descent from (--weight, --bias) unclipped and clipped.")] = False,
    train: Annotated[bool, typer.Option("--train", help="Train an RNN to recall x_1 after T - 1 noise steps, unclipped and with each clipping mode.")] = False,
    clip_mode: Annotated[Optional[str], typer.Option(metavar="MODE", help="value, norm, global-norm, adaptive (lambda = the threshold) or all, as in `gradsim clip` (default norm with --surface, all with --train).")] = None,
    clip_threshold: Annotated[Optional[float], typer.Option(callback=positive, help="Clipping threshold (default 0.5 with --surface, 1 with --train).")] = None,
    lr: Annotated[Optional[float], typer.Option(callback=positive, help="Learning rate of the descent (default 1 with --surface, 0.1 with --train).")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Descent steps with --surface, epochs with --train (default 30 for either).")] = None,
    w_range: Annotated[Optional[str], typer.Option(metavar="LO,HI", help="The w axis of --surface (default 0,10).")] = None,
    b_range: Annotated[Optional[str], typer.Option(metavar="LO,HI", help="The b axis of --surface (default -8,2).")] = None,
    grid: Annotated[Optional[int], typer.Option(help="Grid points per axis of --surface (3 to 401; default 121).")] = None,
    seed: SeedOpt = None,
    fmt: FormatOpt = "table",
    plot: PlotOpt = None,
) -> None:
    """Gradients through time: an RNN unrolled over T steps is Nielsen's chain with one shared weight.

    h_t = f(w h_(t-1) + u x_t + b); dC/dh_(t-1) = w f'(z_t) dC/dh_t, so |dC/dh_1| = |h_T - y| prod |w f'(z_t)|,
    computed in log space (finite log10 at any T). With N units the factor is the Jacobian diag f'(z_t) W.

    Bounds: gamma = max|f'|; largest singular value of W < 1/gamma makes the gradient vanish (Hochreiter 1991,
    Bengio et al. 1994: sigmoid |w| < 4), > 1/gamma is necessary to explode (Pascanu, Mikolov & Bengio 2013).

    Example: gradsim rnn

    Example: gradsim rnn --weight 8 --bias -4 --h0 0.5 --input const:0 --steps 10000

    Example: gradsim rnn --surface --plot cliff.png

    Example: gradsim rnn --train --steps 50

    Example: gradsim rnn --cell lstm --forget-bias 40 --steps 1000
    """
    with usage_errors(), progress("gradsim rnn") as tick:
        activation = activations.get(act, alpha) if act is not None else None
        result = simulate(act=activation, alpha=alpha, weight=weight, input_weight=input_weight, bias=bias, h0=h0,
                          steps=steps, input=input, units=units, radius=radius, init=init, cell=cell,
                          forget_bias=forget_bias, gate_weight=gate_weight, cost=cost, target=target, seed=seed,
                          surface=surface, train=train,
                          clip_mode=clip_mode, clip_threshold=clip_threshold, lr=lr, epochs=epochs, w_range=w_range,
                          b_range=b_range, grid=grid, progress=tick)
    render.emit(report(result), fmt)
    if plot:
        from .. import rnn_plots
        from ..options import save_plot

        save_plot(rnn_plots.figure(result), plot)
