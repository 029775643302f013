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

from .activations import NAMES as ACT_NAMES
from .errors import GradsimError, suggestion

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
        raise typer.BadParameter(f"{value!r} is not one of table, json, csv.{suggestion(v, ('table', 'json', 'csv'))}")
    return v


def check_plot(value: Optional[str]) -> Optional[Path]:
    """A path for a figure: .png, .svg or .pdf (see `_check_plot`)."""
    return _check_plot(value, PLOT_SUFFIXES)


def check_animated_plot(value: Optional[str]) -> Optional[Path]:
    """check_plot, where .gif (an animation) is allowed too."""
    return _check_plot(value, PLOT_SUFFIXES + (".gif",))


def _check_plot(value: Optional[str], suffixes: tuple[str, ...]) -> Optional[Path]:
    """A file path whose folder exists and can be written, with one of `suffixes` (checked before any
    computing). Through a symlink, the folder checked is the one of the file it points to; any OS error is a
    usage error."""
    if value is None:
        return None
    path = Path(value).expanduser()
    try:
        if value.endswith(("/", os.sep)) or path.is_dir():
            raise typer.BadParameter(f"{value!r} is a directory; give a file name such as "
                                     f"{os.path.join(value, 'figure.png')!r}")
        if path.suffix.lower() not in suffixes:
            raise typer.BadParameter(f"{value!r} needs a suffix from {', '.join(suffixes)}")
        target = Path(os.path.realpath(path))
        folder = target.parent
        for given in (path.parent, folder):  # as the system sees the path given (x/../ needs x), and resolved
            if not given.is_dir():
                raise typer.BadParameter(f"the folder {str(given)!r} does not exist")
        _check_name_length(folder, target)
        _check_writable(folder, target)
    except OSError as e:
        raise typer.BadParameter(f"cannot write {value!r}: {e.strerror or e}") from None
    return path


def _check_name_length(folder: Path, target: Path) -> None:
    """The file name and the whole path within the file system's limits (ENAMETOOLONG before any computing)."""
    import errno

    for limit, length in (("PC_NAME_MAX", len(os.fsencode(target.name))), ("PC_PATH_MAX", len(os.fsencode(str(target))))):
        try:
            most = os.pathconf(folder, limit)
        except (OSError, ValueError, AttributeError):
            continue
        if most > 0 and length > most - (limit == "PC_PATH_MAX"):
            raise OSError(errno.ENAMETOOLONG, f"{os.strerror(errno.ENAMETOOLONG)} ({length} bytes, at most {most})")


def _check_writable(folder: Path, target: Path) -> None:
    """Create and remove a temporary file beside `target`, as the atomic save will (permissions, read-only mounts)."""
    import tempfile

    from .atomic import temporary_name

    prefix, suffix = temporary_name(target)
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    except OSError as e:
        raise typer.BadParameter(f"cannot write in the folder {str(folder)!r}: {e.strerror or e}") from None
    os.close(fd)
    os.unlink(probe)


def save_plot(fig, path: Path, save: Optional[Callable] = None) -> None:
    """Write a figure atomically (plots.save, or `save(fig, path)`) and say where on stderr.

    It runs after the table is printed: an OS error here (a full disk) follows the table on stderr as a usage
    error naming --plot (exit 2), and no file, whole or partial, is left behind.
    """
    if save is None:
        from .plots import save

    with usage_errors():
        save(fig, path)
    typer.echo(f"wrote {path}", err=True)


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
PlotOpt = Annotated[Optional[str], typer.Option("--plot", callback=check_plot, metavar="PATH",
                                                 help="Also write a figure; format from the suffix (.png, .svg, .pdf).")]
AnimatedPlotOpt = Annotated[Optional[str], typer.Option(
    "--plot", callback=check_animated_plot, metavar="PATH",
    help="Also write a figure; format from the suffix (.png, .svg, .pdf, or .gif for an animation).")]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", min=0, show_default=False,
                                                help="Seed (>= 0) for numpy's default_rng: same seed, same output. Default 0.")]
AlphaOpt = Annotated[Optional[float], typer.Option(
    "--alpha", callback=finite,
    help="Parameter of leaky-relu (default 0.01), prelu (0.25) and elu (1.0); in [0, 1000] (> 0 for elu).")]
YesOpt = Annotated[bool, typer.Option(
    "--yes", help="Run even when the up-front estimate is over a minute or 2 GB of memory. Default off: such a run is refused with its estimate.")]
ActsOpt = Annotated[Optional[List[str]], typer.Option(
    "--act", help="Activation (repeat the option or give a comma list); 'all' for every one.")]


def _complete_act(incomplete: str) -> list[str]:
    """Shell completion of an --act value: the activation names that start with what is typed."""
    return [n for n in ACT_NAMES if n.startswith(incomplete)]


def _complete_acts(incomplete: str) -> list[str]:
    return [n for n in (*ACT_NAMES, "all") if n.startswith(incomplete)]


def act_option(default: str, note: str = "", what: str = "") -> typer.models.OptionInfo:
    """--act NAME for one activation: its choices in the help, its default shown once."""
    return typer.Option("--act", metavar="NAME", show_default=False, autocompletion=_complete_act,
                        help=f"Activation{what}: {', '.join(ACT_NAMES)} (see `gradsim acts`){note}. Default {default}.")


def acts_option(default: str, note: str = "") -> typer.models.OptionInfo:
    """--act NAME,... for several activations (repeat the option or give a comma list)."""
    return typer.Option("--act", metavar="NAME,...", show_default=False, autocompletion=_complete_acts,
                        help=f"Activations, a comma list or the option repeated: {', '.join(ACT_NAMES)}, "
                             f"or all for every one.{note} Default {default}.")


#: Seconds a run may take before it gets a progress bar (on a terminal only).
PROGRESS_AFTER = 1.0


def short_count(n: int) -> str:
    """1234 -> '1234', 1_200_000 -> '1.2M', 3_000_000 -> '3M', 2.5e9 -> '2.5G'."""
    for size, suffix in ((10**9, "G"), (10**6, "M"), (10**4, "k")):
        if n >= size:
            return f"{n / size:.3g}{suffix}" if suffix != "k" else f"{n / 1000:.4g}k"
    return str(n)


def count_text(label: str, done: int, total: int) -> str:
    """What a progress bar says it counts and how far: 'epochs 45/300', 'trials 1.2M/3M'."""
    return f"{label} {short_count(done)}/{short_count(total)}"


@contextmanager
def progress(label: str, after: float = PROGRESS_AFTER) -> Iterator[Callable[[int, int], None] | None]:
    """progress(done, total) for a core loop: a rich bar on stderr once the run has taken `after` seconds.

    The bar says what it counts and how far (`epochs 45/300`, `trials 1.2M/3M`) and the time elapsed.
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
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("elapsed"), TimeElapsedColumn(),
                           console=Console(file=sys.stderr), transient=True)
            bar.start()
            bar.add_task(count_text(label, done, total), total=total)
        if bar is not None:
            bar.update(bar.task_ids[0], completed=done, total=total, description=count_text(label, done, total))

    try:
        yield tick
    finally:
        if bar is not None:
            bar.stop()
