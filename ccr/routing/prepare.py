"""Build the :class:`RequestContext` for a request: the same steps for the server and dry runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccr.config.model import RouterConfig
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
    router_for: Any = None,
    session_id: str | None = None,
) -> RequestContext:
    """``router_for(override)`` maps a project/session Router override to the effective
    RouterConfig; without it the global ``router`` is used."""
    session_id = session_id or session_id_from(headers, body)
    project = projects.locate(session_id, body) if projects else None
    if project and projects is not None and router_for is not None:
        router = router_for(projects.router_override(session_id, project))
    return RequestContext(
        body=body,
        headers=public_headers(headers),
        token_count=tokens.count_request(body),
        router=router,
        session_id=session_id,
        session_usage=sessions.get(session_id) if (session_id and sessions) else None,
        project=project,
    )
