"""Tables, JSON and CSV: the only module that prints results.

A command turns its core result into a `Report` (a JSON payload, display
tables, notes and one CSV table) and hands it to `emit`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence, TextIO

import numpy as np

from ._version import __version__

FORMATS = ("table", "json", "csv")


# ---------------------------------------------------------------- number formatting for people
def num(x: Any, digits: int = 4) -> str:
    """About `digits` significant digits; scientific notation for tiny and huge values."""
    if x is None:
        return "-"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}".replace("e+0", "e+").replace("e-0", "e-")


def from_log10(sign: float, log10_abs: float, digits: int = 4) -> str:
    """sign * 10**log10_abs as text, even far beyond float64 (e.g. 7.378e+556)."""
    if sign == 0 or log10_abs == -math.inf:
        return "0"
    if math.isnan(log10_abs) or math.isnan(sign):
        return "nan"
    if log10_abs == math.inf:
        return "inf" if sign > 0 else "-inf"
    if -300 < log10_abs < 300:
        return num(sign * 10.0**log10_abs, digits)
    if abs(log10_abs) >= 1e15:  # the exponent itself is too long to print as an integer
        return f"{'-' if sign < 0 else ''}10^({log10_abs:.{digits}g})"
    exponent = math.floor(log10_abs)
    mantissa = 10.0 ** (log10_abs - exponent)
    if round(mantissa, digits - 1) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{'-' if sign < 0 else ''}{mantissa:.{digits - 1}f}e{exponent:+d}"


def times(ratio_log10: float) -> str:
    """10**ratio_log10 as '2.0e4'-style text for 'N x smaller'."""
    return from_log10(1.0, ratio_log10, 2) if abs(ratio_log10) >= 3 else num(10.0**ratio_log10, 3)


# ---------------------------------------------------------------- JSON
def jsonable(value: Any) -> Any:
    """Plain Python for json: numpy -> lists and scalars, non-finite floats -> None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def to_json(command: str, payload: dict) -> str:
    """One strict RFC 8259 object with `command` and `gradsim_version` first."""
    body = {"command": command, "gradsim_version": __version__, **jsonable(payload)}
    return json.dumps(body, allow_nan=False, indent=2)


# ---------------------------------------------------------------- the report
@dataclass
class Table:
    """A table for people: headers and display strings; `justify` per column ('right' by default)."""

    headers: Sequence[str]
    rows: list[Sequence[str]]
    title: str | None = None
    justify: Sequence[str] | None = None


@dataclass
class Report:
    """What a command shows: title, tables and notes for people; `data` for JSON; one CSV table."""

    command: str
    data: dict
    title: str = ""
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    csv_headers: Sequence[str] = ()
    csv_rows: Iterable[Sequence[Any]] = ()


def csv_cell(value: Any) -> Any:
    """Full precision for floats (repr), plain text otherwise; None is empty."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (int, np.integer)):
        return int(value)
    return value


def _console(stream: TextIO, width: int | None = None):
    from rich.console import Console

    tty = stream.isatty()
    if width is None and not tty:
        width = int(os.environ.get("COLUMNS", "0") or 0) or 200
    plain = bool(os.environ.get("NO_COLOR")) or not tty  # no_color alone would keep bold: no styles at all
    return Console(file=stream, width=width, highlight=False, soft_wrap=False, color_system=None if plain else "auto",
                   emoji=False)


def _rich_table(t: Table):
    from rich import box
    from rich.table import Table as RichTable

    table = RichTable(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    justify = t.justify or ["right"] * len(t.headers)
    for header, j in zip(t.headers, justify):
        table.add_column(str(header), justify=j, no_wrap=True)
    for row in t.rows:
        table.add_row(*[str(c) for c in row])
    return table


def _natural_width(t: Table) -> int:
    """Columns at their widest cell plus two spaces between them: the width that cuts no number."""
    widths = [max([len(str(h))] + [len(str(r[i])) for r in t.rows]) for i, h in enumerate(t.headers)]
    return sum(widths) + 2 * (len(widths) - 1)


def print_tables(report: Report, stream: TextIO) -> None:
    """The human view: title, tables, notes."""
    console = _console(stream)
    if report.title:
        console.print(report.title, markup=False)
    for t in report.tables:
        if t.title:
            console.print(f"\n{t.title}", markup=False)
        wide = _natural_width(t) > console.width
        # never squeeze a number: on a narrow terminal let the line wrap instead
        (_console(stream, _natural_width(t)) if wide else console).print(_rich_table(t))
    for line in report.notes:
        console.print(line, markup=False)


def write_csv(report: Report, stream: TextIO) -> None:
    """The main table, header first, full precision."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(report.csv_headers)
    for row in report.csv_rows:
        writer.writerow([csv_cell(v) for v in row])


def emit(report: Report, fmt: str = "table", stream: TextIO | None = None) -> None:
    """Print `report` as a table, JSON or CSV to stdout (or `stream`)."""
    stream = stream or sys.stdout
    if fmt == "json":
        stream.write(to_json(report.command, report.data) + "\n")
    elif fmt == "csv":
        write_csv(report, stream)
    else:
        print_tables(report, stream)
