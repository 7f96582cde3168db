"""What a caller hands the engine: the client's request as received, before any routing."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ClientRequest:
    """One Messages request; the server, ``ccr route`` and the benchmarks build the same thing."""

    body: dict[str, Any]
    #: As received; credentials are stripped before scripts or logs see them.
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Route as this session (dry runs); otherwise read from the headers or the body.
    session_id: str | None = None
    #: The client key's name, when the server knows it.
    client: str | None = None
    #: Pretend the session's last turn looked like this (dry runs: ``--session-input``), or the
    #: usage shared between instances through the state store.
    session_usage: Any = None
    #: The client's own Router section (a team's routes), merged over the global one.
    router: dict[str, Any] | None = None
    #: What was spent so far (``req.spend`` for router scripts): session, project/client/router
    #: today, in USD.
    spend: dict[str, float] | None = None
    #: The time the router script sees as ``req.now`` (dry runs: ``--now``, replays: the
    #: recorded time); None means now.
    now: datetime.datetime | None = None
