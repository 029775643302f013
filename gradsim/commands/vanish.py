"""`gradsim vanish`: Nielsen's chain of single neurons."""

from __future__ import annotations

import math
from typing import Annotated, Optional

import numpy as np
import typer

from .. import chain, cost, render
from ..chain import ChainResult
from ..options import AlphaOpt, FormatOpt, PlotOpt, SeedOpt, YesOpt, act_option, finite, positive, usage_errors

SPEC_HELP = "a number for every layer, a comma list of DEPTH numbers, normal[:MEAN,STD] or uniform:LO,HI"


def _title(r: ChainResult) -> str:
    alpha = f" (alpha {r.alpha:g})" if r.alpha is not None else ""
    params = f"weights {r.weights_spec}, biases {r.biases_spec}"
    random = "normal" in params or "uniform" in params
    seed = f", seed {r.seed}" if random and r.seed is not None else ""
    preset = f" · preset {r.preset}" if r.preset else ""
    return (f"Nielsen's chain · {r.activation}{alpha} · depth {r.depth} · input {r.input:g} · target {r.target:g}"
            f" · {params}{seed}{preset}")


def _summary(r: ChainResult) -> list[str]:
    last = r.depth
    if r.log10_ratio is None and r.depth > 1 and r.regime == "vanishing":
        head = f"{r.regime}: every dC/db_j is 0"
    elif r.log10_ratio is None:
        head = f"{r.regime}: a chain of {r.depth} layer(s)"
    elif r.log10_ratio == -math.inf:
        head = f"{r.regime}: |dC/db1| is exactly 0 while |dC/db{last}| is not"
    elif r.log10_ratio < 0:
        head = (f"{r.regime}: |dC/db1| is {render.times(-r.log10_ratio)} x smaller than |dC/db{last}|"
                f" (x{render.num(r.factor_per_layer, 3)} per layer)")
    else:
        head = (f"{r.regime}: |dC/db1| is {render.times(r.log10_ratio)} x larger than |dC/db{last}|"
                f" (x{render.num(r.factor_per_layer, 3)} per layer)")
    lines = [f"{head}.", f"Why: {r.why}", f"cost C = (a_L - target)^2 / 2 = {render.from_log10(1.0, r.log10_cost)}"]
    if r.lr is not None:
        step = r.log10_delta_b
        lines.append(f"One gradient step with lr {r.lr:g} moves b1 by {render.from_log10(-r.sign_grad_b[0], step[0])}"
                     f" and b{last} by {render.from_log10(-r.sign_grad_b[-1], step[-1])}.")
    return lines


def _rows(r: ChainResult, limit: int | None = 40) -> list[int]:
    """Which layers a table shows: all of a short chain, head and tail of a long one."""
    if limit is None or r.depth <= limit:
        return list(range(r.depth))
    half = limit // 2
    return list(range(half)) + [-1] + list(range(r.depth - half, r.depth))


def report(r: ChainResult) -> render.Report:
    """The vanish table, JSON and CSV."""
    headers = ["layer", "w", "b", "z", "a", "f'(z)", "gain", "dC/db", "dC/dw"] + (["-lr dC/db"] if r.lr else [])
    delta_b, log10_delta_b = r.delta_b, r.log10_delta_b  # properties: computed once, not per layer
    rows = []
    for j in _rows(r):
        if j < 0:
            rows.append(["..."] + [""] * (len(headers) - 1))
            continue
        z = render.from_log10(np.sign(r.z[j]), r.log10_abs_z[j])
        a = render.from_log10(r.sign_a[j + 1], r.log10_abs_a[j + 1])
        row = [str(j + 1), render.num(r.w[j]), render.num(r.b[j]), z, a, render.num(r.dact[j]), render.num(r.gain[j])]
        row += [render.from_log10(r.sign_grad_b[j], r.log10_grad_b[j]),
                render.from_log10(r.sign_grad_w[j], r.log10_grad_w[j])]
        if r.lr:
            row.append(render.from_log10(-r.sign_grad_b[j], log10_delta_b[j]))
        rows.append(row)
    layers = [dict(layer=j + 1, w=r.w[j], b=r.b[j], z=r.z[j], a=r.a[j + 1], log10_abs_z=r.log10_abs_z[j],
                   log10_abs_a=r.log10_abs_a[j + 1], a_in=r.a[j], dact=r.dact[j],
                   gain=r.gain[j], grad_b=r.grad_b[j], grad_w=r.grad_w[j], log10_grad_b=r.log10_grad_b[j],
                   log10_grad_w=r.log10_grad_w[j], sign_grad_b=r.sign_grad_b[j],
                   **({"delta_b": delta_b[j], "log10_abs_delta_b": log10_delta_b[j]} if r.lr else {}))
              for j in range(r.depth)]
    data = dict(activation=r.activation, alpha=r.alpha, depth=r.depth, input=r.input, target=r.target,
                cost=r.cost, log10_cost=r.log10_cost, regime=r.regime, log10_ratio=r.log10_ratio, factor_per_layer=r.factor_per_layer,
                why=r.why, preset=r.preset, seed=r.seed, weights=r.weights_spec, biases=r.biases_spec, lr=r.lr,
                layers=layers)
    keys = list(layers[0])
    return render.Report("vanish", data, title=_title(r), tables=[render.Table(headers, rows)], notes=_summary(r),
                         csv_headers=keys, csv_rows=([row[k] for k in keys] for row in layers))


def vanish(
    depth: Annotated[Optional[int], typer.Option(min=1, max=chain.MAX_DEPTH, help="Number of layers (default 4, as in Nielsen).")] = None,
    act: Annotated[Optional[str], act_option("sigmoid", "; relu'(0) = 0 as in PyTorch")] = None,
    alpha: AlphaOpt = None,
    weights: Annotated[Optional[str], typer.Option(metavar="SPEC", help=f"Weights: {SPEC_HELP}. Default normal (N(0,1)).")] = None,
    biases: Annotated[Optional[str], typer.Option(metavar="SPEC", help=f"Biases: {SPEC_HELP}, or zero-z (b_j = -w_j a_(j-1), so z_j = 0). Default normal.")] = None,
    input: Annotated[Optional[float], typer.Option("--input", callback=finite, help="The input a_0 (default 1).")] = None,
    target: Annotated[Optional[float], typer.Option(callback=finite, help="Target of C = (a_L - target)^2 / 2 (default 0); inside the activation's range.")] = None,
    preset: Annotated[Optional[str], typer.Option(metavar="NAME", help="nielsen-vanish (N(0,1) weights and biases) or nielsen-explode (weights 100, zero-z biases: every gain is 25). Other options override it.")] = None,
    seed: SeedOpt = None,
    lr: Annotated[Optional[float], typer.Option(callback=positive, help="Also show Nielsen's speed of learning, the one-step change -lr dC/db.")] = None,
    fmt: FormatOpt = "table",
    plot: PlotOpt = None,
    yes: YesOpt = False,
) -> None:
    """Follow the gradient back through a chain of single neurons (Nielsen, ch. 5).

    z_j = w_j a_(j-1) + b_j, a_j = f(z_j); dC/db_1 = f'(z_1) w_2 f'(z_2) ... w_L f'(z_L) (a_L - target).
    Magnitudes are computed in log space, so any depth gives finite log10 values.

    Regime: vanishing if |dC/db_1| < |dC/db_L| / 10, exploding if |dC/db_1| > 10 |dC/db_L|, else stable.

    Example: gradsim vanish --preset nielsen-explode

    Example: gradsim vanish --depth 30 --act tanh -f json
    """
    with usage_errors():
        cost.check(cost.layers_cost(depth or 4, fmt), yes)
        result = chain.vanish(depth=depth, act=act, alpha=alpha, weights=weights, biases=biases, input=input,
                              target=target, seed=seed, lr=lr, preset=preset)
    render.emit(report(result), fmt)
    if plot:
        from .. import plots
        from ..options import save_plot

        save_plot(plots.chain_figure(result), plot)
