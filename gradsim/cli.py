"""The typer app: `gradsim COMMAND`. Each command lives in gradsim/commands/ and is thin."""

from __future__ import annotations

from typing import Annotated

import typer

from ._version import __version__
from .commands import acts, vanish
from .commands import steps
from .commands import train
from .commands import phase, window
from .commands import clip
from .commands import ensemble

app = typer.Typer(
    name="gradsim",
    help="Gradient dynamics simulator: vanishing and exploding gradients, activations and clipping, "
         "as numbers and pictures.\n\nExample: gradsim vanish --preset nielsen-explode",
    no_args_is_help=True,
    add_completion=False,
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


app.command("vanish")(vanish.vanish)
app.command("acts")(acts.acts)
app.command("steps")(steps.steps)
app.command("clip")(clip.clip)
app.command("train")(train.train)
app.command("phase")(phase.phase)
app.command("window")(window.window)
app.command("ensemble")(ensemble.ensemble)


def main() -> None:
    """Console-script entry point."""
    app()
