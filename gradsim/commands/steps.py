"""`gradsim steps`: how many gradient steps bring f(x) from a start value to a target (Microsoft AI-edu, "Activation functions")."""

from __future__ import annotations

from typing import Annotated, Iterator, List, Optional

import typer

from .. import descent, render
from ..descent import StepsResult, Walk
from ..options import AlphaOpt, FormatOpt, PlotOpt, acts_option, finite, positive, progress, usage_errors

#: A trace table longer than HEAD + TAIL + 1 rows shows its head, a "... N steps ..." row and its tail.
HEAD = TAIL = 10


def _name(w: Walk) -> str:
    return w.activation if w.alpha is None else f"{w.activation}({w.alpha:g})"


def _title(r: StepsResult) -> str:
    rule = "x <- x + lr f'(x)" if r.direction == "up" else "x <- x - lr f'(x)"
    way = {"down": "down to", "up": "up to", "none": "to"}[r.direction]
    return f"Steps for f(x) from {r.start:g} {way} {r.target:g} · lr {r.lr:g} · {rule} from x0 = f^-1({r.start:g})"


def _comparison(r: StepsResult) -> list[str]:
    """How many times fewer steps the fastest needs than the slowest, and why."""
    done = [w for w in r.results if w.reached]
    fast, slow = r.fastest, r.slowest
    if not done:
        return ["No activation reached the target."]
    if fast.steps == slow.steps:
        who = "Every activation" if len(done) == len(r.results) > 1 else " and ".join(_name(w) for w in done)
        return [f"{who} reached the target in {_count(fast.steps)}."]
    if r.times_fewer is None:
        return [f"{_name(fast)} is at the target from the start; {_name(slow)} needs {_count(slow.steps)}."]
    return [f"{_name(fast)} needs {render.num(r.times_fewer, 3)} times fewer steps than {_name(slow)}"
            f" ({fast.steps} vs {slow.steps}).",
            f"Why: a step moves x by lr f'(x). {_travel(slow)}; {_travel(fast)}."]


def _count(steps: int) -> str:
    return f"{steps} step{'' if steps == 1 else 's'}"


def _travel(w: Walk) -> str:
    return f"{_name(w)} starts with f'(x0) = {render.num(w.dact0)} and moves x by {render.num(abs(w.final_x - w.x0))}"


def _notes(r: StepsResult) -> list[str]:
    lines = _comparison(r)
    lines += [f"{_name(w)}: not reached, {w.reason}." for w in r.results if not w.reached]
    lines += [f"{_name(w)} is not monotone: x0 = f^-1(start) is taken on {w.branch}."
              for w in r.results if not w.monotone]
    return lines


def _summary_table(r: StepsResult) -> render.Table:
    rows = [[_name(w), render.num(w.x0), render.num(w.dact0), render.num(w.steps), render.num(w.final_x),
             render.num(w.final_value), w.stop] for w in r.results]
    return render.Table(["activation", "x0", "f'(x0)", "steps", "final x", "final f(x)", "stop"], rows,
                        justify=["left"] + ["right"] * 5 + ["left"])


def _shown(n: int) -> list[int]:
    """The trace rows a table shows: all of a short trace; head, -1 (the gap) and tail of a long one."""
    if n <= HEAD + TAIL + 1:
        return list(range(n))
    return list(range(HEAD)) + [-1] + list(range(n - TAIL, n))


def _trace_table(w: Walk) -> render.Table:
    n, dx = len(w.x), w.dx
    rows = []
    for k in _shown(n):
        if k < 0:
            rows.append(["...", f"{n - HEAD - TAIL} steps", "...", "...", "..."])
            continue
        rows.append([str(k), render.num(w.x[k], 7), render.num(w.value[k], 7), render.num(w.dact[k]),
                     "" if k == 0 else render.num(dx[k])])
    title = f"{_name(w)}: " + (_count(w.steps) if w.reached else f"not reached ({w.stop}) after {_count(w.taken)}")
    return render.Table(["step", "x", "f(x)", "f'(x)", "change in x"], rows, title=title)


def _trace_rows(w: Walk) -> Iterator[list]:
    """The CSV rows of one trace: every step, full precision."""
    dx = w.dx
    for k in range(len(w.x)):
        yield [w.activation, k, w.x[k], w.value[k], w.dact[k], None if k == 0 else dx[k]]


def _walk_data(w: Walk) -> dict:
    data = dict(activation=w.activation, alpha=w.alpha, steps=w.steps, reached=w.reached, stop=w.stop,
                reason=w.reason, x0=w.x0, dact0=w.dact0, final_x=w.final_x, final_value=w.final_value,
                taken=w.taken, monotone=w.monotone, branch=w.branch)
    if w.x is not None:
        data["trace"] = dict(x=w.x, value=w.value, dact=w.dact, dx=w.dx)
    return data


def report(r: StepsResult) -> render.Report:
    """The summary table (and trace tables), JSON with every walk, CSV of the summary or of the full traces."""
    results = [_walk_data(w) for w in r.results]
    fast, slow = r.fastest, r.slowest
    data = dict(start=r.start, target=r.target, lr=r.lr, max_steps=r.max_steps, direction=r.direction,
                tolerance=r.tolerance, results=results, fastest=fast and fast.activation,
                slowest=slow and slow.activation, times_fewer=r.times_fewer)
    traced = [w for w in r.results if w.x is not None]
    tables = [_summary_table(r)] + [_trace_table(w) for w in traced]
    if traced:
        headers = ["activation", "step", "x", "value", "dact", "dx"]
        rows = (row for w in traced for row in _trace_rows(w))
    else:
        headers = ["activation", "alpha", "steps", "reached", "stop", "x0", "dact0", "final_x", "final_value",
                   "taken", "reason"]
        rows = ([row[k] for k in headers] for row in results)
    return render.Report("steps", data, title=_title(r), tables=tables, notes=_notes(r), csv_headers=headers,
                         csv_rows=rows)


def steps(
    act: Annotated[Optional[List[str]], acts_option("sigmoid,relu")] = None,
    start: Annotated[float, typer.Option(callback=finite, help="f(x) at the start; x0 = f^-1(start), inside the range of every chosen activation.")] = descent.START,
    target: Annotated[float, typer.Option(callback=finite, help="The value of f(x) to reach, inside the range of every chosen activation.")] = descent.TARGET,
    lr: Annotated[float, typer.Option(callback=positive, help="Learning rate (> 0).")] = descent.LR,
    max_steps: Annotated[int, typer.Option(min=1, max=descent.MAX_STEPS_LIMIT, help="Stop a walk after this many steps and report it as not reached.")] = descent.MAX_STEPS,
    alpha: AlphaOpt = None,
    trace: Annotated[bool, typer.Option("--trace", help="Also show every step: x, f(x), f'(x), change in x (long traces shortened in the table, complete in JSON and CSV).")] = False,
    fmt: FormatOpt = "table",
    plot: PlotOpt = None,
) -> None:
    """Count the gradient steps that bring f(x) from --start to --target (Microsoft AI-edu, "Activation functions": sigmoid 67, relu 2).

    x0 = f^-1(start); x <- x - lr f'(x) (+ lr f'(x) when start < target) until f(x) is at or past the target.

    "At" means within 1e-12 x max(|start|, |target|); start == target takes 0 steps.

    A zero derivative (relu at x <= 0: a dead unit) stops the walk: not reached, with the reason.

    gelu, gelu-tanh and swish are not monotone: f^-1 is taken on their increasing branch, right of the minimum.

    Example: gradsim steps

    Example: gradsim steps --act all --trace -f csv
    """
    with usage_errors(), progress("walks") as tick:
        result = descent.steps(act=act, start=start, target=target, lr=lr, max_steps=max_steps, alpha=alpha,
                               trace=trace or plot is not None, progress=tick)
    render.emit(report(result), fmt)
    if plot:
        from .. import plots
        from ..options import save_plot

        save_plot(plots.steps_figure(result), plot)
