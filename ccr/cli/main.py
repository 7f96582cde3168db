"""The ``ccr`` command: one typer app, one module per command group.

Every module in this package with a ``register(app)`` function adds its commands, so a new
command group is a new module.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

import ccr.cli

app = typer.Typer(
    name="ccr",
    help="Route Claude Code (and any Anthropic Messages API client) to the models you choose.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Command groups listed first in ``ccr --help``, in this order; others follow by name.
_FIRST = ("serve", "service", "code", "activate", "init", "model",
          "route", "statusline", "logs", "usage")


def _register_all() -> None:
    names = [m.name for m in pkgutil.iter_modules(ccr.cli.__path__) if m.name != "main"]
    names.sort(key=lambda n: (_FIRST.index(n) if n in _FIRST else len(_FIRST), n))
    for name in names:
        module = importlib.import_module(f"ccr.cli.{name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    """Route Claude Code (and any Anthropic Messages API client) to the models you choose."""
    if version:
        from ccr import __version__

        typer.echo(f"ccr {__version__}")
        raise typer.Exit()
