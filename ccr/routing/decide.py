"""Script first, then the built-in rules: the one place a route is chosen.

The server and ``ccr route --dry-run`` both call :func:`decide`, so a dry run shows exactly
what the server would do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ccr.config.model import Config
from ccr.errors import ApiError
from ccr.routing.context import RequestContext, Route
from ccr.routing.rules import RULES, take_subagent_tag


class ScriptResultLike(Protocol):
    @property
    def value(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def elapsed_ms(self) -> float: ...
    @property
    def output(self) -> str: ...


class ScriptRunner(Protocol):
    async def call(self, req: dict[str, Any], config: dict[str, Any]) -> ScriptResultLike: ...


@dataclass
class Decision:
    route: Route
    rule: str
    #: The router script's error, when it failed and the built-in rules decided instead.
    script_error: str | None = None
    script_ms: float | None = None
    #: Rules that fired but named a route that is not configured (e.g. a stale project override).
    warnings: list[str] = field(default_factory=list)
    #: What the router script printed (for ``ccr route``; the server does not log it).
    script_output: str = ""
    #: What routing knew about the request (token count, session, project, effective Router).
    ctx: RequestContext | None = None


def script_request(ctx: RequestContext) -> dict[str, Any]:
    """The plain-JSON ``req`` a router script sees: the client's own data, no credentials."""
    usage = ctx.session_usage
    req = {
        "body": ctx.body,
        "headers": dict(ctx.headers),
        "token_count": ctx.token_count,
        "session_id": ctx.session_id,
        "session_usage": _usage_dict(usage),
        "project": ctx.project,
        "client": ctx.client,
        "spend": ctx.spend,
    }
    if ctx.now is not None:
        req["now"] = ctx.now.isoformat()
    return req


def _usage_dict(usage: Any) -> dict[str, Any] | None:
    if usage is None:
        return None
    fields = ("input_tokens", "output_tokens", "cache_read_input_tokens",
              "cache_creation_input_tokens", "turns", "last_route", "session_input_tokens",
              "session_output_tokens")
    out = {name: getattr(usage, name, None) for name in fields}
    out["total_input"] = getattr(usage, "total_input", None)
    return out


async def decide(
    ctx: RequestContext,
    config: Config,
    *,
    script: ScriptRunner | None = None,
    script_config: dict[str, Any] | None = None,
) -> Decision:
    tagged = take_subagent_tag(ctx.body)
    if tagged:
        ctx.notes["subagent_tag"] = tagged
    script_error: str | None = None
    script_ms: float | None = None
    output = ""
    if script is not None:
        result = await script.call(script_request(ctx), script_config or {})
        script_ms = result.elapsed_ms
        script_error = result.error
        output = result.output
        if result.value is not None:
            resolved = config.resolve(result.value)
            if resolved is not None:
                provider, model = resolved
                return Decision(Route(provider, model, "custom"), "custom", None, script_ms,
                                script_output=output, ctx=ctx)
            script_error = (
                f"router() returned {result.value[:80]!r}, which is not a configured "
                "provider,model route"
            )
    warnings: list[str] = []
    for r in RULES:
        value = r.fn(ctx, config)
        if not value:
            continue
        resolved = config.resolve(value)
        if resolved is None:
            warnings.append(f"rule {r.name} chose {value!r}, which is not configured")
            continue
        provider, model = resolved
        return Decision(Route(provider, model, r.name), r.name, script_error, script_ms, warnings,
                        output, ctx)
    hint = "; ".join(warnings) if warnings else "Router.default is not set"
    raise ApiError(f"ccr could not route this request: {hint}", 400)
