"""Who may use the web console: loopback and ``Host`` checks, the admin token, console sessions
and their CSRF tokens, and the headers every console answer carries.

Without client keys the console answers only on loopback and only to a loopback ``Host`` (no
DNS rebinding). The admin token is not the clients' ``APIKEY``: logging in with it sets an
HttpOnly, SameSite=Strict cookie naming a server-side session, whose CSRF token every change
must send; a script may send the token as a Bearer header instead (no cookie, so no CSRF).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sanic import HTTPResponse, Request
from sanic.response import json as json_response

from ccr.errors import ApiError
from ccr.ui.overview import has_client_keys
from ccr.ui.token import ensure_token, token_matches

PREFIX = "/ui"
COOKIE = "ccr_console"
CSRF_HEADER = "x-csrf-token"
#: A console session ends after this long without a request.
SESSION_IDLE_S = 12 * 3600
MAX_SESSIONS = 64

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "cache-control": "no-store",
}
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class _Session:
    csrf: str
    token_id: str
    last_seen: float = field(default_factory=time.monotonic)


class Sessions:
    """Logged-in console sessions, kept in this process (a restart logs everyone out)."""

    def __init__(self) -> None:
        self.sessions: dict[str, _Session] = {}

    def token(self, home: Path) -> str:
        return ensure_token(home)

    def login(self, token_id: str) -> tuple[str, _Session]:
        self._expire()
        while len(self.sessions) >= MAX_SESSIONS:
            oldest = min(self.sessions, key=lambda sid: self.sessions[sid].last_seen)
            del self.sessions[oldest]
        sid = secrets.token_urlsafe(32)
        session = _Session(csrf=secrets.token_urlsafe(32), token_id=token_id)
        self.sessions[sid] = session
        return sid, session

    def session(self, sid: str | None, token_id: str) -> _Session | None:
        if not sid:
            return None
        session = self.sessions.get(sid)
        if session is None:
            return None
        if (time.monotonic() - session.last_seen > SESSION_IDLE_S
                or session.token_id != token_id):  # expired, or the token was rotated
            del self.sessions[sid]
            return None
        session.last_seen = time.monotonic()
        return session

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s for s, v in self.sessions.items() if now - v.last_seen > SESSION_IDLE_S]:
            del self.sessions[sid]


def is_console_path(path: str) -> bool:
    """``/ui`` and everything under ``/ui/``: the console checks its own admin token there."""
    return path == PREFIX or path.startswith(f"{PREFIX}/")


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _is_loopback_ip(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip.split("%")[0]).is_loopback
    except ValueError:
        return False


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def refuse(status: int, message: str, **extra: Any) -> HTTPResponse:
    body = ApiError(message, status).to_body()
    body.update(extra)
    return json_response(body, status=status, headers=SECURITY_HEADERS)


async def guard(request: Request, sessions: Sessions) -> HTTPResponse | None:
    """None when the request may go on, else the refusal to answer with."""
    state = request.app.ctx.state
    if not has_client_keys(state.config):
        if not _is_loopback_ip(request.ip or ""):
            return refuse(403, "the console answers only on loopback while the server has "
                           "no APIKEY; set APIKEY in the config to reach it from elsewhere")
        if _host_name(request.headers.get("host", "")) not in _LOOPBACK_NAMES:
            return refuse(403, "the console answers only to localhost, 127.0.0.1 or [::1] "
                           "while the server has no APIKEY")
    origin = request.headers.get("origin")
    if origin and request.method not in _SAFE_METHODS:
        expected = {f"http://{request.headers.get('host', '')}",
                    f"https://{request.headers.get('host', '')}"}
        if origin not in expected:
            return refuse(403, "cross-origin change refused")
    path = request.path
    if not path.startswith(f"{PREFIX}/api/") or path == f"{PREFIX}/api/login":
        return None
    token = await asyncio.to_thread(sessions.token, state.home)
    current = token_id(token)
    bearer = request.headers.get("authorization", "")
    if bearer[:7].lower() == "bearer ":
        if token_matches(bearer[7:].strip(), token):
            return None  # a script with the admin token: no cookie, so no CSRF to fear
        return refuse(401, "wrong admin token")
    session = sessions.session(request.cookies.get(COOKIE), current)
    if session is None:
        return refuse(401, "log in with the admin token (`ccr ui` prints it)")
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not token_matches(sent, session.csrf):
            return refuse(403, "missing or wrong CSRF token: reload the page")
    request.ctx.console_session = session
    return None
