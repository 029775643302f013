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
from .errors import OutputError

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


#: Table widths a terminal may ask for: below MIN_WIDTH a table goes vertical anyway, above MAX_WIDTH nothing gains.
MIN_WIDTH, MAX_WIDTH = 20, 1000


def columns(default: int = 200) -> int:
    """The width COLUMNS asks for, clamped to [MIN_WIDTH, MAX_WIDTH]; `default` when unset or not a whole number."""
    text = os.environ.get("COLUMNS", "").strip()
    if not text.isdigit() or int(text) == 0:
        return default
    return min(max(int(text), MIN_WIDTH), MAX_WIDTH)


def ascii_only(stream: TextIO) -> bool:
    """True when the stream cannot encode our separators (PYTHONIOENCODING=ascii, a C locale without UTF-8)."""
    try:
        "\u00b7\u2500".encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return True
    return False


def plain_text(text: str, ascii: bool) -> str:
    """`text` as the stream can take it: the title separator becomes '-', anything else not ASCII '?'."""
    if not ascii:
        return text
    return text.replace("\u00b7", "-").replace("\u00d7", "x").encode("ascii", "replace").decode("ascii")


def _console(stream: TextIO, width: int | None = None):
    from rich.console import Console

    tty = stream.isatty()
    if width is None:
        width = columns() if not tty else min(max(_terminal_width(stream), MIN_WIDTH), MAX_WIDTH)
    plain = bool(os.environ.get("NO_COLOR")) or not tty  # no_color alone would keep bold: no styles at all
    return Console(file=stream, width=width, highlight=False, soft_wrap=False, color_system=None if plain else "auto",
                   emoji=False)


def _terminal_width(stream: TextIO) -> int:
    """COLUMNS when it is a whole number, else the terminal's own width."""
    text = os.environ.get("COLUMNS", "").strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (OSError, ValueError, AttributeError):
        return 80


def _box(ascii: bool):
    """rich's SIMPLE_HEAD (a rule under the headers, nothing else), in ASCII when the stream needs it."""
    from rich import box

    return box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True) if ascii else box.SIMPLE_HEAD


def _rich_table(t: Table, ascii: bool = False):
    from rich.table import Table as RichTable

    table = RichTable(box=_box(ascii), show_edge=False, pad_edge=False, collapse_padding=True, safe_box=False)
    justify = t.justify or ["right"] * len(t.headers)
    for header, j in zip(t.headers, justify):
        table.add_column(plain_text(str(header), ascii), justify=j, no_wrap=True)
    for row in t.rows:
        table.add_row(*[plain_text(str(c), ascii) for c in row])
    return table


def _widths(t: Table) -> list[int]:
    """Each column's widest cell (header included)."""
    return [max([len(str(h))] + [len(str(r[i])) for r in t.rows]) for i, h in enumerate(t.headers)]


def _natural_width(t: Table) -> int:
    """Columns at their widest cell plus two spaces between them: the width that cuts no number."""
    widths = _widths(t)
    return sum(widths) + 2 * (len(widths) - 1)


def fold(t: Table, width: int) -> list[Table]:
    """`t` as tables no wider than `width` that cut no number.

    The order: all columns in one table if they fit; else the columns, left to right, in as few parts as fit,
    each part repeating the first column (the row's name: layer, epoch, activation...); a part that cannot hold
    even one more column beside the first is left out of this scheme and `t` goes vertical (see `vertical`).
    """
    if _natural_width(t) <= width:
        return [t]
    widths = _widths(t)
    parts: list[list[int]] = []
    for i in range(1, len(widths)):
        if parts and sum(widths[j] + 2 for j in [0] + parts[-1]) + widths[i] <= width:
            parts[-1].append(i)
        elif widths[0] + 2 + widths[i] <= width:
            parts.append([i])
        else:
            return []  # one column does not fit beside the first: the caller prints the table vertically
    justify = list(t.justify or ["right"] * len(t.headers))
    tables = []
    for k, part in enumerate(parts):
        keep = [0] + part
        title = (f"{t.title}\n" if t.title and k == 0 else "") + \
            f"part {k + 1} of {len(parts)} of the table (folded to fit {width} characters)"
        tables.append(Table([t.headers[j] for j in keep], [[r[j] for j in keep] for r in t.rows], title=title,
                            justify=[justify[j] for j in keep]))
    return tables


def vertical(t: Table) -> list[str]:
    """`t` one cell a line, `header: value`, rows apart: for terminals too narrow for any two columns."""
    lines = [t.title] if t.title else []
    for row in t.rows:
        lines.append("")
        lines += [f"{h}: {c}" for h, c in zip(t.headers, row) if str(c) != ""]
    return lines


def print_tables(report: Report, stream: TextIO) -> None:
    """The human view: title, tables, notes; a table wider than the terminal is folded (see `fold`)."""
    console = _console(stream)
    ascii = ascii_only(stream)
    if report.title:
        console.print(plain_text(report.title, ascii), markup=False)
    for t in report.tables:
        parts = fold(t, console.width)
        if not parts:
            for line in ([""] + vertical(t)):
                console.print(plain_text(line, ascii), markup=False)
            continue
        for part in parts:
            if part.title:
                console.print(plain_text(f"\n{part.title}", ascii), markup=False)
            console.print(_rich_table(part, ascii))
    for line in report.notes:
        for part in wrap_note(plain_text(line, ascii), console.width):
            console.print(part, markup=False)


#: A note's label ("measured:   ", "far tail: ") is at most this long; its wrapped lines start under the text after it.
NOTE_LABEL = 16


def wrap_note(line: str, width: int) -> list[str]:
    """`line` folded at spaces to `width`, continuation lines indented as far as its leading spaces or its short
    label: "measured:   mean ... fit over layers" wraps with "1-19" under "mean". Numbers are never split."""
    import re
    import textwrap

    if len(line) <= width:
        return [line]
    lead = re.match(r"( +)\S|([^:]{1,%d}: +)\S" % (NOTE_LABEL - 2), line)
    indent = len(lead.group(1) or lead.group(2)) if lead else 0
    if indent > width // 3:
        indent = 0
    glued = line.replace(" = ", "\0=\0")  # "q_0 = 1" stays on one line
    parts = textwrap.wrap(glued, width, subsequent_indent=" " * indent, break_long_words=False,
                          break_on_hyphens=False, drop_whitespace=True) or [glued]
    return [part.replace("\0", " ") for part in parts]


def write_csv(report: Report, stream: TextIO) -> None:
    """The main table, header first, full precision."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(report.csv_headers)
    for row in report.csv_rows:
        writer.writerow([csv_cell(v) for v in row])


def emit(report: Report, fmt: str = "table", stream: TextIO | None = None) -> None:
    """Print `report` as a table, JSON or CSV to stdout (or `stream`); OutputError when the stream fails."""
    stream = stream or sys.stdout
    if stream is None:  # `gradsim vanish >&-`: Python sets sys.stdout to None
        raise OutputError("standard output is closed")
    try:
        if fmt == "json":
            stream.write(to_json(report.command, report.data) + "\n")
        elif fmt == "csv":
            write_csv(report, stream)
        else:
            print_tables(report, stream)
        stream.flush()
    except (OSError, ValueError) as e:  # ValueError: "I/O operation on closed file"
        raise OutputError(f"cannot write to standard output: {getattr(e, 'strerror', None) or e}",
                          broken_pipe=isinstance(e, BrokenPipeError)) from None
