"""`gradsim phase`: the mean-field phase diagram chi1(sigma_w2, sigma_b2) and its critical line."""

from __future__ import annotations

from typing import Annotated, Optional

import numpy as np
import typer

from .. import activations, meanfield, render
from ..options import AlphaOpt, FormatOpt, PlotOpt, act_option, progress, usage_errors
from ..meanfield import PhaseResult


def _critical(r: PhaseResult) -> tuple[list[dict], render.Table]:
    rows = [dict(sigma_b2=b2, sigma_w2=w2, sigma_w=w2**0.5, q_star=q,
                 kind=str(kind), chi1_left=left, chi1_right=right)
            for b2, w2, q, kind, left, right in zip(r.critical_b2, r.critical_w2, r.critical_q, r.critical_kind,
                                                      r.critical_chi1_left, r.critical_chi1_right)]
    table = [[render.num(row["sigma_b2"]), render.num(row["sigma_w2"]), render.num(row["sigma_w"]),
              render.num(row["q_star"]), row["kind"]] for row in rows]
    headers = ["sigma_b^2", "critical sigma_w^2", "sigma_w", "q* there", "kind"]
    return rows, render.Table(headers, table, title="critical line chi1 = 1 (root found at each sigma_b^2)")


def _inits(r: PhaseResult, corr) -> tuple[list[dict], render.Table]:
    rows = [dict(init=p.init, sigma_w2=p.sigma_w2, sigma_b2=0.0, q_star=p.q_star, chi1=p.chi1,
                 depth_scale=p.depth_scale, regime=p.regime, c_star=c.c_star, chi_c=c.chi_c, xi_c=c.xi_c,
                 xi_q=c.xi_q) for p, c in zip(r.inits, corr.inits)]
    table = [[p.init, render.num(p.sigma_w2), render.num(p.q_star), render.num(p.chi1), render.num(p.depth_scale),
              p.regime, render.num(c.c_star), render.num(c.chi_c), render.num(c.xi_c)]
             for p, c in zip(r.inits, corr.inits)]
    headers = ["init", "sigma_w^2", "q*", "chi1", "depth scale", "regime", "c*", "chi_c", "xi_c"]
    return rows, render.Table(headers, table, title="common initialisations at sigma_b^2 = 0",
                              justify=["left"] + ["right"] * 4 + ["left"] + ["right"] * 3)


def _notes(r: PhaseResult) -> list[str]:
    vanishing = float((r.chi1 < 1).mean())
    return ["q* = sigma_w^2 E[f(sqrt(q*) z)^2] + sigma_b^2, z ~ N(0,1): the fixed point of the length map.",
            f"grid {r.sigma_w2.size} x {r.sigma_b2.size}: sigma_w^2 in [{render.num(r.sigma_w2[0])}, "
            f"{render.num(r.sigma_w2[-1])}], sigma_b^2 in [0, {render.num(r.sigma_b2[-1])}]; "
            f"chi1 from {render.num(r.chi1.min())} to {render.num(r.chi1.max())}, {vanishing:.0%} vanishing.",
            "chi1 < 1: the mean squared gradient shrinks by chi1 per layer (vanishing); > 1: it grows (exploding).",
            "depth scale -1/ln(chi1): layers per factor e (negative: growing; inf: critical).",
            "q* = inf: the length map diverges (relu-like past critical); chi1 is then its limit q -> inf.",
            "c*: fixed point of the correlation map (1: ordered; < 1: chaotic; Schoenholz et al. 2017);",
            "    nan where q* is 0 or inf and the map depends on q (tanh-like f: no correlation to speak of);",
            "chi_c = sigma_w^2 E[f'(u1) f'(u2)] at c*; xi_c = -1/ln chi_c: layers over which correlations settle."] + [
            "saddle-node: the stable q* meets an unstable fixed point and disappears; basin edge: the unstable fixed "
            "point passes q0 = 1, so the iteration leaves for another root or inf. At both q* jumps, and chi1 jumps "
            "across 1 with it (chi1_left, chi1_right in JSON)."] * bool(np.any(r.critical_kind != "crossing"))


def report(r: PhaseResult, corr) -> render.Report:
    """The critical table (also the CSV), the initialisations, and the whole grid in JSON."""
    critical, critical_table = _critical(r)
    inits, inits_table = _inits(r, corr)
    alpha = f" (alpha {r.alpha:g})" if r.alpha is not None else ""
    data = dict(activation=r.activation, alpha=r.alpha, critical=critical, inits=inits,
                critical_line=[dict(sigma_b2=b2, sigma_w2=w2) for b2, w2 in zip(r.line_b2, r.line_w2)],
                grid=dict(sigma_w2=r.sigma_w2, sigma_b2=r.sigma_b2, chi1=r.chi1, q_star=r.q_star,
                          c_star=corr.c_star, chi_c=corr.chi_c))
    keys = ["sigma_b2", "sigma_w2", "sigma_w", "q_star"]
    return render.Report("phase", data,
                         title=f"Mean-field phase diagram · {r.activation}{alpha} · chi1 = sigma_w^2 E[f'(sqrt(q*) z)^2]",
                         tables=[critical_table, inits_table], notes=_notes(r), csv_headers=keys,
                         csv_rows=([row[k] for k in keys] for row in critical))


def phase(
    act: Annotated[str, act_option("tanh")] = "tanh",
    alpha: AlphaOpt = None,
    sigma_b2: Annotated[Optional[str], typer.Option("--sigma-b2", metavar="B1,B2,...",
                                                    help="sigma_b^2 values of the critical table "
                                                         "(default 0,0.01,0.05,0.1,0.2,0.5,1).")] = None,
    grid: Annotated[int, typer.Option(min=2, max=400, help="Grid points per axis of the chi1 map.")] = meanfield.PHASE_GRID,
    sigma_w2_max: Annotated[Optional[float], typer.Option(
        "--sigma-w2-max", help="Right end of the sigma_w^2 axis (default 1.5 x the largest critical sigma_w^2, "
                               "at least 4).")] = None,
    sigma_b2_max: Annotated[Optional[float], typer.Option(
        "--sigma-b2-max", help="Top of the sigma_b^2 axis (default the largest --sigma-b2 value, or 1).")] = None,
    fmt: FormatOpt = "table",
    plot: PlotOpt = None,
) -> None:
    """Mean-field phase diagram: chi1 over sigma_w^2 x sigma_b^2 and the critical line chi1 = 1.

    q* is the fixed point of q -> sigma_w^2 E[f(sqrt(q) z)^2] + sigma_b^2 (z ~ N(0,1)); chi1 = sigma_w^2
    E[f'(sqrt(q*) z)^2] is the factor per layer of the mean squared gradient in a wide random network.
    Known points: relu is critical at sigma_w^2 = 2 (He) for every sigma_b^2, tanh at sigma_w^2 = 1 when sigma_b^2 = 0.

    Example: gradsim phase --act relu

    Example: gradsim phase --act tanh --sigma-b2 0,0.05,0.3 --plot phase.png
    """
    with usage_errors(), progress("chi1 grid") as tick:
        result = meanfield.phase(act, alpha, sigma_b2, grid, sigma_w2_max, sigma_b2_max, tick)
        from ..correlation import phase_correlation

        corr = phase_correlation(activations.get(act, alpha), result)
    render.emit(report(result, corr), fmt)
    if plot:
        from .. import plots, signal_plots
        from ..options import save_plot

        figure = plots.phase_figure(result)
        signal_plots.correlation_overlay(figure, result, corr)
        save_plot(figure, plot)
