"""Options shared by the commands, so each reads ``--config`` and ``--debug`` the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file (default: $CCR_HOME/config.json).",
                 dir_okay=False),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
HostOption = Annotated[str | None, typer.Option(help="Address to listen on (overrides HOST).")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on (overrides PORT).")]
