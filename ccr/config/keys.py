"""Named client keys and the admin key.

Beside the single ``APIKEY``, a team gives each client its own key::

    "APIKEYS": [
      {"name": "alice", "key": "$ALICE_KEY", "RATE_LIMIT": "60/min",
       "MAX_CONCURRENT_REQUESTS": 4, "budget": {"period": "day", "usd": 20},
       "Router": {"default": "deepseek,deepseek-chat"}}
    ],
    "ADMIN_KEY": "$CCR_ADMIN_KEY",
    "METRICS": {"require_admin": true}

The name (never the key) goes to logs, the ledger, metrics and router scripts. ``RATE_LIMIT``
and ``MAX_CONCURRENT_REQUESTS`` at the top level apply to each client without its own. The
admin key guards status details, other clients' sessions and, when ``METRICS.require_admin``
is set, ``/metrics``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_RATE = re.compile(r"\s*(\d+)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*\Z", re.IGNORECASE)
_UNIT_S = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600,
           "hour": 3600}
_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}\Z")


@dataclass(frozen=True)
class RateLimit:
    requests: int
    window_s: int


@dataclass(frozen=True)
class Limits:
    rate: RateLimit | None = None
    max_concurrent: int | None = None


@dataclass(frozen=True)
class ClientKey:
    name: str
    key: str = field(repr=False)
    limits: Limits = Limits()
    #: The client's own Router section (whole slots replace the global ones), or None.
    router: dict[str, Any] | None = None


@dataclass(frozen=True)
class KeySettings:
    clients: tuple[ClientKey, ...] = ()
    admin_key: str | None = field(default=None, repr=False)
    #: Limits for a client without its own (and for the single APIKEY).
    default_limits: Limits = Limits()
    metrics_require_admin: bool = False
    metrics_enabled: bool = True

    def client(self, name: str | None) -> ClientKey | None:
        for client in self.clients:
            if client.name == name:
                return client
        return None

    def limits_for(self, name: str | None) -> Limits:
        client = self.client(name)
        if client is None:
            return self.default_limits
        own = client.limits
        return Limits(own.rate or self.default_limits.rate,
                      own.max_concurrent or self.default_limits.max_concurrent)


def key_settings(raw: Mapping[str, Any]) -> KeySettings:
    return _parse(raw)[0]


def key_problems(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    return _parse(raw)[1]


def _rate(value: Any, path: str, problems: list[tuple[str, str]]) -> RateLimit | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return RateLimit(value, 60)
    if isinstance(value, str):
        match = _RATE.match(value)
        if match and int(match.group(1)) > 0:
            return RateLimit(int(match.group(1)), _UNIT_S[match.group(2).lower()])
    problems.append((path, 'expected requests per minute (60) or "N/s", "N/min", "N/hour"'))
    return None


def _limits(entry: Mapping[str, Any], path: str, problems: list[tuple[str, str]]) -> Limits:
    prefix = f"{path}." if path else ""
    rate = _rate(entry.get("RATE_LIMIT"), f"{prefix}RATE_LIMIT", problems)
    concurrent = entry.get("MAX_CONCURRENT_REQUESTS")
    if concurrent is not None and (isinstance(concurrent, bool) or not isinstance(concurrent, int)
                                   or concurrent < 1):
        problems.append((f"{prefix}MAX_CONCURRENT_REQUESTS", "expected a positive integer"))
        concurrent = None
    return Limits(rate, concurrent)


def _parse(raw: Mapping[str, Any]) -> tuple[KeySettings, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    clients: list[ClientKey] = []
    section = raw.get("APIKEYS")
    if section is not None and not isinstance(section, list):
        problems.append(("APIKEYS", 'expected a list like [{"name": "alice", "key": '
                         '"$ALICE_KEY"}]'))
    seen_names: set[str] = set()
    seen_keys: set[str] = set()
    single = raw.get("APIKEY")
    if isinstance(single, str) and single:
        seen_keys.add(single)
    admin = raw.get("ADMIN_KEY")
    if admin is not None and (not isinstance(admin, str) or not admin.strip()):
        problems.append(("ADMIN_KEY", "expected a non-empty string (a secret)"))
        admin = None
    for i, entry in enumerate(section if isinstance(section, list) else []):
        path = f"APIKEYS[{i}]"
        if not isinstance(entry, Mapping):
            problems.append((path, 'expected an object like {"name": "alice", "key": "..."}'))
            continue
        name, key = entry.get("name"), entry.get("key")
        ok = True
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append((f"{path}.name", "expected a short name (letters, digits, . _ - @)"))
            ok = False
        elif name in seen_names:
            problems.append((f"{path}.name", f"duplicate client name {name!r}"))
            ok = False
        if not isinstance(key, str) or len(key) < 8:
            problems.append((f"{path}.key", "expected a secret of at least 8 characters "
                             "(use $VAR to read it from the environment)"))
            ok = False
        elif key in seen_keys or key == admin:
            problems.append((f"{path}.key", "the same key is used twice; give each client (and "
                             "the admin) its own"))
            ok = False
        router = entry.get("Router")
        if router is not None and not isinstance(router, Mapping):
            problems.append((f"{path}.Router", 'expected an object like {"default": '
                             '"provider,model"}'))
            ok = False
        limits = _limits(entry, path, problems)
        if ok:
            assert isinstance(name, str) and isinstance(key, str)
            seen_names.add(name)
            seen_keys.add(key)
            clients.append(ClientKey(name, key, limits,
                                     dict(router) if isinstance(router, Mapping) else None))
    queue = raw.get("QUEUE_TIMEOUT_MS")
    if queue is not None and (isinstance(queue, bool) or not isinstance(queue, int | float)
                              or queue < 0):
        problems.append(("QUEUE_TIMEOUT_MS", "expected milliseconds a request may wait for a "
                         "MAX_CONCURRENT_REQUESTS slot (e.g. 30000)"))
    metrics = raw.get("METRICS")
    require_admin, enabled = False, True
    if metrics is not None:
        if not isinstance(metrics, Mapping):
            problems.append(("METRICS", 'expected an object like {"require_admin": true}'))
        else:
            require_admin = metrics.get("require_admin", False) is True
            enabled = metrics.get("enabled", True) is not False
            if require_admin and not admin:
                problems.append(("METRICS.require_admin", "needs ADMIN_KEY to be set"))
    return KeySettings(tuple(clients), admin if isinstance(admin, str) else None,
                       _limits(raw, "", problems), require_admin, enabled), problems
