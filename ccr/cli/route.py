"""``ccr route --dry-run`` for typer: the options and their help; the work is
:func:`ccr.cli.route_run.run`, which the entry point's fast path (:mod:`ccr.cli.route_fast`)
calls with the same options parsed by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ccr.cli.options import ConfigOption
from ccr.cli.route_run import RouteArgs, run


def register(app: typer.Typer) -> None:
    app.command("route")(route)


def route(
    requests: Annotated[list[Path], typer.Argument(
        help="Request files: an Anthropic request body (.json), a recorded "
        '{"method","path","headers","body"} file, a .jsonl file of either, or a folder of them.',
        exists=True,
    )],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run/--no-dry-run", help="Route without calling any upstream (the only mode).",
    )] = True,
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (one object per request).")]
    = False,
    session_id: Annotated[str | None, typer.Option(help="Session id to route as.")] = None,
    header: Annotated[list[str] | None, typer.Option(
        "--header", "-H", help="Extra request header K:V (repeatable).")] = None,
    session_input: Annotated[int | None, typer.Option(
        help="Pretend the session's last turn had this many input tokens "
        "(req.session_usage, the longContext rule).", min=0)] = None,
    strict: Annotated[bool, typer.Option(
        help="Exit 1 when the router script fails on any request (for CI).")] = False,
    now: Annotated[str | None, typer.Option(
        help="Route as if it were this time (req.now), e.g. 2026-12-06T23:30 or "
        "2026-12-06T23:30+09:00; without an offset, local time.")] = None,
    explain: Annotated[bool, typer.Option(
        help="Show the router script's result and every built-in rule's verdict and reason.",
    )] = False,
    against: Annotated[Path | None, typer.Option(
        help="Replay: route with this config instead (records show before and after).",
        exists=True, dir_okay=False)] = None,
    script: Annotated[Path | None, typer.Option(
        help="Replay: route with this router script instead of CUSTOM_ROUTER_PATH.",
        exists=True, dir_okay=False)] = None,
) -> None:
    """Show the route, the rule that decided, the token count and the router script's result.

    Records written with RECORD (a folder such as ~/.claude-code-router/records, or its .jsonl
    files) are replayed, each at its recorded time: every row shows the route then and now, and
    a summary counts the changes and estimates the cost difference (PRICES).

    Example: ccr route --dry-run req.json --config ~/.claude-code-router/config.json
    """
    raise typer.Exit(run(RouteArgs(
        tuple(requests), dry_run=dry_run, config=config, as_json=as_json,
        session_id=session_id, headers=tuple(header or ()), session_input=session_input,
        strict=strict, now=now, explain=explain, against=against, script=script,
    )))
