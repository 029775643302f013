"""The typer app: `gradsim COMMAND`. Each command lives in gradsim/commands/ and is thin."""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Iterator, Mapping
from typing import Annotated

import typer
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from ._version import __version__

#: The commands in the order --help lists them; gradsim/commands/NAME.py defines the function NAME.
COMMANDS = ("vanish", "acts", "steps", "clip", "train", "phase", "window", "ensemble", "rnn")


class Command(TyperCommand):
    """A command whose help is plain text (no rich markup) and whose option typos get one suggestion."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except Exception as e:  # NoSuchOption, of click or of typer's copy of it: suggest difflib's closest only
            if getattr(e, "possibilities", None) and getattr(e, "option_name", None):
                e.message, e.possibilities = f"{e.message}. Did you mean '{e.possibilities[0]}'?", None
            raise


def plain_help(text: str | None) -> str | None:
    """Help text shown as written: each paragraph on one line (the terminal wraps it) and rich markup escaped,
    so `[digits]` and `E[f(z)^2]` survive. A paragraph that starts with \\b keeps its lines."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(escape(p if p.startswith("\b") else " ".join(p.split("\n"))) for p in paragraphs)


@functools.cache
def command(name: str) -> TyperCommand:
    """The click command for `gradsim NAME`, built from its module on first use."""
    module = importlib.import_module(f".commands.{name}", __package__)
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    single.command(name, cls=Command)(getattr(module, name))
    cmd = typer.main.get_command(single)
    cmd.help = plain_help(cmd.help)
    for param in cmd.params:
        param.help = plain_help(getattr(param, "help", None))
    return cmd


class _Commands(Mapping):
    """name -> command, built on first lookup; its keys are all the names (typer suggests from them on a typo)."""

    def __getitem__(self, name: str) -> TyperCommand:
        if name not in COMMANDS:
            raise KeyError(name)
        return command(name)

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class LazyGroup(TyperGroup):
    """A group that imports a command's module only when that command runs (or --help lists it)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.commands = _Commands()


app = typer.Typer(
    name="gradsim",
    cls=LazyGroup,
    help=plain_help("Gradient dynamics simulator: vanishing and exploding gradients, activations and clipping, "
                    "as numbers and pictures.\n\nExample: gradsim vanish --preset nielsen-explode"),
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gradsim {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Gradient dynamics simulator: vanishing and exploding gradients, activations and clipping."""


def main() -> None:
    """Console-script entry point.

    A failure to write standard output (closed, a full disk) is one line on stderr and exit 2, no traceback
    (with stderr closed, `2>&-`, the exit codes stay those of a usage error, 2, and of success, 0);
    a reader that stops early (`gradsim vanish --depth 1000 | head`) ends the run quietly with exit 1, as rich
    and Python's own advice on SIGPIPE do.
    """
    import os
    import sys

    if not _usable_stderr():  # `2>&-`: messages go nowhere, the exit codes still hold
        sys.stderr = open(os.devnull, "w")
    if not os.environ.get("TERMINAL_WIDTH", "0").strip().isdigit():  # typer reads it with int(): abc would crash
        del os.environ["TERMINAL_WIDTH"]
    if os.environ.get("NO_COLOR"):  # typer's own error panels and help honour NO_COLOR too: no styles at all
        import typer.rich_utils

        typer.rich_utils.COLOR_SYSTEM = None
    from .errors import OutputError

    try:
        app()
    except OutputError as e:
        if not e.broken_pipe:
            print(f"Error: {e}", file=sys.stderr)
        _quiet_stdout()
        sys.exit(1 if e.broken_pipe else 2)


def _usable_stderr() -> bool:
    """Whether stderr can be written: with descriptor 2 closed Python keeps a stream on it (or None), and the
    descriptor may even be some file opened read-only since (a launcher's script)."""
    import os
    import sys

    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):  # None, or a stream without a descriptor (pytest): as it is
        return sys.stderr is not None
    try:
        import fcntl

        return fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)
    except ImportError:  # not on a Unix: trust it
        return True
    except OSError:  # closed
        return False


def _quiet_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so Python's final flush of stdout has nowhere to fail."""
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives until exit
