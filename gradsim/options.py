"""Options and checks shared by every command (the CLI floor only)."""

from __future__ import annotations

import math
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Callable, Iterator, List, Optional

import typer

from .errors import GradsimError

PLOT_SUFFIXES = (".png", ".svg", ".pdf")


@contextmanager
def usage_errors() -> Iterator[None]:
    """Turn a core GradsimError into typer's usage error (exit 2, option named on stderr)."""
    try:
        yield
    except GradsimError as e:
        raise typer.BadParameter(str(e), param_hint=f"'{e.option}'" if e.option else None) from None


def check_format(value: str) -> str:
    """table, json or csv."""
    v = value.strip().lower()
    if v not in ("table", "json", "csv"):
        raise typer.BadParameter(f"{value!r} is not one of table, json, csv")
    return v


def check_plot(value: Optional[Path]) -> Optional[Path]:
    """A path whose folder exists and whose suffix is .png, .svg or .pdf (checked before any computing)."""
    return _check_plot(value, PLOT_SUFFIXES)


def check_animated_plot(value: Optional[Path]) -> Optional[Path]:
    """check_plot, where .gif (an animation) is allowed too."""
    return _check_plot(value, PLOT_SUFFIXES + (".gif",))


def _check_plot(value: Optional[Path], suffixes: tuple[str, ...]) -> Optional[Path]:
    if value is None:
        return None
    if value.suffix.lower() not in suffixes:
        raise typer.BadParameter(f"{str(value)!r} needs a suffix from {', '.join(suffixes)}")
    folder = value.expanduser().resolve().parent
    if not folder.is_dir():
        raise typer.BadParameter(f"the folder {str(folder)!r} does not exist")
    if value.expanduser().is_dir():
        raise typer.BadParameter(f"{str(value)!r} is a folder; give a file name")
    _check_writable(folder)
    return value.expanduser()


def _check_writable(folder: Path) -> None:
    """Create and remove a temporary file in `folder`, as the atomic save will (permissions, read-only mounts)."""
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".gradsim-probe.")
    except OSError as e:
        raise typer.BadParameter(f"cannot write in the folder {str(folder)!r}: {e.strerror or e}") from None
    os.close(fd)
    os.unlink(probe)


def finite(value: Optional[float]) -> Optional[float]:
    """Any finite number (no nan or inf)."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not allowed; give a finite number")
    return value


def positive(value: Optional[float]) -> Optional[float]:
    """A finite number > 0."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"{value} is not allowed; give a finite number > 0")
    return value


FormatOpt = Annotated[str, typer.Option("--format", "-f", callback=check_format, metavar="table|json|csv",
                                        help="Output: rich table, one JSON object, or CSV of the main table.")]
PlotOpt = Annotated[Optional[Path], typer.Option("--plot", callback=check_plot, metavar="PATH",
                                                 help="Also write a figure; format from the suffix (.png, .svg, .pdf).")]
AnimatedPlotOpt = Annotated[Optional[Path], typer.Option(
    "--plot", callback=check_animated_plot, metavar="PATH",
    help="Also write a figure; format from the suffix (.png, .svg, .pdf, or .gif for an animation).")]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", min=0, help="Seed (>= 0) for numpy's default_rng: same seed, same output.")]
AlphaOpt = Annotated[Optional[float], typer.Option(
    "--alpha", callback=finite,
    help="Parameter of leaky-relu (default 0.01), prelu (0.25) and elu (1.0); in [0, 1000] (> 0 for elu).")]
ActsOpt = Annotated[Optional[List[str]], typer.Option(
    "--act", help="Activation (repeat the option or give a comma list); 'all' for every one.")]


#: Seconds a run may take before it gets a progress bar (on a terminal only).
PROGRESS_AFTER = 1.0


@contextmanager
def progress(label: str, after: float = PROGRESS_AFTER) -> Iterator[Callable[[int, int], None] | None]:
    """progress(done, total) for a core loop: a rich bar on stderr once the run has taken `after` seconds.

    None when stderr is not a terminal, so the core skips reporting and nothing reaches stderr.
    """
    if not sys.stderr.isatty():
        yield None
        return
    began, bar = time.monotonic(), None

    def tick(done: int, total: int) -> None:
        nonlocal bar
        if bar is None and time.monotonic() - began >= after:
            from rich.console import Console
            from rich.progress import Progress

            bar = Progress(console=Console(file=sys.stderr), transient=True)
            bar.start()
            bar.add_task(label, total=total)
        if bar is not None:
            bar.update(bar.task_ids[0], completed=done, total=total)

    try:
        yield tick
    finally:
        if bar is not None:
            bar.stop()
