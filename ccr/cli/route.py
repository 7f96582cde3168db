"""``ccr route --dry-run``: what the server would route a request to, without calling upstream."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from ccr.cli.serve import ConfigOption
from ccr.config import ccr_home, load_config
from ccr.errors import ApiError, ConfigError


def register(app: typer.Typer) -> None:
    app.command("route")(route)


@dataclass
class Row:
    source: str
    route: str | None
    rule: str | None
    token_count: int | None
    session_id: str | None
    project: str | None
    error: str | None
    script_error: str | None
    script_ms: float | None
    elapsed_ms: float
    skipped: str | None = None
    script_output: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source, "route": self.route, "rule": self.rule,
            "token_count": self.token_count, "session_id": self.session_id,
            "project": self.project, "error": self.error or self.script_error,
            "request_error": self.error, "script_error": self.script_error,
            "script_ms": self.script_ms, "elapsed_ms": self.elapsed_ms,
            "skipped": self.skipped, "script_output": self.script_output,
        }


class _Skipped(Exception):
    """A recorded request that is not a Messages call (e.g. Claude Code's ``HEAD /``)."""


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
) -> None:
    """Show the route, the rule that decided, the token count and the router script's result.

    Example: ccr route --dry-run req.json --config ~/.claude-code-router/config.json
    """
    if not dry_run:
        typer.echo("ccr route only supports --dry-run", err=True)
        raise typer.Exit(2)
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        typer.echo(f"ccr: invalid configuration\n{exc}", err=True)
        raise typer.Exit(2) from None
    extra: dict[str, str] = {}
    for item in header or []:
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            typer.echo(f"ccr: --header needs K:V, got {item!r}", err=True)
            raise typer.Exit(2)
        extra[key.strip()] = value.strip()
    items = list(_load_requests(requests))
    rows = asyncio.run(_route_all(cfg, items, extra, session_id, session_input))
    _print(rows, as_json=as_json, many=len(items) != 1 or any(p.is_dir() for p in requests))
    if any(r.error for r in rows) or (strict and any(r.script_error for r in rows)):
        raise typer.Exit(1)


async def _route_all(cfg: Any, items: list[tuple[str, Any]], extra: dict[str, str],
                     session_id: str | None, session_input: int | None) -> list[Row]:
    """Route every request through the same engine the server runs, without an upstream."""
    from ccr.context.sessions import SessionUsage
    from ccr.context.stores import Stores
    from ccr.engine.engine import Engine

    try:
        engine = Engine.build(cfg, stores=Stores.for_home(ccr_home()))
    except ConfigError as exc:
        typer.echo(f"ccr: invalid configuration\n{exc}", err=True)
        raise typer.Exit(2) from None
    await engine.start(upstream=False)
    if engine.script is not None and engine.script.load_error:
        typer.echo(f"router script: {engine.script.load_error}", err=True)
    usage = (SessionUsage(input_tokens=session_input, turns=1)
             if session_input is not None else None)
    try:
        return [await _route_one(engine, source, item, extra, session_id, usage)
                for source, item in items]
    finally:
        await engine.aclose()


async def _route_one(engine: Any, source: str, item: Any, extra: dict[str, str],
                     session_id: str | None, session_usage: Any) -> Row:
    from ccr.engine.request import ClientRequest

    started = time.perf_counter()
    row = Row(source, None, None, None, None, None, None, None, None, 0.0)
    try:
        body, headers = _split_request(item)
        decision = await engine.route(ClientRequest(
            body, {**headers, **extra}, session_id=session_id, session_usage=session_usage,
        ))
        ctx = decision.ctx
        row.token_count, row.session_id, row.project = (ctx.token_count, ctx.session_id,
                                                        ctx.project)
        row.route, row.rule = decision.route.name, decision.rule
        row.script_error, row.script_ms = decision.script_error, decision.script_ms
        row.script_output = decision.script_output
    except _Skipped as exc:
        row.skipped = str(exc)
    except (ApiError, ValueError) as exc:
        row.error = exc.message if isinstance(exc, ApiError) else str(exc)
    row.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    if row.script_ms is not None:
        row.script_ms = round(row.script_ms, 3)
    return row


def _split_request(item: Any) -> tuple[dict[str, Any], dict[str, str]]:
    if not isinstance(item, dict):
        raise ValueError("a request must be a JSON object")
    if "_error" in item and len(item) == 1:
        raise ValueError(item["_error"])
    if "body" in item and ("method" in item or "path" in item or "headers" in item):
        body, headers = item["body"], item.get("headers") or {}
        if not isinstance(body, dict) or "/v1/messages" not in str(item.get("path", "")):
            raise _Skipped(f"skipped: {item.get('method', '')} {item.get('path', '')} is not a "
                           "Messages request")
    else:
        body, headers = item, {}
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        raise ValueError("not an Anthropic Messages request (no messages list)")
    return body, {str(k): str(v) for k, v in headers.items()}


def _load_requests(paths: list[Path]) -> Iterator[tuple[str, Any]]:
    for path in paths:
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.suffix in (".json", ".jsonl") and child.is_file():
                    yield from _load_file(child)
        else:
            yield from _load_file(path)


def _load_file(path: Path) -> Iterator[tuple[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                yield f"{path.name}:{n}", _parse(line, f"{path}:{n}")
        return
    yield path.name, _parse(text, str(path))


def _parse(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        return {"_error": f"{where}: not JSON ({exc})"}


def _print(rows: list[Row], *, as_json: bool, many: bool) -> None:
    if as_json:
        if many:
            for row in rows:
                typer.echo(json.dumps(row.as_json()))
        else:
            typer.echo(json.dumps(rows[0].as_json(), indent=2))
        return
    if not many:
        row = rows[0]
        fields = [
            ("route", row.route or "-"), ("rule", row.rule or "-"),
            ("tokens", row.token_count), ("session", row.session_id or "-"),
            ("project", row.project or "-"),
        ]
        if row.script_ms is not None:
            fields.append(("script", f"{row.script_ms:.2f} ms"))
        if row.script_error:
            fields.append(("script error", row.script_error))
        if row.script_output:
            fields.append(("script print", row.script_output.rstrip()))
        for key, value in (("error", row.error), ("skipped", row.skipped)):
            if value:
                fields.append((key, value))
        for key, value in fields:
            typer.echo(f"{key + ':':<14}{value}")
        return
    width = max(len(r.source) for r in rows)
    for r in rows:
        status = r.error or r.script_error or r.skipped or ""
        typer.echo(f"{r.source:<{width}}  {r.rule or '-':<12} {r.route or '-':<32} "
                   f"{r.token_count if r.token_count is not None else '-':>7}  {status}")
    typer.echo("")
    counts = Counter((r.route or "(error)") for r in rows if not r.skipped)
    for name, count in counts.most_common():
        typer.echo(f"{count:>6}  {name}")
