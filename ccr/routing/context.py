"""What routing knows about one request, computed once by the server (or by ``ccr route``)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ccr.config.model import Provider, RouterConfig


@dataclass
class RequestContext:
    body: dict[str, Any]
    #: Lower-cased header names, credentials removed.
    headers: Mapping[str, str]
    token_count: int
    router: RouterConfig
    session_id: str | None = None
    #: The session's last-turn usage (``SessionUsage``) or None.
    session_usage: Any = None
    project: str | None = None
    #: The time a router script sees as ``req.now``; None means the current time.
    now: datetime.datetime | None = None
    #: Filled by rules that learn something on the way (e.g. the subagent tag they removed).
    notes: dict[str, Any] = field(default_factory=dict)
    #: The client key's name, when named keys are configured.
    client: str | None = None
    #: USD spent so far: session, project_today, client_today, router_today.
    spend: dict[str, float] | None = None


@dataclass(frozen=True)
class Route:
    """The decision: where the request goes and which rule chose it."""

    provider: Provider
    model: str
    rule: str

    @property
    def name(self) -> str:
        return f"{self.provider.name},{self.model}"


_CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "cookie", "proxy-authorization"})


def public_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased headers without credentials: what logs and user scripts may see."""
    return {k.lower(): v for k, v in headers.items() if k.lower() not in _CREDENTIAL_HEADERS}
