"""The web console's HTTP side: its static files and JSON API under ``/ui``.

Who may call it is :mod:`ccr.server.console_guard`'s job; the rules behind each endpoint live in
:mod:`ccr.ui`. No answer carries a provider key, every write is checked by the config loader
first and is atomic with a backup, and the only log file read is ``<CCR_HOME>/logs/ccr.log``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sanic import Blueprint, HTTPResponse, Request
from sanic.response import json as json_response
from sanic.response import raw, redirect

from ccr.config import is_secret_key
from ccr.errors import ApiError
from ccr.server.console_guard import (
    COOKIE,
    PREFIX,
    SECURITY_HEADERS,
    SESSION_IDLE_S,
    Sessions,
    guard,
    refuse,
    token_id,
)
from ccr.ui import STATIC_DIR, edits, overrides, records, requestlog, tryit
from ccr.ui import configfile as cfgfile
from ccr.ui.masking import PlaceholderError, scrub, secret_values
from ccr.ui.overview import overview
from ccr.ui.token import token_matches
from ccr.ui.usage import usage as usage_summary

log = logging.getLogger("ccr")

#: How long a save waits for the server to reload the file (it checks once a second).
RELOAD_WAIT_S = 5.0
#: The most request lines one poll of the live tail returns.
MAX_TAIL_ROWS = 500
#: The files served, by suffix (anything else under ``static/`` is not).
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
          ".ico": "image/x-icon"}


def _static_files() -> dict[str, tuple[bytes, str]]:
    """Every file shipped under ``static/`` by its relative name: the only files served."""
    files = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file() and path.suffix in _TYPES:
            files[path.relative_to(STATIC_DIR).as_posix()] = (path.read_bytes(),
                                                                _TYPES[path.suffix])
    return files


def _state(request: Request) -> Any:
    return request.app.ctx.state


def _config_path(state: Any) -> Path:
    path = state.config.path
    return Path(path) if path else state.home / "config.json"


def _json(request: Request) -> dict[str, Any]:
    try:
        data = request.json
    except Exception:
        data = None
    if not isinstance(data, dict):
        raise ApiError("the request body must be a JSON object", 400)
    return data


class Console:
    """One app's console: its sessions, its static files, and a lock so writes never
    interleave."""

    def __init__(self) -> None:
        self.sessions = Sessions()
        self.write_lock = asyncio.Lock()
        self.static = _static_files()


def console_blueprint() -> Blueprint:
    """A fresh console for one app (tests build many apps in one process)."""
    bp = Blueprint(f"ccr_console_{secrets.token_hex(4)}", url_prefix=PREFIX)
    console = Console()

    # -- the guard ---------------------------------------------------------------------------

    @bp.on_request
    async def _guard(request: Request) -> HTTPResponse | None:
        return await guard(request, console.sessions)

    @bp.on_response
    async def _headers(request: Request, response: HTTPResponse) -> None:
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)

    # -- static files ------------------------------------------------------------------------

    @bp.get("", name="root", strict_slashes=True)
    async def _root(request: Request) -> HTTPResponse:
        return redirect(f"{PREFIX}/")

    @bp.get("/", name="index", strict_slashes=True)
    async def _index(request: Request) -> HTTPResponse:
        return _static("index.html")

    @bp.get("/static/<name:path>", name="static")
    async def _static_file(request: Request, name: str) -> HTTPResponse:
        return _static(name)

    def _static(name: str) -> HTTPResponse:
        found = console.static.get(name)
        if found is None:
            return refuse(404, "not found")
        body, content_type = found
        return raw(body, content_type=content_type, headers={"cache-control": "no-cache"})

    # -- session -----------------------------------------------------------------------------

    @bp.post("/api/login", name="login")
    async def _login(request: Request) -> HTTPResponse:
        state = _state(request)
        if "application/json" not in request.headers.get("content-type", ""):
            return refuse(415, "send the token as JSON")
        given = _json(request).get("token")
        token = await asyncio.to_thread(console.sessions.token, state.home)
        if not isinstance(given, str) or not token_matches(given.strip(), token):
            await asyncio.sleep(0.2)  # no fast guessing (the token has 256 bits anyway)
            return refuse(401, "wrong admin token (`ccr ui` prints the right one)")
        sid, session = console.sessions.login(token_id(token))
        response = json_response({"csrf": session.csrf}, headers=SECURITY_HEADERS)
        response.add_cookie(COOKIE, sid, path=PREFIX, httponly=True, samesite="Strict",
                            secure=request.scheme == "https", max_age=SESSION_IDLE_S)
        return response

    @bp.post("/api/logout", name="logout")
    async def _logout(request: Request) -> HTTPResponse:
        console.sessions.sessions.pop(request.cookies.get(COOKIE) or "", None)
        response = json_response({"ok": True})
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    @bp.get("/api/session", name="session")
    async def _session(request: Request) -> HTTPResponse:
        session = getattr(request.ctx, "console_session", None)
        return json_response({"csrf": session.csrf if session else None})

    # -- overview ----------------------------------------------------------------------------

    @bp.get("/api/overview", name="overview")
    async def _overview(request: Request) -> HTTPResponse:
        state = _state(request)
        data = await asyncio.to_thread(_readable_data, _config_path(state))
        return json_response(overview(state, secret_values(data)))

    # -- providers and routes ----------------------------------------------------------------

    @bp.get("/api/providers", name="providers")
    async def _providers(request: Request) -> HTTPResponse:
        state = _state(request)
        path = _config_path(state)
        data = await asyncio.to_thread(_readable_data, path)
        from ccr.transformers.registry import names

        return json_response({"config": str(path), "providers": edits.providers_view(data),
                              "routes": edits.routes_of(data), "transformers": names()})

    @bp.post("/api/providers", name="provider_add")
    async def _provider_add(request: Request) -> HTTPResponse:
        form = _json(request)
        return await _edit(request, lambda data: edits.upsert_provider(data, form, original=None),
                           f"provider {str(form.get('name', '')).strip()} added")

    @bp.put("/api/providers/<name>", name="provider_edit")
    async def _provider_edit(request: Request, name: str) -> HTTPResponse:
        form = _json(request)
        return await _edit(request, lambda data: edits.upsert_provider(data, form, original=name),
                           f"provider {name} saved")

    @bp.delete("/api/providers/<name>", name="provider_remove")
    async def _provider_remove(request: Request, name: str) -> HTTPResponse:
        return await _edit(request, lambda data: edits.remove_provider(data, name),
                           f"provider {name} removed")

    @bp.get("/api/routes", name="routes")
    async def _routes(request: Request) -> HTTPResponse:
        state = _state(request)
        data = await asyncio.to_thread(_readable_data, _config_path(state))
        return json_response({
            "router": edits.router_view(data),
            "routes": edits.routes_of(data),
            "fallback": edits.fallback_view(data),
            "fallback_keys": edits.FALLBACK_KEYS,
            "overrides": await asyncio.to_thread(overrides.list_overrides, state.home,
                                                 state.config),
        })

    @bp.post("/api/routes/check", name="routes_check")
    async def _routes_check(request: Request) -> HTTPResponse:
        form = _json(request)
        path = _config_path(_state(request))

        def check() -> dict[str, Any]:
            data = cfgfile.editable_data(path)
            try:
                _apply_routes(data, form)
            except edits.EditError as exc:
                return {"ok": False, "message": str(exc),
                        "problems": [{"path": "", "message": str(exc)}]}
            try:
                cfgfile.check_data(data, path, secret_values(data))
            except cfgfile.SaveRefused as exc:
                return {"ok": False, "message": exc.message, "problems": exc.problems}
            return {"ok": True, "problems": []}

        try:
            return json_response(await asyncio.to_thread(check))
        except cfgfile.SaveRefused as exc:
            return refuse(exc.status, exc.message, problems=exc.problems)

    @bp.put("/api/routes", name="routes_save")
    async def _routes_save(request: Request) -> HTTPResponse:
        form = _json(request)
        return await _edit(request, lambda data: _apply_routes(data, form), "routes saved")

    @bp.post("/api/overrides/check", name="overrides_check")
    async def _overrides_check(request: Request) -> HTTPResponse:
        form = _json(request)
        path = _config_path(_state(request))

        def check() -> dict[str, Any]:
            try:
                overrides.check_override(path, overrides.clean_router(form.get("Router")))
            except cfgfile.SaveRefused as exc:
                return {"ok": False, "message": exc.message, "problems": exc.problems}
            return {"ok": True, "problems": []}

        return json_response(await asyncio.to_thread(check))

    @bp.put("/api/overrides", name="overrides_save")
    async def _overrides_save(request: Request) -> HTTPResponse:
        form = _json(request)
        state = _state(request)
        return await _write(request, lambda: overrides.save_override(
            state.home, _config_path(state), form.get("project"), form.get("session"),
            form.get("Router")), "override saved (it applies within a few seconds)",
            reload=False)

    @bp.post("/api/overrides/remove", name="overrides_remove")
    async def _overrides_remove(request: Request) -> HTTPResponse:
        form = _json(request)
        state = _state(request)
        return await _write(request, lambda: overrides.remove_override(
            state.home, form.get("project"), form.get("session")), "override removed",
            reload=False)

    async def _edit(request: Request, change: Callable[[dict[str, Any]], object],
                    what: str) -> HTTPResponse:
        path = _config_path(_state(request))

        def apply() -> dict[str, Any]:
            data = cfgfile.editable_data(path)
            try:
                change(data)
            except edits.EditError as exc:
                raise cfgfile.SaveRefused(str(exc), [{"path": "", "message": str(exc)}]) from None
            return cfgfile.save_data(path, data)

        return await _write(request, apply, what)

    async def _write(request: Request, apply: Callable[[], dict[str, Any]],
                     what: str, *, reload: bool = True) -> HTTPResponse:
        """Run one write under the lock, then have the server reload and report the result."""
        async with console.write_lock:
            state = _state(request)
            before = (state.engine, state.reload_error)
            try:
                result = await asyncio.to_thread(apply)
            except cfgfile.SaveRefused as exc:
                return refuse(exc.status, exc.message, problems=exc.problems)
            result["message"] = what
            if reload:
                result["reload"] = await _reload(request, before)
        log.info("console: %s", what)
        return json_response(result)

    # -- the config file ---------------------------------------------------------------------

    @bp.get("/api/config", name="config")
    async def _config(request: Request) -> HTTPResponse:
        path = _config_path(_state(request))

        def read() -> dict[str, Any]:
            disk = cfgfile.read_disk(path)
            masked = disk.masked()
            return {"path": str(path), "exists": disk.raw is not None, "text": masked.text,
                    "version": masked.version, "backups": cfgfile.backups(path)}

        try:
            return json_response(await asyncio.to_thread(read))
        except PlaceholderError as exc:
            return refuse(409, str(exc))

    @bp.post("/api/config/check", name="config_check")
    async def _config_check(request: Request) -> HTTPResponse:
        form = _json(request)
        path = _config_path(_state(request))
        text, version = _text_form(form)
        return json_response(await asyncio.to_thread(cfgfile.check_text, path, text, version))

    @bp.put("/api/config", name="config_save")
    async def _config_save(request: Request) -> HTTPResponse:
        form = _json(request)
        path = _config_path(_state(request))
        text, version = _text_form(form)
        return await _write(request, lambda: cfgfile.save_text(path, text, version),
                            "config file saved")

    @bp.get("/api/config/backups/<name>", name="backup")
    async def _backup(request: Request, name: str) -> HTTPResponse:
        path = _config_path(_state(request))
        try:
            return json_response(await asyncio.to_thread(cfgfile.backup_text, path, name))
        except cfgfile.SaveRefused as exc:
            return refuse(exc.status, exc.message)

    @bp.post("/api/config/restore", name="restore")
    async def _restore(request: Request) -> HTTPResponse:
        name = str(_json(request).get("name") or "")
        path = _config_path(_state(request))
        return await _write(request, lambda: cfgfile.restore_backup(path, name),
                            f"backup {name} restored")

    # -- the router script -------------------------------------------------------------------

    @bp.get("/api/script", name="script")
    async def _script(request: Request) -> HTTPResponse:
        state = _state(request)
        path = state.config.custom_router_path
        text = None
        if path:
            try:
                text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = None
        script = state.engine.script
        return json_response({
            "path": path, "text": text,
            "load_error": getattr(script, "load_error", None),
            "samples": tryit.SAMPLES,
        })

    @bp.put("/api/script", name="script_save")
    async def _script_save(request: Request) -> HTTPResponse:
        state = _state(request)
        text = _json(request).get("text")
        path = state.config.custom_router_path
        if not path:
            return refuse(400, "no CUSTOM_ROUTER_PATH in the config: add it on the Config file "
                           "page (e.g. \"CUSTOM_ROUTER_PATH\": \"custom_router.py\") first")
        if not isinstance(text, str) or not text.strip():
            return refuse(400, "the script is empty")
        problem = await tryit.load_problem(text)
        if problem:
            return refuse(400, f"not saved: {problem}", problems=[{"path": "", "message":
                                                                    problem}])
        from ccr.config import write_text_atomic

        async with console.write_lock:
            backup = await asyncio.to_thread(write_text_atomic, path, text)
        log.info("console: router script saved")
        return json_response({"saved": path, "backup": backup.name if backup else None,
                              "message": "router script saved; the server loads it on the "
                              "next request"})

    @bp.get("/api/records", name="records")
    async def _records(request: Request) -> HTTPResponse:
        home = _state(request).home
        return json_response({"records": await asyncio.to_thread(records.recent, home)})

    @bp.get("/api/records/<ref>", name="record")
    async def _record(request: Request, ref: str) -> HTTPResponse:
        try:
            found = await asyncio.to_thread(records.load, _state(request).home, unquote(ref))
        except records.RecordError as exc:
            return refuse(404, str(exc))
        found["headers"] = {k: v for k, v in found["headers"].items()
                            if isinstance(v, str) and not is_secret_key(k)}
        return json_response(found)

    @bp.post("/api/script/try", name="script_try")
    async def _script_try(request: Request) -> HTTPResponse:
        form = _json(request)
        state = _state(request)
        session_input = form.get("session_input")
        if not (isinstance(session_input, int) and not isinstance(session_input, bool)
                and session_input >= 0):
            session_input = None
        draft = form.get("draft")
        result = await tryit.dry_run(
            state.engine, form.get("request"), session_id=str(form.get("session_id") or "") or None,
            session_input=session_input, draft=draft if isinstance(draft, str) else None)
        return json_response(result)

    # -- requests and usage ------------------------------------------------------------------

    @bp.get("/api/requests", name="requests")
    async def _requests(request: Request) -> HTTPResponse:
        state = _state(request)
        args = request.args
        filters = requestlog.Filters(
            session=args.get("session", "").strip(), route=args.get("route", "").strip(),
            status=args.get("status", "").strip(), client=args.get("client", "").strip())
        try:
            limit = max(1, min(int(args.get("limit", "100")), MAX_TAIL_ROWS))
        except ValueError:
            limit = 100
        path = requestlog.log_file(state.home)
        cursor = requestlog.Cursor.decode(args.get("cursor"))
        if cursor is None:
            rows, after = await asyncio.to_thread(requestlog.tail, path, limit, filters.match)
        else:
            rows, after = await asyncio.to_thread(requestlog.read_since, path, cursor,
                                                  filters.match)
            rows = rows[-limit:]
        return json_response({
            "rows": rows, "cursor": after.encode() if after else None, "file": str(path),
            "logging": bool(state.config.log),
        })

    @bp.get("/api/usage", name="usage")
    async def _usage(request: Request) -> HTTPResponse:
        state = _state(request)
        return json_response(await usage_summary(request.app.ctx, state,
                                                 requestlog.log_file(state.home)))

    return bp


def _text_form(form: dict[str, Any]) -> tuple[str, str | None]:
    text = form.get("text")
    if not isinstance(text, str):
        raise ApiError("text: the config text is required", 400)
    version = form.get("version")
    return text, version if isinstance(version, str) else None


def _apply_routes(data: dict[str, Any], form: dict[str, Any]) -> None:
    """The Routes page's form: Router slots, and fallback lists when it sends them."""
    router = form.get("Router")
    edits.set_router(data, router if isinstance(router, dict) else {})
    fallback = form.get("fallback")
    if isinstance(fallback, dict):
        edits.set_fallback(data, fallback)


def _readable_data(path: Path) -> dict[str, Any]:
    """The config as written, or {} when it is missing or does not parse."""
    try:
        return cfgfile.editable_data(path)
    except cfgfile.SaveRefused:
        return {}


async def _reload(request: Request, before: tuple[Any, Any]) -> dict[str, Any]:
    """How the server took the saved file: the config watcher reloads it (as it does any edit of
    the file), and the answer waits for that instead of loading the file a second time."""
    state = _state(request)
    watcher = getattr(request.app.ctx, "watcher", None)
    if watcher is None:
        return {"ok": None, "error": None,
                "note": "this server does not watch its config file; restart it to apply"}
    engine_before, error_before = before
    deadline = time.monotonic() + RELOAD_WAIT_S
    while state.engine is engine_before and (state.reload_error is None
                                             or state.reload_error is error_before):
        if time.monotonic() > deadline:
            return {"ok": None, "error": None,
                    "note": "saved; the server has not reloaded it yet (see the Overview page)"}
        await asyncio.sleep(0.05)
    error = state.reload_error
    secrets_now = secret_values(cfgfile.read_disk(_config_path(state)).data)
    return {"ok": error is None, "error": scrub(error, secrets_now) if error else None,
            "reloads": state.reloads}


