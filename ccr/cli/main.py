"""The ``ccr`` typer app, with commands loaded on demand.

:mod:`ccr.cli.commands` lists the commands; a command's module is imported only when that
command runs (or its help is shown), so starting ``ccr status`` does not import the server.
A module adds its commands with a ``register(app)`` function.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

from ccr.cli.commands import COMMANDS, MODULES, SUMMARY


def _load(name: str) -> Any:
    """The click command ``name``, from its module's ``register``."""
    module_name = MODULES.get(name)
    if module_name is None:
        return None
    module = importlib.import_module(f"ccr.cli.{module_name}")
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    module.register(holder)

    @holder.callback()
    def _group() -> None:  # a group, so that single-command modules keep their name
        pass

    return typer.main.get_group(holder).commands.get(name)


class LazyGroup(TyperGroup):
    """Lists commands from the table; imports a command's module only to run it."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [name for name, _, _ in COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return _load(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, _, text in COMMANDS])


app = typer.Typer(
    name="ccr",
    cls=LazyGroup,
    help=SUMMARY,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from ccr import __version__

        typer.echo(f"ccr {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", "-V", callback=_print_version,
                                 is_eager=True, help="Print the version and exit."),
) -> None:
    """Route Claude Code (and any Anthropic Messages API client) to the models you choose."""
