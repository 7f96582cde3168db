"""Build the :class:`RequestContext` for a request: the same steps for the server and dry runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ccr.config.model import ROUTE_SLOTS, RouterConfig
from ccr.context.projects import ProjectLocator
from ccr.context.sessions import SessionStore, session_id_from
from ccr.context.tokens import TokenCounter
from ccr.routing.context import RequestContext, public_headers


def build_context(
    body: dict[str, Any],
    headers: Mapping[str, str],
    *,
    router: RouterConfig,
    tokens: TokenCounter,
    sessions: SessionStore | None = None,
    projects: ProjectLocator | None = None,
    session_id: str | None = None,
) -> RequestContext:
    """The request's context; a project or session override file replaces ``router``'s slots."""
    session_id = session_id or session_id_from(headers, body)
    project = projects.locate(session_id, body) if projects else None
    if project and projects is not None:
        router = effective_router(router, projects.router_override(session_id, project))
    return RequestContext(
        body=body,
        headers=public_headers(headers),
        token_count=tokens.count_request(body),
        router=router,
        session_id=session_id,
        session_usage=sessions.get(session_id) if (session_id and sessions) else None,
        project=project,
    )


def effective_router(base: RouterConfig, override: dict[str, Any] | None) -> RouterConfig:
    """``base``, or a project/session override of it (whole slots replaced)."""
    if not override:
        return base
    slots = {slot: _route_or_none(override.get(slot)) for slot in ROUTE_SLOTS}
    threshold = override.get("longContextThreshold")
    if not (isinstance(threshold, int) and not isinstance(threshold, bool) and threshold > 0):
        threshold = base.longContextThreshold
    return dataclasses.replace(base, longContextThreshold=threshold, **slots)


def _route_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
