"""`gradsim ensemble` with --residual, --norm, --inputs 2 or --forward: forward and backward signal propagation."""

from __future__ import annotations

import math

from .. import render
from ..signalprop import SignalResult, signal
from .ensemble import TABLE_ROWS, _change, shown_layers
from ..options import progress, usage_errors


def _title(r: SignalResult) -> str:
    a = r.arch
    alpha = f" (alpha {a.act.alpha:g})" if a.act.alpha is not None else ""
    init = "" if r.init == "given" else f"init {r.init}: "
    inputs = (f"two inputs of correlation {a.correlation:g}" if a.correlation is not None
              else f"batch {a.batch} of x ~ N(0, I)")
    return (f"Signal propagation · {r.activation}{alpha} · {a.describe()} · width {a.width} · depth {a.depth}"
            f" · {r.trials:,} trials · seed {r.seed}\n{init}weights N(0, {render.num(a.sigma_w2)}/{a.width}), biases"
            f" N(0, {render.num(a.sigma_b2)}) · {inputs} · cost sum r * out, r ~ N(0, I)")


def layer_rows(r: SignalResult) -> list[dict]:
    """One JSON/CSV object per layer, first layer first."""
    rows = []
    for j in range(r.arch.depth):
        row = dict(layer=j + 1, pre_mean=r.pre_mean[j], pre_var=r.pre_var[j], pre_q=r.pre_q[j],
                   q_theory=r.q_theory[j], act_mean=r.act_mean[j], act_var=r.act_var[j])
        if r.chan_sq_mean is not None:
            row.update(chan_sq_mean=r.chan_sq_mean[j], chan_var=r.chan_var[j])
        if r.correlation is not None:
            row.update(correlation=r.correlation[j],
                       correlation_theory=None if r.correlation_theory is None else r.correlation_theory[j])
        if r.beta is not None:
            row.update(beta=r.beta[j])
        row.update(log10_grad_p5=r.log10_grad_p5[j], log10_grad_p50=r.log10_grad_p50[j],
                   log10_grad_p95=r.log10_grad_p95[j], log10_mean_sq=r.log10_mean_sq[j],
                   log10_grad_rms=r.log10_mean_sq[j] / 2, log10_grad_theory=r.log10_grad_theory[j],
                   grad_factor_theory=r.grad_factor_theory[j])
        rows.append(row)
    return rows


def _notes(r: SignalResult) -> list[str]:
    a, depth = r.arch, r.arch.depth
    measured = "-" if r.measured_factor is None else f"x{render.num(r.measured_factor, 5)}"
    lines = [f"measured:   mean ||delta||^2 {measured} per layer (fit over layers {'2-' + str(depth - 1) if depth > 3 else '1-' + str(max(depth - 1, 1))}): {r.verdict},"
             f" {_change(r.measured_factor, depth)}."]
    if r.theory_factor is not None:
        lines.append(f"mean field: x{render.num(r.theory_factor, 5)} per layer (its per-layer factors, fitted alike):"
                     f" {r.theory_verdict}, {_change(r.theory_factor, depth)}.")
    bn_relu = a.norm == "batch" and a.position == "pre" and a.act.name == "relu"
    if a.alpha is not None and a.norm is not None:
        lines.append("mean field: q_(l+1) = q_l + alpha^2 (sigma_w^2 E u^2 + sigma_b^2), u the branch's normalised input"
                     " to W; E||delta_l||^2 = (1 + alpha^2 chi_branch) E||delta_(l+1)||^2, chi = sigma_w^2 E f'^2 / V_l"
                     " before f, V_l the stream's batch variance (LayerNorm: q_l) (gradsim/layers.py NormResidual).")
        if bn_relu:
            lines.append(f"            relu after BatchNorm, batch {a.batch}: lambda(B) a(B) in place of E f'^2 (the"
                         " finite-batch closed form of Yang et al.'s rate, gradsim/layers.py).")
    elif bn_relu:
        lines.append(f"            BatchNorm + relu, batch {a.batch}: lambda(B) of Yang et al. (ICLR 2019), closed form"
                     " derived in gradsim/layers.py; pi/(pi-1) = 1.4669 only as B -> inf.")
    elif a.norm is not None:
        lines.append("            wide-net" + (", large-batch" if a.norm == "batch" else "")
                     + " formula (gradsim/layers.py norm_factor).")
    if a.alpha is not None and a.norm is None:
        lines.append("mean field: q_(l+1) = q_l + alpha^2 E branch(s_l/beta_l)^2; E||delta_l||^2 = (1 + alpha^2"
                     " chi_branch / beta_l^2) E||delta_(l+1)||^2 (Yang & Schoenholz 2017; Brock et al. 2021).")
    lines.append("pre: the dense output h_l (residual: the stream s_l); act: f(.); q theory: the length map from"
                 " q_0 = 1." + (" chan: Brock et al.'s average channel squared mean and variance over the batch."
                                if r.chan_sq_mean is not None else ""))
    return lines


def report(r: SignalResult) -> render.Report:
    headers = ["layer", "pre mean", "pre var", "q theory", "act mean", "act var"]
    chan, corr = r.chan_sq_mean is not None, r.correlation is not None
    if chan:
        headers += ["chan mean^2", "chan var"]
    if corr:
        headers += ["corr", "c theory"]
    headers += ["RMS ||delta||", "theory RMS"]
    rows = []
    for j in shown_layers(r.arch.depth):
        row = [str(j + 1)] + [render.num(v[j]) for v in (r.pre_mean, r.pre_var, r.q_theory, r.act_mean, r.act_var)]
        if chan:
            row += [render.num(r.chan_sq_mean[j]), render.num(r.chan_var[j])]
        if corr:
            row += [render.num(r.correlation[j]),
                    "-" if r.correlation_theory is None else render.num(r.correlation_theory[j])]
        row += ["-" if math.isnan(v[j]) else render.from_log10(1.0, v[j]) for v in
                (r.log10_mean_sq / 2, r.log10_grad_theory)]
        rows.append(row)
    layers = layer_rows(r)
    a = r.arch
    data = dict(activation=r.activation, alpha=a.act.alpha, init=r.init, depth=a.depth, width=a.width,
                trials=r.trials, seed=r.seed, sigma_w2=a.sigma_w2, sigma_b2=a.sigma_b2, sigma_w=a.sigma_w2**0.5,
                sigma_b=a.sigma_b2**0.5, architecture=a.describe(), norm=a.norm, norm_position=a.position,
                batch=a.batch, residual=a.alpha, residual_beta=a.beta, branch=a.branch,
                inputs=2 if a.correlation is not None else 1, input_correlation=a.correlation,
                measured_factor=r.measured_factor, theory_factor=r.theory_factor, verdict=r.verdict,
                theory_verdict=r.theory_verdict, cost="sum r * out, r ~ N(0, I)", layers=layers)
    title = None if a.depth <= TABLE_ROWS else f"{len(rows)} of {a.depth} layers (all of them in JSON and CSV)"
    keys = list(layers[0])
    return render.Report("ensemble", data, title=_title(r), tables=[render.Table(headers, rows, title=title)],
                         notes=_notes(r), csv_headers=keys, csv_rows=([row[k] for k in keys] for row in layers))


def run(fmt: str, plot, **options) -> None:
    """Run the signal-propagation ensemble, print it, plot it."""
    with usage_errors(), progress("trials") as tick:
        result = signal(progress=tick, **options)
    render.emit(report(result), fmt)
    if plot:
        from .. import signal_plots
        from ..options import save_plot

        save_plot(signal_plots.signal_figure(result), plot)

