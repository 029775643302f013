"""`gradsim window`: Nielsen's chapter 5 problem, the inputs a where |w f'(w a + b)| >= 1."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .. import render

from ..options import AlphaOpt, FormatOpt, PlotOpt, act_option, usage_errors
from ..window import WindowResult
from ..window import window as nielsen_window

CLOSED_FORM = "width = (2/|w|) ln(|w| (1 + sqrt(1 - 4/|w|)) / 2 - 1) for |w| >= 4"


def _rows(r: WindowResult) -> tuple[list[dict], render.Table]:
    rows, table = [], []
    for row in r.rows:
        rows.append(dict(abs_w=row.abs_w, width=row.width, width_closed_form=row.width_closed_form,
                         width_numerical=row.width_numerical, x_lo=row.x_lo, x_hi=row.x_hi, pieces=row.pieces,
                         unbounded=row.width_numerical == float("inf")))
        cells = [render.num(row.abs_w)]
        if r.closed_form:
            cells += [render.num(row.width_closed_form, 10), render.num(row.width_numerical, 10),
                      render.num(abs(row.width_closed_form - row.width_numerical), 2)]
        else:
            cells.append(render.num(row.width_numerical, 6))
        cells += [render.num(row.x_lo), render.num(row.x_hi), str(row.pieces)]
        table.append(cells)
    headers = ["|w|"] + (["closed form", "numerical", "difference"] if r.closed_form else ["width (numerical)"])
    headers += ["x = wa+b from", "to", "pieces"]
    return rows, render.Table(headers, table)


def _notes(r: WindowResult) -> list[str]:
    lines = []
    if r.max_width == float("inf"):
        lines.append(f"unbounded: for |w| > {render.num(r.unbounded_from)} the window is a half line or more "
                     "(f' does not decay on one side), so there is no widest window.")
    else:
        check = (f"; numerical search: {render.num(r.max_width_numerical)} at |w| = "
                 f"{render.num(r.at_abs_w_numerical)}" if r.closed_form else "")
        lines.append(f"widest window: {render.num(r.max_width)} at |w| = {render.num(r.at_abs_w)} "
                     f"({'closed form' if r.closed_form else 'numerical search'}{check}).")
    lines.append(f"No window below |w| = {render.num(r.opens_at)} = 1 / max|f'|.")
    if any(abs(row.abs_w - r.opens_at) <= 1e-9 * r.opens_at and row.width < float("inf") for row in r.rows):
        lines.append(f"At |w| = {render.num(r.opens_at)} the window is one point where |w f'| touches 1: "
                     "float64 resolves such a tangency only to ~1e-8.")
    lines.append("In a it is [(x_lo - b)/w, (x_hi - b)/w]: b moves the window, never widens it.")
    if r.closed_form:
        lines.append(f"closed form (Nielsen ch. 5): {CLOSED_FORM}.")
    lines.append("numerical: |w f'(x)| >= 1 found on a grid of x, every edge refined by bisection.")
    return lines


def report(r: WindowResult) -> render.Report:
    """The |w| table (also the CSV), the widest window, and both widths per row in JSON."""
    rows, table = _rows(r)
    data = dict(activation=r.activation, alpha=r.alpha, max_width=r.max_width, at_abs_w=r.at_abs_w,
                max_width_numerical=r.max_width_numerical, at_abs_w_numerical=r.at_abs_w_numerical,
                opens_at=r.opens_at, unbounded_from=r.unbounded_from,
                closed_form=CLOSED_FORM if r.closed_form else None, rows=rows)
    alpha = f" (alpha {r.alpha:g})" if r.alpha is not None else ""
    keys = list(rows[0])
    return render.Report("window", data,
                         title=f"Nielsen's window · {r.activation}{alpha} · width of {{a : |w f'(w a + b)| >= 1}}",
                         tables=[table], notes=_notes(r), csv_headers=keys,
                         csv_rows=([row[k] for k in keys] for row in rows))


def window(
    act: Annotated[str, act_option("sigmoid", "; sigmoid has the closed form, the others are done numerically")] = "sigmoid",
    alpha: AlphaOpt = None,
    abs_w: Annotated[Optional[str], typer.Option("--abs-w", metavar="W1,W2,...",
                                                 help="The |w| values of the table (default: from where the "
                                                      "window opens, 4 for sigmoid, to 25 times that).")] = None,
    fmt: FormatOpt = "table",
    plot: PlotOpt = None,
) -> None:
    """Nielsen's window (ch. 5): the inputs a with |w f'(w a + b)| >= 1 form an interval; its width against |w|.

    For sigmoid: width = (2/|w|) ln(|w|(1 + sqrt(1 - 4/|w|))/2 - 1), |w| >= 4, beside a numerical check; the
    widest window is 0.4477 at |w| = 6.89. Large weights make the factor exceed 1 only on a narrow band of inputs.

    Example: gradsim window

    Example: gradsim window --act tanh --abs-w 1,2,3,5,10
    """
    with usage_errors():
        result = nielsen_window(act, alpha, abs_w)
    render.emit(report(result), fmt)
    if plot:
        from .. import plots
        from ..options import save_plot

        save_plot(plots.window_figure(result), plot)
