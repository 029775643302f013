"""`gradsim ensemble`: random deep networks measured at scale, the mean-field theory beside them."""

from __future__ import annotations

import math
from typing import Annotated, Optional

import numpy as np
import typer

from .. import cost, render
from ..activations import POSITIVELY_HOMOGENEOUS  # the length map is exact in the mean for them
from ..init import INITS
from ..ensemble import DEFAULT_DRAWS, DEFAULT_TRIALS, FAR_LOG10, MAX_DEPTH, MAX_THREADS, MAX_TRIALS, MAX_WIDTH
from ..ensemble import EnsembleResult
from ..ensemble import ensemble as run_ensemble  # the package attribute `gradsim.ensemble` is this function
from ..ensemble import default_threads, default_trials
from ..errors import GradsimError
from ..options import AlphaOpt, FormatOpt, PlotOpt, SeedOpt, YesOpt, act_option, finite, progress, usage_errors

#: A table shows every layer of a net up to this depth, evenly spaced layers (first and last among them) beyond.
TABLE_ROWS = 30


def _weights(r: EnsembleResult) -> str:
    if r.init == "orthogonal":
        return f"weights {render.num(r.sigma_w)} x orthogonal"
    fan = "" if r.width == 1 else f"/{r.width}"
    return f"weights N(0, {render.num(r.sigma_w2)}{fan})"


def _title(r: EnsembleResult) -> str:
    alpha = f" (alpha {r.alpha:g})" if r.alpha is not None else ""
    init = "" if r.init == "given" else f"init {r.init}: "
    x = f"input {r.input:g}" if r.input is not None else "input N(0, I)"
    return (f"Random networks · {r.activation}{alpha} · width {r.width} · depth {r.depth} · {r.trials:,} trials"
            f" · seed {r.seed}\n{init}{_weights(r)}, biases N(0, {render.num(r.sigma_b2)}) · {x}"
            f" · target {r.target:g}")


def _change(factor: float | None, depth: int) -> str:
    """How the RMS gradient of layer 1 compares with that of layer L at `factor` per layer in mean square."""
    if depth == 1:
        return "one layer, nothing to compare"
    if factor is None:
        return "fewer than two layers have a finite, non-zero mean ||delta||^2 to fit"
    if factor == 0:
        return "the RMS gradient of layer 1 is 0"
    log10_change = 0.5 * (depth - 1) * math.log10(factor)
    if abs(log10_change) < 1e-3:
        return f"RMS at layer 1 is that of layer {depth}"
    way = "smaller" if log10_change < 0 else "larger"
    return f"RMS at layer 1 is {render.times(abs(log10_change))} x {way} than at layer {depth}"


def _scale(xi: float | None) -> str:
    """Words for a depth scale -1/ln(factor)."""
    if xi is None or math.isnan(xi):
        return "-"
    if math.isinf(xi):
        return "infinite (no change with depth)"
    return f"{render.num(abs(xi), 3)} layers (mean ||delta||^2 {'shrinks' if xi > 0 else 'grows'} by e)"


def _notes(r: EnsembleResult) -> list[str]:
    fit = f"layers 1-{r.depth - 1}" if r.depth > 2 else "every layer"
    measured = "-" if r.measured_factor is None else f"x{render.num(r.measured_factor)}"
    interval = r.measured_factor_interval
    within = "" if interval is None else f" (95% bootstrap: {render.num(interval[0])} to {render.num(interval[1])})"
    lines = [
        f"measured:   mean ||delta||^2 {measured} per layer{within}, fit over {fit}: {r.verdict},",
        f"            {_change(r.measured_factor, r.depth)}.",
        f"mean field: chi1 = sigma_w^2 E[f'(sqrt(q*) z)^2] = {render.num(r.chi1)} (q* = {render.num(r.q_star)}):"
        f" {r.theory_verdict},",
        f"            {_change(r.chi1, r.depth)};",
        f"            depth scale -1/ln chi1 = {_scale(r.depth_scale)}.",
    ]
    if r.theory_factor is not None:
        lines.append(f"            along q_l (sigma_w^2 E[f'(sqrt(q_l) z)^2] per layer): x{render.num(r.theory_factor)},"
                     " fitted as measured.")
    if r.width == 1:
        lines.append("            (the mean field assumes wide layers: at width 1 it is a guide, not a prediction.)")
    if r.log10_mean_sq_exact is not None and r.exact_factor is not None:
        lines.append(f"exact:      mean ||delta||^2 x{render.num(r.exact_factor)} per layer (transfer operator, same fit),")
        lines.append(f"            {_change(r.exact_factor, r.depth)}.")
        if interval is not None and not interval[0] <= r.exact_factor <= interval[1]:
            lines.append("            The sample cannot decide: the exact factor is outside its interval; at width 1")
            lines.append("            the mean of ||delta||^2 is heavy-tailed, carried by trials too rare to sample.")
    if r.pre_mean is not None:
        lines += _forward_notes(r)
    within = f"x{render.num(10**r.resolution, 4)}" if r.resolution < 300 else f"{render.num(r.resolution, 3)} decades"
    lines.append(f"percentiles: from a histogram of log10 ||delta|| with bins of {render.num(2 * r.resolution, 3)}"
                 f" decades (within {within}).")
    if r.far_fraction is not None and np.any(r.far_fraction > 0):
        lines.append(f"far tail: up to {render.num(100 * float(np.max(r.far_fraction)), 3)}% of trials have |log10 "
                     f"||delta||| > {FAR_LOG10:g} at a layer; binned apart, a percentile among them is within "
                     f"{render.num(100 * r.far_precision, 2)}% of its log10.")
    if np.any(r.zero_fraction > 0):
        lines.append(f"zeros: up to {render.num(100 * float(np.max(r.zero_fraction)), 3)}% of trials have delta = 0"
                     " exactly at a layer (dead units); they count as 0.")
    if np.any(r.overflow_fraction > 0):
        lines.append(f"overflow: up to {render.num(100 * float(np.max(r.overflow_fraction)), 3)}% of trials"
                     " overflowed float64 in the forward pass; they count as infinite.")
    return lines


def _figure(value: float) -> str:
    return render.num(value) if math.isfinite(value) else "beyond float64"


def _forward_notes(r: EnsembleResult) -> list[str]:
    """The last layer's forward statistics beside the length map, and a word where the two part."""
    last, L = r.depth - 1, r.depth
    measured, theory = r.pre_q[last], r.q_theory[last]
    lines = [f"forward:    mean h^2 at layer {L}: {_figure(measured)} measured, {_figure(theory)} from the"
             f" length map (q_1 = {_figure(r.q_theory[0])});",
             f"            mean f(h) {_figure(r.act_mean[last])}, Var f(h) {_figure(r.act_var[last])};"
             " every layer in JSON and CSV."]
    if math.isfinite(measured) and math.isfinite(theory) and theory > 0 and measured > 0:
        ratio = measured / theory
        if not 0.5 <= ratio <= 2.0:
            why = ("the length map is exact in the mean here (f(c h) = c f(h)), but" if r.activation in POSITIVELY_HOMOGENEOUS
                   else "the length map assumes wide layers (Gaussian h), and")
            lines.append(f"            They differ x{render.num(max(ratio, 1 / ratio), 3)}: {why} in a deep narrow net"
                         f" (depth {L}, width {r.width}) the mean of h^2 is carried by rare trials that a sample"
                         " of this size seldom draws.")
    return lines


def shown_layers(depth: int, rows: int = TABLE_ROWS) -> list[int]:
    """0-based layers a table shows: all of a shallow net, evenly spaced ones (first and last) of a deep one."""
    if depth <= rows:
        return list(range(depth))
    return sorted({int(round(v)) for v in np.linspace(0, depth - 1, rows)})


def _forward_row(r: EnsembleResult, j: int) -> dict:
    """Layer j's forward statistics (measured over trials and units) and the length map's q."""
    if r.pre_mean is None:
        return {}
    return dict(pre_mean=r.pre_mean[j], pre_var=r.pre_var[j], pre_q=r.pre_q[j], q_theory=r.q_theory[j],
                act_mean=r.act_mean[j], act_var=r.act_var[j], grad_factor_theory=r.grad_factor_theory[j])


def layer_rows(r: EnsembleResult) -> list[dict]:
    """One JSON/CSV object per layer, first layer first."""
    return [dict(layer=j + 1, log10_grad_p5=r.log10_grad_p5[j], log10_grad_p50=r.log10_grad_p50[j],
                 log10_grad_p95=r.log10_grad_p95[j], log10_grad_rms=r.log10_grad_rms[j],
                 log10_mean_sq=r.log10_mean_sq[j], log10_grad_theory=r.log10_grad_theory[j],
                 zero_fraction=r.zero_fraction[j], overflow_fraction=r.overflow_fraction[j],
                 **({} if r.log10_mean_sq_exact is None else {"log10_mean_sq_exact": r.log10_mean_sq_exact[j]}),
                 **_forward_row(r, j))
            for j in range(r.depth)]


def report(r: EnsembleResult) -> render.Report:
    """The ensemble table (||delta_l|| percentiles, RMS, theory), JSON and CSV."""
    headers = ["layer", "p5 ||delta||", "median", "p95", "RMS", "theory RMS"]
    exact = r.log10_mean_sq_exact
    if exact is not None:
        headers.insert(5, "exact RMS")
    zeros = bool(np.any(r.zero_fraction > 0))
    if zeros:
        headers.append("zero")
    rows = []
    for j in shown_layers(r.depth):
        columns = [r.log10_grad_p5, r.log10_grad_p50, r.log10_grad_p95, r.log10_grad_rms]
        columns += ([] if exact is None else [exact / 2]) + [r.log10_grad_theory]
        row = [str(j + 1)] + ["-" if math.isnan(v[j]) else render.from_log10(1.0, v[j]) for v in columns]
        rows.append(row + ([f"{100 * r.zero_fraction[j]:.3g}%"] if zeros else []))
    layers = layer_rows(r)
    data = dict(activation=r.activation, alpha=r.alpha, init=r.init, depth=r.depth, width=r.width,
                architecture="chain" if r.width == 1 else "plain MLP", cost="||a_L - target||^2 / 2",
                trials=r.trials, seed=r.seed, chunk=r.chunk, sigma_w=r.sigma_w, sigma_b=r.sigma_b,
                sigma_w2=r.sigma_w2, sigma_b2=r.sigma_b2, input=r.input, target=r.target, chi1=r.chi1,
                q_star=r.q_star, depth_scale=r.depth_scale, measured_factor=r.measured_factor, theory_factor=r.theory_factor,
                measured_depth_scale=r.measured_depth_scale, verdict=r.verdict, theory_verdict=r.theory_verdict,
                percentile_resolution=r.resolution,
                measured_factor_interval=None if r.measured_factor_interval is None else list(r.measured_factor_interval),
                **({} if exact is None else {"exact_factor": r.exact_factor}), layers=layers)
    title = None if r.depth <= TABLE_ROWS else f"{len(rows)} of {r.depth} layers (all of them in JSON and CSV)"
    keys = list(layers[0])
    return render.Report("ensemble", data, title=_title(r), tables=[render.Table(headers, rows, title=title)],
                         notes=_notes(r), csv_headers=keys, csv_rows=([row[k] for k in keys] for row in layers))


def ensemble(
    depth: Annotated[int, typer.Option(min=1, max=MAX_DEPTH, help="Number of layers L.")] = 50,
    width: Annotated[int, typer.Option(min=1, max=MAX_WIDTH, help="Units per layer N (1: Nielsen's chain).")] = 1,
    act: Annotated[str, act_option("sigmoid", "; relu'(0) = 0 as in PyTorch")] = "sigmoid",
    alpha: AlphaOpt = None,
    init: Annotated[Optional[str], typer.Option(metavar="NAME", help=f"Sets sigma_w: {', '.join(INITS)} (xavier, lecun, normal: sigma_w^2 = 1; he: 2, 2/(1+alpha^2) for leaky-relu and prelu; orthogonal: W = gain Q with PyTorch's gain). Default normal for width 1, xavier wider.")] = None,
    sigma_w: Annotated[Optional[float], typer.Option(help="Weight scale: W_ij ~ N(0, sigma_w^2 / N), or the gain of orthogonal; overrides --init (default: from --init).")] = None,
    sigma_b: Annotated[Optional[float], typer.Option(help="Bias scale: b_i ~ N(0, sigma_b^2). Default 1 for width 1 (Nielsen), 0 wider.")] = None,
    sigma_w2: Annotated[Optional[float], typer.Option("--sigma-w2", help="sigma_w^2 instead of --sigma-w (default: from --init).")] = None,
    sigma_b2: Annotated[Optional[float], typer.Option("--sigma-b2", help="sigma_b^2 instead of --sigma-b (default: as --sigma-b).")] = None,
    input: Annotated[Optional[float], typer.Option("--input", callback=finite, help="The input a_0 of a width-1 chain (default 1); wider nets draw x ~ N(0, I) per trial.")] = None,
    target: Annotated[float, typer.Option(callback=finite, help="Target of C = ||a_L - target||^2 / 2, inside the activation's range.")] = 0.0,
    trials: Annotated[Optional[int], typer.Option(min=1, max=MAX_TRIALS, help=f"Random networks to draw (default: about {DEFAULT_DRAWS:.0e} / (depth x width^2), from {DEFAULT_TRIALS[0]:,} to {DEFAULT_TRIALS[1]:,}).")] = None,
    seed: SeedOpt = 0,
    threads: Annotated[Optional[int], typer.Option(min=1, max=MAX_THREADS, help="Threads (default: every core). The output is the same for any number.")] = None,
    residual: Annotated[Optional[float], typer.Option("--residual", metavar="ALPHA", help="Residual blocks s_(l+1) = s_l + ALPHA branch(s_l / beta_l) (Yang & Schoenholz 2017; NF-ResNets); with --norm the branch is normalised instead, s + ALPHA W f(Norm(s)) + b (He et al. 2016's pre-activation block). Default none: a plain MLP.")] = None,
    residual_beta: Annotated[Optional[float], typer.Option("--residual-beta", help="Fixed branch input scale beta (1: the plain residual MLP); default beta_l = sqrt(q_l), the expected std of s_l (NF-ResNets). Not with --norm.")] = None,
    branch: Annotated[int, typer.Option("--branch", min=1, max=2, help="Layers per residual branch: 1 (W f(u) + b) or 2 (W2 f(W1 f(u) + b1) + b2).")] = 1,
    norm: Annotated[Optional[str], typer.Option("--norm", metavar="batch|layer", help="BatchNorm (over the batch, per unit) or LayerNorm (over the units, per example); gamma 1, beta 0, eps 1e-5 as PyTorch. Default none.")] = None,
    norm_position: Annotated[str, typer.Option("--norm-position", metavar="pre|post", help="Normalise before (pre) or after (post) the activation.")] = "pre",
    batch: Annotated[Optional[int], typer.Option("--batch", min=1, help="Examples per network (default 256 with --norm batch, else 1).")] = None,
    inputs: Annotated[int, typer.Option("--inputs", min=1, max=2, help="2: two inputs of correlation --correlation through each network, their correlation per layer beside the c-map.")] = 1,
    correlation: Annotated[Optional[float], typer.Option("--correlation", metavar="C", help="Correlation of the two inputs, in [-1, 1]; --inputs 2 needs it.")] = None,
    forward: Annotated[bool, typer.Option("--forward", help="A table of the forward statistics per layer (mean, variance, q beside the length map) of a plain wide MLP, run on a batch with a random-direction cost; implied by the options above. Without it they are in JSON, CSV and the plot.")] = False,
    fmt: FormatOpt = "table",
    plot: PlotOpt = None,
    yes: YesOpt = False,
) -> None:
    """Percentiles of ||dC/dh_l|| per layer over random networks, beside the mean-field chi1.

    h_l = W_l a_(l-1) + b_l, W_ij ~ N(0, sigma_w^2/N), b_i ~ N(0, sigma_b^2); delta_l = dC/dh_l = dC/db_l;
    theory: E||delta_l||^2 = chi1^(L-l) E||delta_L||^2, chi1 = sigma_w^2 E[f'(sqrt(q*) z)^2].

    Verdict: vanishing (exploding) when the RMS gradient of layer 1 is over 10 x smaller (larger) than that of
    layer L, else critical; measured from the fit, and from chi1.

    Forward: the mean and variance of h_l and f(h_l) per layer, and the mean of h_l^2 beside the length map
    q_(l+1) = sigma_w^2 E[f(sqrt(q_l) z)^2] + sigma_b^2 (JSON, CSV, and the plot's left panel).

    Example: gradsim ensemble --depth 100 --trials 100000

    Example: gradsim ensemble --width 64 --depth 30 --act tanh --sigma-w2 1.5 --sigma-b2 0.05 --plot band.png

    With --forward, --residual, --norm or --inputs 2 (width >= 2): a table of forward statistics beside the mean
    field's q_l, and the gradient of the cost sum r * out (r ~ N(0, I)) beside its per-layer theory.

    Example: gradsim ensemble --width 128 --depth 20 --act relu --init he --norm batch --batch 32 --trials 4

    Example: gradsim ensemble --width 128 --depth 20 --act relu --init he --norm batch --batch 32 --residual 1 --trials 4
    """
    with usage_errors():
        if norm is None and norm_position.strip().lower() != "pre":
            raise GradsimError("--norm-position places a normalisation: give --norm batch|layer too",
                               option="--norm-position")
        if branch != 1 and residual is None:
            raise GradsimError("--branch sets the layers of a residual branch: give --residual ALPHA too",
                               option="--branch")
    if forward or residual is not None or norm is not None or inputs == 2 or correlation is not None \
            or batch is not None or residual_beta is not None or branch != 1:
        from . import ensemble_signal

        with usage_errors():
            if input is not None or target != 0.0:
                raise GradsimError("the signal statistics draw x ~ N(0, I) and backpropagate a random direction;"
                                   " --input and --target are for the plain ensemble", option="--input")
            if sigma_w is not None or sigma_b is not None:
                raise GradsimError("give --sigma-w2 / --sigma-b2 with the signal statistics", option="--sigma-w")
            if threads is not None:
                raise GradsimError("the signal statistics run in one thread (BLAS may use more); --threads is for "
                                   "the plain ensemble", option="--threads")
        ensemble_signal.run(fmt, plot, depth=depth, width=width, act=act, alpha=alpha, init=init, sigma_w2=sigma_w2,
                            sigma_b2=sigma_b2 or 0.0, norm=norm, position=norm_position, batch=batch,
                            residual=residual, beta=residual_beta, branch=branch, inputs=inputs,
                            correlation=correlation, trials=trials, seed=seed, guard=not yes)
        return
    with usage_errors():
        cost.check(cost.ensemble_cost(depth, width, default_trials(depth, width) if trials is None else trials,
                                      default_threads() if threads is None else threads), yes)
    with usage_errors(), progress("trials") as tick:
        result = run_ensemble(depth=depth, width=width, act=act, alpha=alpha, init=init, sigma_w=sigma_w,
                              sigma_b=sigma_b, sigma_w2=sigma_w2, sigma_b2=sigma_b2, input=input, target=target,
                              trials=trials, seed=seed, threads=threads, progress=tick)
    render.emit(report(result), fmt)
    if plot:
        from .. import plots
        from ..options import save_plot

        save_plot(plots.ensemble_figure(result), plot)
