"""``ccr route --dry-run``: what the server would route a request to, without calling upstream.

The command's work, without typer: :mod:`ccr.cli.route` declares its options for typer, and
:mod:`ccr.cli.route_fast` parses them by hand for the entry point; both call :func:`run`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccr.cli.echo import echo
from ccr.cli.route_output import print_rows
from ccr.config import ccr_home, load_config
from ccr.context.records import is_record, record_files, replay_body
from ccr.errors import ApiError, ConfigError


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
    #: Rules that named a route that is not configured (a stale project override).
    warnings: list[str] = field(default_factory=list)
    #: ``--explain``: the script's result and every rule's verdict.
    explanation: dict[str, Any] | None = None
    #: A replayed record: what the server decided then, and what the request used.
    recorded: Recorded | None = None
    #: The routes the server would try, in order, when the route fails before answering.
    fallback: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.recorded is not None and self.recorded.route != self.route

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source, "route": self.route, "rule": self.rule,
            "token_count": self.token_count, "session_id": self.session_id,
            "project": self.project, "error": self.error or self.script_error,
            "request_error": self.error, "script_error": self.script_error,
            "script_ms": self.script_ms, "elapsed_ms": self.elapsed_ms,
            "skipped": self.skipped, "script_output": self.script_output,
            "warnings": self.warnings, "fallback": self.fallback,
        }
        if self.explanation is not None:
            out["explain"] = self.explanation
        if self.recorded is not None:
            out.update(recorded_route=self.recorded.route, recorded_rule=self.recorded.rule,
                       recorded_time=self.recorded.time, changed=self.changed)
        return out


@dataclass(frozen=True)
class Recorded:
    """What a record says happened to its request on the server."""

    route: str | None
    rule: str | None
    time: str
    usage: dict[str, Any]


class _Skipped(Exception):
    """A recorded request that is not a Messages call (e.g. Claude Code's ``HEAD /``)."""


class _UsageError(Exception):
    """Ends the command with status 2 and this message on stderr."""


@dataclass(frozen=True)
class RouteArgs:
    """``ccr route``'s command line, parsed by typer or by :mod:`ccr.cli.route_fast`."""

    requests: tuple[Path, ...]
    dry_run: bool = True
    config: Path | None = None
    as_json: bool = False
    session_id: str | None = None
    headers: tuple[str, ...] = ()
    session_input: int | None = None
    strict: bool = False
    now: str | None = None
    explain: bool = False
    against: Path | None = None
    script: Path | None = None


def run(args: RouteArgs) -> int:
    """Route the requests and print the result; the exit status: 0 when every request was
    routed, 1 when one could not be (or, with ``--strict``, a router script failed), 2 for a
    usage or configuration error."""
    try:
        return _run(args)
    except _UsageError as exc:
        echo(str(exc), err=True)
        return 2


def _run(args: RouteArgs) -> int:
    if not args.dry_run:
        raise _UsageError("ccr route only supports --dry-run")
    at = _parse_now(args.now) if args.now is not None else None
    try:
        base = load_config(args.config)
        cfg = load_config(args.against) if args.against is not None else base
    except ConfigError as exc:
        raise _UsageError(f"ccr: invalid configuration\n{exc}") from None
    if args.script is not None:
        cfg = dataclasses.replace(cfg, custom_router_path=str(args.script.resolve()))
    extra: dict[str, str] = {}
    for item in args.headers:
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            raise _UsageError(f"ccr: --header needs K:V, got {item!r}")
        extra[key.strip()] = value.strip()
    requests = list(args.requests)
    items = list(_load_requests(requests))
    options = _Options(extra, args.session_id, args.session_input, at, args.explain)
    rows, load_error = asyncio.run(_route_all(cfg, items, options))
    prices = _prices(cfg, base)
    print_rows(rows, as_json=args.as_json,
               many=len(items) != 1 or any(p.is_dir() for p in requests),
               load_error=load_error, prices=prices)
    if any(r.error for r in rows) or (args.strict and any(r.script_error for r in rows)):
        return 1
    return 0


@dataclass(frozen=True)
class _Options:
    extra_headers: dict[str, str]
    session_id: str | None
    session_input: int | None
    now: datetime.datetime | None
    explain: bool


def _parse_now(text: str) -> datetime.datetime:
    """``--now``: ISO 8601, with or without an offset (without: this machine's local time)."""
    try:
        at = datetime.datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise _UsageError(f"ccr: --now needs a time like 2026-12-06T23:30 or "
                          f"2026-12-06T23:30+09:00, got {text!r}") from None
    return at if at.tzinfo is not None else at.astimezone()


def _prices(routing: Any, base: Any) -> Any:
    """The price table for the replay's cost estimate: ``PRICES`` (and the older
    ``StatusLine.prices``) of the config that routes, else of ``--config``."""
    table = routing.gateway.prices
    return table if len(table) or routing is base else base.gateway.prices


@contextmanager
def _quiet_logs() -> Iterator[None]:
    """The dry run reports problems in its own output (a load error once, warnings per row);
    the server's log lines would repeat them."""
    logger = logging.getLogger("ccr")
    handler = logging.NullHandler()
    propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


async def _route_all(cfg: Any, items: list[tuple[str, Any]],
                     options: _Options) -> tuple[list[Row], str | None]:
    """Route every request through the same engine the server runs, without an upstream;
    also the router script's load error, if any."""
    from ccr.context.sessions import SessionUsage
    from ccr.context.stores import Stores
    from ccr.engine.engine import Engine

    try:
        engine = Engine.build(cfg, stores=Stores.for_home(ccr_home()))
    except ConfigError as exc:
        raise _UsageError(f"ccr: invalid configuration\n{exc}") from None
    with _quiet_logs():
        await engine.start(upstream=False)
        load_error = engine.script.load_error if engine.script is not None else None
        usage = (SessionUsage(input_tokens=options.session_input, turns=1)
                 if options.session_input is not None else None)
        try:
            return [await _route_one(engine, source, item, options, usage)
                    for source, item in items], load_error
        finally:
            await engine.aclose()


async def _route_one(engine: Any, source: str, item: Any, options: _Options,
                     session_usage: Any) -> Row:
    from ccr.engine.request import ClientRequest
    from ccr.routing.rules import explain

    started = time.perf_counter()
    row = Row(source, None, None, None, None, None, None, None, None, 0.0)
    try:
        body, headers = _split_request(item)
        now, session_id = options.now, options.session_id
        if is_record(item):
            row.recorded = _recorded(item)
            now = now or datetime.datetime.fromisoformat(row.recorded.time)
            session_id = session_id or item.get("session_id")
        decision = await engine.route(ClientRequest(
            body, {**headers, **options.extra_headers}, session_id=session_id,
            session_usage=session_usage, now=now,
        ))
        ctx = decision.ctx
        row.token_count, row.session_id, row.project = (ctx.token_count, ctx.session_id,
                                                        ctx.project)
        row.route, row.rule = decision.route.name, decision.rule
        row.script_error, row.script_ms = decision.script_error, decision.script_ms
        row.script_output, row.warnings = decision.script_output, list(decision.warnings)
        row.fallback = [r for r in engine.fallback_for(decision) if r != row.route]
        if options.explain:
            row.explanation = {
                "script": _script_part(engine, decision),
                "rules": [v.as_json() for v in explain(ctx, engine.config)],
                "decided_by": decision.rule,
                "now": (ctx.now or datetime.datetime.now().astimezone()).isoformat(),
            }
        if row.recorded is not None and ctx.session_id and row.recorded.usage:
            # the next turn of this session sees this one's usage, as on the server
            engine.stores.sessions.record(ctx.session_id, row.recorded.usage, row.route)
    except _Skipped as exc:
        row.skipped = str(exc)
    except (ApiError, ValueError) as exc:
        row.error = exc.message if isinstance(exc, ApiError) else str(exc)
    row.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    if row.script_ms is not None:
        row.script_ms = round(row.script_ms, 3)
    return row


def _script_part(engine: Any, decision: Any) -> dict[str, Any] | None:
    """The router script's part of an explanation: what it returned, printed and took."""
    if engine.script is None:
        return None
    return {
        "path": str(engine.script.path),
        "returned": decision.route.name if decision.rule == "custom" else None,
        "error": decision.script_error,
        "output": decision.script_output,
        "ms": None if decision.script_ms is None else round(decision.script_ms, 3),
    }


def _recorded(item: dict[str, Any]) -> Recorded:
    decision = item.get("decision") or {}
    outcome = item.get("outcome") or {}
    usage = outcome.get("usage") if isinstance(outcome, dict) else None
    return Recorded(
        route=decision.get("route"), rule=decision.get("rule"), time=item["time"],
        usage=usage if isinstance(usage, dict) else {},
    )


def _split_request(item: Any) -> tuple[dict[str, Any], dict[str, str]]:
    if not isinstance(item, dict):
        raise ValueError("a request must be a JSON object")
    if "_error" in item and len(item) == 1:
        raise ValueError(item["_error"])
    if is_record(item):
        body, headers = replay_body(item), item.get("headers") or {}
        if not isinstance(body.get("messages"), list):
            raise ValueError("not an Anthropic Messages request (no messages list)")
        return body, {str(k): str(v) for k, v in headers.items()}
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
            # a records folder in the order the records were written, else by name
            children = record_files(path) or sorted(path.iterdir())
            for child in children:
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
