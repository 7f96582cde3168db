"""The engine: one compiled configuration and the two verbs every caller uses.

``route(request)`` decides where a request goes (router script first, then the built-in rules);
``open(request, decision)`` sends it and returns the exchange the caller reads as JSON or SSE.
The server, ``ccr route --dry-run`` and the benchmarks all go through these, so a dry run shows
exactly what the server would do. An engine's configuration never changes: a reload builds a new
engine and hands over what is unchanged (the stores, and the upstream pool when its settings
match), and a request keeps the engine it started with.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ccr.config import Config, default_config_path, script_view
from ccr.context.stores import Stores
from ccr.engine.request import ClientRequest
from ccr.errors import ApiError
from ccr.routing.context import Route
from ccr.routing.decide import Decision, decide, script_request
from ccr.routing.prepare import build_context, effective_router
from ccr.transformers.chain import Chain, build_chains, catalog_for
from ccr.transformers.custom import CustomTransformers, load_custom_transformers

if TYPE_CHECKING:
    from ccr.agents import AgentRun
    from ccr.context.records import RecordWriter
    from ccr.engine.attempt_loop import AnsweredExchange, OnAccepted
    from ccr.engine.converted import ConvertedExchange
    from ccr.engine.passthrough import PassthroughExchange
    from ccr.engine.resilience import ResilienceState
    from ccr.engine.upstream import Upstream
    from ccr.sandbox import RouterScript

    Exchange = ConvertedExchange | PassthroughExchange

__all__ = ["ClientRequest", "Decision", "Engine"]

log = logging.getLogger("ccr")


@dataclass(eq=False)
class Engine:
    config: Config
    chains: dict[tuple[str, str], Chain]
    #: What a router script sees as ``config`` (no keys, no URLs), built once.
    script_config: dict[str, Any]
    #: The user's router script runner, when ``CUSTOM_ROUTER_PATH`` is set.
    script: RouterScript | None = None
    #: The config's own transformers (``"transformers": [{"path": ...}]``) and their sandboxes.
    transformers: CustomTransformers = field(default_factory=CustomTransformers)
    stores: Stores = field(default_factory=Stores)
    #: The pooled upstream client; set by :meth:`start` (None for dry runs).
    upstream: Upstream | None = None
    #: Requests being served by this engine (a replaced engine retires when it reaches 0).
    in_flight: int = 0
    #: Opt-in traffic records (``RECORD``); set by :meth:`start` when serving.
    records: RecordWriter | None = None
    _owns_upstream: bool = False
    _owns_records: bool = False
    _resilience: ResilienceState | None = field(default=None, repr=False)

    @classmethod
    def build(cls, config: Config, *, stores: Stores | None = None) -> Engine:
        """Raises ConfigError when a transformer name or its options are wrong, or a user
        transformer file cannot be loaded (checked in a sandbox worker). Sandboxes are created
        but not started (see :meth:`start`)."""
        transformers = load_custom_transformers(config)
        return cls(
            config=config,
            chains=build_chains(config, catalog_for(config, transformers)),
            script_config=script_view(config),
            script=_router_script(config),
            transformers=transformers,
            stores=stores if stores is not None else Stores(),
        )

    @property
    def resilience(self) -> ResilienceState:
        """Provider health, sticky fallbacks and limits (health survives reloads); built on
        first use, which a dry run without a router script never makes."""
        if self._resilience is None:
            from ccr.engine.resilience import ResilienceState

            self._resilience = ResilienceState.build(self.config)
        return self._resilience

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self, previous: Engine | None = None, *, upstream: bool = True) -> None:
        """Start the sandboxes and, unless ``upstream`` is False (dry runs), the upstream pool:
        taken over from ``previous`` when its settings match, else a new one."""
        if self.script is not None:
            await self.script.start()
            if self.script.load_error:
                log.error("router script: %s", self.script.load_error)
        await self.transformers.start()
        if previous is not None:
            self.resilience.take_over(previous.resilience, self.config)
        if not upstream:
            return
        self._start_records(previous)
        if (previous is not None and previous.upstream is not None
                and _upstream_settings(previous.config) == _upstream_settings(self.config)):
            self.upstream, self._owns_upstream = previous.upstream, previous._owns_upstream
            previous._owns_upstream = False
        elif self.upstream is None:
            self.upstream, self._owns_upstream = _make_upstream(self.config), True

    def _start_records(self, previous: Engine | None) -> None:
        """The records writer: the previous engine's when ``RECORD`` did not change."""
        settings = self.config.record
        if not settings.enabled or self.stores.home is None or self.records is not None:
            return
        if (previous is not None and previous.records is not None and previous._owns_records
                and previous.config.record == settings):
            self.records, self._owns_records = previous.records, True
            previous._owns_records = False
            return
        from ccr.context.records import RecordWriter

        self.records = RecordWriter.for_settings(settings, self.stores.home)
        self._owns_records = self.records is not None

    async def retire(self, *, poll_s: float = 1.0) -> None:
        """Close once the requests that started on this engine are done (after a reload)."""
        while self.in_flight > 0:
            await asyncio.sleep(poll_s)
        await self.aclose()

    async def aclose(self) -> None:
        if self.script is not None:
            await self.script.aclose()
        await self.transformers.aclose()
        if self.records is not None and self._owns_records:
            self._owns_records = False
            await asyncio.to_thread(self.records.close)
        if self.upstream is not None and self._owns_upstream:
            self._owns_upstream = False
            await self.upstream.aclose()

    def scripts_status(self) -> list[dict[str, Any]]:
        """The router script and each user transformer: file, loaded version, calls, errors,
        timeouts, the last error and whether it is switched off (``/health``, ``ccr status``)."""
        found: list[dict[str, Any]] = []
        if self.script is not None:
            found.append({"kind": "router", "name": self.script.name, **self.script.status()})
        for plugin in self.transformers.plugins:
            found.append({"kind": "transformer", "name": plugin.name,
                          **plugin.script.status()})
        return found

    # -- the two verbs ---------------------------------------------------------------------------

    async def route(self, request: ClientRequest) -> Decision:
        """Where ``request`` goes and why; raises ApiError (400) when nothing can take it."""
        config = self.config
        if not config.has_providers:
            raise ApiError(no_provider_message(config), 400)
        stores = self.stores
        # A cold count of a big request encodes in a worker thread; build_context's count of
        # the same body then reuses it.
        await stores.tokens.acount_request(request.body)
        router = effective_router(config.router, request.router) if request.router else (
            config.router)
        ctx = build_context(
            request.body, request.headers, router=router, tokens=stores.tokens,
            sessions=stores.sessions, projects=stores.projects, session_id=request.session_id,
        )
        if request.session_usage is not None:
            ctx.session_usage = request.session_usage
        ctx.client, ctx.spend = request.client, request.spend
        if self.script is not None:
            resilience = self.resilience
            ctx.providers = resilience.health.script_view(resilience.providers(config))
        if request.now is not None:
            ctx.now = request.now
        elif self.script is not None or self.records is not None:  # req.now, a record's time
            ctx.now = datetime.datetime.now().astimezone()
        decision = await decide(ctx, config, script=self.script,
                                script_config=self.script_config)
        for warning in decision.warnings:
            log.warning("routing: %s", warning)
        return decision

    async def open(self, request: ClientRequest, decision: Decision, *,
                   on_accepted: OnAccepted | None = None) -> AnsweredExchange:
        """Send the request where ``decision`` says, failing over to its retries, keys and
        fallbacks while no event has been sent to the client; raises ApiError (with ``x-ccr-*``
        and retry advice in its ``headers``) when every attempt failed. ``on_accepted``
        hears a stream's final ``x-ccr-*`` headers once its upstream has accepted it and the
        route can no longer change (the server sends its response headers then)."""
        from ccr.engine.attempt_loop import open_with_fallbacks
        from ccr.engine.exchange import open_exchange
        from ccr.engine.handover import without_foreign_reasoning

        ctx = decision.ctx
        assert ctx is not None, "decision must come from Engine.route"
        upstream = self._upstream()

        async def open_route(route: Route, foreign_history: bool) -> Exchange:
            chain = self.chains[(route.provider.name, route.model)]
            body = request.body
            if foreign_history:
                body = without_foreign_reasoning(body, anthropic=chain.protocol == "anthropic")

            async def send(sent: dict[str, Any]) -> Exchange:
                await chain.endpoint.warm()  # e.g. an access token, fetched off the event loop
                return await open_exchange(
                    body=sent,
                    route=route,
                    chain=chain,
                    upstream=upstream,
                    input_estimate=ctx.token_count,
                    client_headers=ctx.headers,
                    agent=self._image_agent(ctx.router.image, route, sent),
                )

            # A 400 naming the model's output limit is learned, and the request sent again
            # clamped (before the attempt loop would count it as a final answer).
            return await self.stores.output_limits.open(route.provider.name, route.model,
                                                        body, send)

        on_error = None
        script = self.script
        if script is not None and script.has_on_error is not False:
            req = script_request(ctx)

            async def on_error(failure: dict[str, Any]) -> str | None:
                result = await script.on_error(req, failure, self.script_config)
                if result.error:
                    log.warning("router script on_error: %s", result.error)
                return result.value

        return await open_with_fallbacks(self, request, decision, open_route,
                                         fallback=self.fallback_for(decision),
                                         on_error=on_error, on_accepted=on_accepted)

    def fallback_for(self, decision: Decision) -> list[str]:
        """The routes to try after the decision's own: the router script's list, else the
        session's or project's override file's, else the config's for the deciding rule."""
        if decision.fallback is not None:
            return list(decision.fallback)
        ctx, projects = decision.ctx, self.stores.projects
        if ctx is not None and ctx.project and projects is not None:
            override = projects.fallback_override(ctx.session_id, ctx.project)
            if override is not None:
                listed = override.get(decision.rule, override.get("default"))
                if isinstance(listed, str):
                    listed = [listed]
                if isinstance(listed, list):
                    return [r for r in listed if isinstance(r, str)]
        return list(self.config.resilience.fallback_for(decision.rule))

    def finish(self, decision: Decision, exchange: Exchange | AnsweredExchange) -> None:
        """After the answer: the session's usage, for routing its next turn and status lines;
        the provider slot the answer held is given back."""
        release = getattr(exchange, "release", None)
        if release is not None:
            release()
        outcome = exchange.outcome
        session_id = decision.ctx.session_id if decision.ctx is not None else None
        if session_id and outcome.usage and not outcome.error:
            self.stores.sessions.record(session_id, outcome.usage, exchange.route.name)
        if self.records is not None:
            self._record(decision, outcome.status, outcome.usage, outcome.error)

    def finish_failed(self, decision: Decision, status: int, error: str | None) -> None:
        """After a routed request failed before any exchange (the upstream refused or could
        not be reached): recorded too, since a replay should show where it was sent."""
        if self.records is not None:
            self._record(decision, status, None, error)

    def _record(self, decision: Decision, status: int, usage: dict[str, Any] | None,
                error: str | None) -> None:
        ctx, records = decision.ctx, self.records
        if ctx is None or records is None:
            return
        from ccr.context.records import build_record

        at = ctx.now or datetime.datetime.now().astimezone()
        latency = (datetime.datetime.now(at.tzinfo) - at).total_seconds() * 1000
        records.write(build_record(
            body=ctx.body, headers=ctx.headers, session_id=ctx.session_id, at=at,
            rule=decision.rule, route=decision.route.name, reason=_reason(decision, self.config),
            script_error=decision.script_error, subagent_tag=ctx.notes.get("subagent_tag"),
            status=status, usage=usage, latency_ms=latency, error=error,
        ))

    # -- helpers ---------------------------------------------------------------------------------

    def _upstream(self) -> Upstream:
        if self.upstream is None:
            raise ApiError("ccr's upstream client is not running (engine not started)", 500)
        return self.upstream

    def _image_agent(self, image_route: str | None, route: Route,
                     body: dict[str, Any]) -> AgentRun | None:
        """The image agent for this request, if ``Router.image`` is set and it applies."""
        from ccr.agents import ImageAgent

        chain = self.chains[(route.provider.name, route.model)]
        if not image_route or chain.protocol == "anthropic":
            return None
        agent = ImageAgent(image_route)
        forced = self.config.force_use_image_agent
        if not agent.applies(body, forced=forced, route_name=route.name):
            return None

        async def complete(request: dict[str, Any]) -> dict[str, Any]:
            from ccr.engine.exchange import open_exchange

            resolved = self.config.resolve(request["model"])
            if resolved is None:
                raise ApiError(f"Router.image {request['model']!r} is not configured", 500)
            provider, model = resolved
            exchange = await open_exchange(
                body=request,
                route=Route(provider, model, "image"),
                chain=self.chains[(provider.name, model)],
                upstream=self._upstream(),
                input_estimate=self.stores.tokens.count_request(request),
            )
            return await exchange.json()

        return agent.prepare(body, complete)


def _reason(decision: Decision, config: Config) -> str | None:
    """Why the decision went as it did, in words (only the deciding rule's reason is built)."""
    from ccr.routing.rules import REASONS

    if decision.rule == "custom":
        return "the router script chose it"
    why = REASONS.get(decision.rule)
    if why is None or decision.ctx is None:
        return None
    try:
        return why(decision.ctx, config, decision.route.name)
    except Exception:  # a reason is a nicety; it never fails a request
        return None


def no_provider_message(config: Config) -> str:
    where = str(config.path or default_config_path())
    return (
        "ccr has no provider configured. Run `ccr init` to write a starter config, or add a "
        f'provider to {where}: {{"Providers": [{{"name": "deepseek", "api_base_url": '
        '"https://api.deepseek.com/chat/completions", "api_key": "$DEEPSEEK_API_KEY", '
        '"models": ["deepseek-chat"]}], "Router": {"default": "deepseek,deepseek-chat"}}'
    )


def _router_script(config: Config) -> RouterScript | None:
    """The sandboxed runner for ``CUSTOM_ROUTER_PATH``; limits come from ``CUSTOM_ROUTER_*``."""
    if not config.custom_router_path:
        return None
    from ccr.sandbox import RouterScript

    return RouterScript(
        config.custom_router_path,
        timeout_ms=config.custom_router_timeout_ms,
        memory_mb=config.custom_router_memory_mb,
        workers=config.custom_router_workers,
    )


def _upstream_settings(config: Config) -> tuple[object, ...]:
    from ccr.engine.upstream import Timeouts

    return (config.proxy_url, config.no_proxy, Timeouts.of(config))


def _make_upstream(config: Config) -> Upstream:
    from ccr.engine.upstream import Timeouts, Upstream

    return Upstream(Timeouts.of(config), proxy_url=config.proxy_url, no_proxy=config.no_proxy)
