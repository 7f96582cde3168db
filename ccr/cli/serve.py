"""``ccr serve``: run the router in the foreground (containers, systemd, CI)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ccr.config import ccr_home, is_loopback_host, load_config
from ccr.errors import ConfigError

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file (default: $CCR_HOME/config.json).",
                 dir_okay=False),
]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (overrides HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (overrides PORT).")] = None,
) -> None:
    """Run ccr in the foreground.

    Example: ccr serve --port 3456 --config ~/.claude-code-router/config.json
    """
    from ccr.logs import setup_logging
    from ccr.server.app import create_app, no_provider_message
    from ccr.server.state import AppState, Runtime

    try:
        cfg = load_config(config)
        runtime = Runtime.build(cfg)
    except ConfigError as exc:
        typer.echo(f"ccr: invalid configuration\n{exc}", err=True)
        raise typer.Exit(2) from None
    bind_host = host or cfg.host
    bind_port = port or cfg.port
    if not cfg.apikey and not is_loopback_host(bind_host):
        typer.echo(
            f"ccr: refusing to listen on {bind_host} without APIKEY: anyone who can reach it "
            "could spend your provider credits. Set APIKEY in the config, or listen on 127.0.0.1.",
            err=True,
        )
        raise typer.Exit(2)
    home = ccr_home()
    log = setup_logging(home=home, enabled=cfg.log, level=cfg.log_level)
    state = AppState(runtime=runtime, home=home)
    app = create_app(state, name="ccr")
    source = str(cfg.path) if cfg.path else "built-in defaults (no config file)"
    log.info("ccr listening on http://%s:%d (config: %s)", bind_host, bind_port, source)
    if not cfg.has_providers:
        log.warning(no_provider_message(state))
    try:
        app.run(host=bind_host, port=bind_port, single_process=True, access_log=False,
                motd=False)
    except OSError as exc:
        typer.echo(f"ccr: cannot listen on {bind_host}:{bind_port}: {exc.strerror or exc}",
                   err=True)
        sys.exit(1)
