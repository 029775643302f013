"""`gradsim acts`: the activation catalogue."""

from __future__ import annotations

from typing import Annotated, Callable, List, Optional

import typer

from .. import activations, render
from ..activations import ActsResult
from ..moments import moments
from ..options import AlphaOpt, FormatOpt, PlotOpt, acts_option, usage_errors


#: A values or softmax table shows its first and last ROWS / 2 rows beyond ROWS, with "..." between (JSON has all).
ROWS = 40


def _head_tail(n: int, row: Callable[[int], list[str]], limit: int = ROWS) -> list[list[str]]:
    """row(i) for every i < n up to `limit` rows, else the first and last limit/2 with a "..." row between."""
    if n <= limit:
        return [row(i) for i in range(n)]
    head, tail = [row(i) for i in range(limit // 2)], [row(i) for i in range(n - limit // 2, n)]
    return head + [["..."] + [""] * (len(head[0]) - 1)] + tail


def _catalogue(r: ActsResult) -> tuple[list[dict], render.Table]:
    rows, table = [], []
    for s in r.summaries:
        a = s.activation
        rows.append(dict(activation=a.name, formula=a.formula, alpha=a.alpha, range=[a.lo, a.hi],
                         range_text=a.range_text(), dact0=s.dact0, max_abs_dact=s.peak.value,
                         max_at=s.peak.at, max_where=s.peak.where, keeps_gradient=s.keeps_gradient,
                         increasing_branch=a.branch))
        table.append([a.name, a.formula, a.range_text(), render.num(s.dact0), render.num(s.peak.value),
                      s.peak.where, "yes" if s.keeps_gradient else "no"])
    headers = ["activation", "f(x)", "range", "f'(0)", "max |f'|", "where", "keeps"]
    return rows, render.Table(headers, table, justify=["left", "left", "left", "right", "right", "left", "left"])


def _moments(r: ActsResult, rows: list[dict]) -> render.Table:
    """E f(z), Var f(z) (z ~ N(0,1)), E f(u) (u ~ U(-1,1)) and gamma per activation; adds their JSON keys to rows."""
    table = []
    for s, row in zip(r.summaries, rows):
        m = moments(s.activation)
        row.update(mean_normal=m.mean_normal, var_normal=m.var_normal, mean_uniform=m.mean_uniform, gamma=m.gamma,
                   gamma_nfnets=m.gamma_nfnets)
        table.append([s.activation.name, render.num(m.mean_normal, 6), render.num(m.var_normal, 6),
                      render.num(m.mean_uniform, 6), render.num(m.gamma, 8), render.num(m.gamma_nfnets, 8)])
    headers = ["activation", "E f(z)", "Var f(z)", "E f(u)", "gamma", "NFNets gamma"]
    return render.Table(headers, table, justify=["left"] + ["right"] * 5,
                        title="output moments: z ~ N(0, 1), u ~ U(-1, 1); gamma = 1/sqrt(Var f(z)) (NF-ResNets)")


def _values(r: ActsResult) -> tuple[list[dict], render.Table]:
    rows = [dict(activation=s.activation.name, x=x, f=r.values[i, k], dact=r.derivatives[i, k])
            for i, s in enumerate(r.summaries) for k, x in enumerate(r.points)]

    def line(j: int) -> list[str]:
        return [rows[j]["activation"]] + [render.num(rows[j][key], 8) for key in ("x", "f", "dact")]

    return rows, render.Table(["activation", "x", "f(x)", "f'(x)"], _head_tail(len(rows), line), title="values",
                              justify=["left", "right", "right", "right"])


def _softmax(r: ActsResult) -> tuple[dict, render.Table]:
    n = len(r.softmax_input)
    jac = r.softmax_jacobian
    headers = ["x_i", "s_i"] + ([f"ds_i/dx_{j + 1}" for j in range(n)] if jac is not None else [])
    table = _head_tail(n, lambda i: [render.num(r.softmax_input[i]), render.num(r.softmax_output[i])]
                       + ([render.num(v) for v in jac[i]] if jac is not None else []))
    data = dict(input=r.softmax_input, output=r.softmax_output, jacobian=r.softmax_jacobian)
    return data, render.Table(headers, table, title="softmax s_i = e^(x_i) / sum_j e^(x_j); Jacobian diag(s) - s s^T")


def report(r: ActsResult) -> render.Report:
    """Catalogue table, then values and softmax tables when asked for; CSV is the most specific table."""
    rows, table = _catalogue(r)
    data: dict = dict(activations=rows)
    tables, csv_rows = [table, _moments(r, rows)], rows
    if r.points is not None:
        data["values"], t = _values(r)
        tables.append(t)
        csv_rows = data["values"]
    if r.softmax_input is not None:
        data["softmax"], t = _softmax(r)
        tables.append(t)
    notes = ["keeps: max |f'| >= 1 is reached, so a chain with |w| <= 1 can keep its gradient from shrinking.",
             "A max at x -> inf is a supremum that f' approaches but never reaches.",
             "gamma f has unit variance for unit-variance Gaussian input (Brock, De & Smith 2021); NFNets gamma is"
             " DeepMind's empirical table (nfnets/base.py, jax's gelu is the tanh form).",
             "E f(u): Microsoft AI-edu's mean shift: sigmoid moves inputs uniform on (-1, 1) to mean 0.5, tanh keeps 0."]
    if r.softmax_input is not None and r.softmax_jacobian is None:
        notes.append(f"--softmax: the Jacobian (N^2 entries) is given up to {activations.JACOBIAN_MAX} values;"
                     f" these are {len(r.softmax_input):,}, so it is left out (null in JSON).")
    headers = list(csv_rows[0]) if csv_rows else []
    return render.Report("acts", data, title="Activations: f, f' and what they do to a gradient", tables=tables,
                         notes=notes, csv_headers=headers,
                         csv_rows=([row[k] if k != "range" else row["range_text"] for k in headers] for row in csv_rows))


def acts(
    act: Annotated[Optional[List[str]], acts_option("all")] = None,
    alpha: AlphaOpt = None,
    at: Annotated[Optional[str], typer.Option(metavar="X1,X2,...", help="Evaluate f and f' at these points.")] = None,
    softmax: Annotated[Optional[str], typer.Option(metavar="X1,X2,...", help=f"Softmax of this vector, with its Jacobian up to {activations.JACOBIAN_MAX} values.")] = None,
    fmt: FormatOpt = "table",
    plot: PlotOpt = None,
) -> None:
    """The activation catalogue: formula, range, f'(0), max |f'| and where, for every activation.

    relu'(0) = 0, leaky-relu'(0) = alpha, elu'(0) = alpha, as in PyTorch.
    gelu is exact (x Phi(x)); gelu-tanh is the tanh approximation.

    Example: gradsim acts --act sigmoid --at 4,5,10,1

    Example: gradsim acts --softmax 3,1,-3
    """
    with usage_errors():
        result = activations.acts(act, alpha, at, softmax)
    render.emit(report(result), fmt)
    if plot:
        from .. import plots
        from ..options import save_plot

        save_plot(plots.acts_figure(result), plot)
