"""The ``ccr`` command: one typer app, one module per command group."""

from __future__ import annotations

import typer

from ccr.cli import route, serve

app = typer.Typer(
    name="ccr",
    help="Route Claude Code (and any Anthropic Messages API client) to the models you choose.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
serve.register(app)
route.register(app)


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    """Route Claude Code (and any Anthropic Messages API client) to the models you choose."""
    if version:
        from ccr import __version__

        typer.echo(f"ccr {__version__}")
        raise typer.Exit()
