"""``STATE``: where ccr keeps what several processes must agree on.

``"STATE": {"url": "redis://host:6379/0", "fail": "open"}`` shares state between instances;
``"sqlite:///path/state.db"`` between worker processes on one machine; ``"memory"`` keeps it in
the process. Without ``STATE`` the store is memory for one process and SQLite under
``CCR_HOME`` for ``--workers`` > 1. ``fail`` says what to do while Redis (or the SQLite file) is
unreachable: ``"open"`` serves with local state, ``"closed"`` refuses requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from ccr.config.redact import redact_text

Kind = Literal["memory", "sqlite", "redis"]
FAIL_MODES = ("open", "closed")
STATE_FILE = "state.db"


@dataclass(frozen=True)
class StateSettings:
    #: None means "choose by worker count" (memory for one, SQLite for several).
    kind: Kind | None = None
    #: The Redis URL (secret: it may hold a password), or the SQLite file path as written.
    url: str | None = None
    fail_closed: bool = False
    prefix: str = "ccr:"

    def sqlite_path(self, home: Path) -> Path:
        """The SQLite file: ``sqlite:///abs/path``, ``sqlite://rel`` (under ``home``)."""
        written = (self.url or "").partition("://")[2] if self.url else ""
        if not written:
            return home / STATE_FILE
        path = Path(written).expanduser()
        return path if path.is_absolute() else home / path


def state_problems(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every problem with ``STATE``, as ``(key path, message)``; none when it is absent."""
    _, problems = _parse(raw.get("STATE"))
    return problems


def state_settings(raw: Mapping[str, Any]) -> StateSettings:
    """The validated settings (call after :func:`state_problems` found nothing)."""
    settings, _ = _parse(raw.get("STATE"))
    return settings


def _parse(value: Any) -> tuple[StateSettings, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    if value is None:
        return StateSettings(), problems
    if isinstance(value, str):
        value = {"url": value}
    if not isinstance(value, dict):
        problems.append(("STATE", 'expected an object like {"url": "redis://127.0.0.1:6379/0"},'
                         f" got {type(value).__name__}"))
        return StateSettings(), problems
    kind: Kind | None = None
    url = value.get("url")
    if url is not None and (not isinstance(url, str) or not url.strip()):
        problems.append(("STATE.url", "expected a URL string: redis://host:port/db, "
                         "sqlite:///path/state.db or memory"))
        url = None
    elif isinstance(url, str):
        url = url.strip()
        scheme = urlsplit(url).scheme.lower() if "://" in url else url.lower()
        if scheme in ("redis", "rediss", "unix"):
            kind = "redis"
        elif scheme == "sqlite":
            kind = "sqlite"
        elif scheme == "memory":
            kind = "memory"
        else:
            problems.append(("STATE.url", f"{redact_text(url)[:80]!r} is not a state store URL "
                             "(redis://host:port/db, sqlite:///path/state.db or memory)"))
    fail = value.get("fail", "open")
    if not isinstance(fail, str) or fail.strip().lower() not in FAIL_MODES:
        problems.append(("STATE.fail", 'expected "open" (serve with local state while the '
                         'store is down) or "closed" (refuse requests)'))
        fail = "open"
    prefix = value.get("prefix", "ccr:")
    if not isinstance(prefix, str):
        problems.append(("STATE.prefix", "expected a string (the Redis key prefix)"))
        prefix = "ccr:"
    settings = StateSettings(kind=kind, url=url if kind in ("redis", "sqlite") else None,
                             fail_closed=fail.strip().lower() == "closed", prefix=prefix)
    return settings, problems
