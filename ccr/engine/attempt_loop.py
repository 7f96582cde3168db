"""``Engine.open`` with failover: try the route, its retries, its keys and its fallbacks until
one answers, all before anything reaches the client.

A stream counts as answered at its first content event (read ahead by :class:`PrimedStream`),
a JSON answer once it is whole; until then any failure moves on as the :class:`AttemptPlan`
says. The answer comes back as an :class:`AnsweredExchange` carrying the ``x-ccr-*`` headers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ccr.engine.attempts import Attempt, describe_attempts
from ccr.engine.failures import Failure
from ccr.engine.plan import AttemptPlan, GiveUp, Target, Try
from ccr.engine.primed import PrimedStream
from ccr.engine.upstream import UpstreamFailed
from ccr.errors import ApiError, TransformerFailed
from ccr.routing.context import Route

if TYPE_CHECKING:
    from ccr.config.model import Config
    from ccr.engine.converted import ConvertedExchange
    from ccr.engine.engine import Engine
    from ccr.engine.passthrough import PassthroughExchange
    from ccr.engine.request import ClientRequest
    from ccr.routing.decide import Decision

    Exchange = ConvertedExchange | PassthroughExchange

#: Opens one attempt's exchange on ``route`` (the engine's single round trip); the flag asks
#: for the history without other providers' reasoning signatures (see :mod:`.handover`).
OpenRoute = Callable[[Route, bool], Awaitable["Exchange"]]
#: A router script's ``on_error``: the failure in, a route to try next (or None) out.
OnError = Callable[[dict[str, Any]], Awaitable["str | None"]]
#: Told the ``x-ccr-*`` headers once a stream's upstream has begun answering on a route that
#: can no longer change (the server sends its response headers then, see :func:`_attempt`);
#: a retry of that target tells it again, and only the first call counts.
OnAccepted = Callable[[dict[str, str]], Awaitable[None]]


class AnsweredExchange:
    """The exchange that answered, read up to its first content (stream) or whole (JSON),
    with what it took to get it."""

    def __init__(self, exchange: Exchange, plan: AttemptPlan, primary: Route, *,
                 primed: PrimedStream | None = None, message: dict[str, Any] | None = None,
                 release: Callable[[], None] = lambda: None) -> None:
        self.exchange = exchange
        self.plan = plan
        self.primary = primary
        self._primed = primed
        self._message = message
        self._release = release
        exchange.outcome.attempts = plan.calls

    # what the server and Engine.finish read, as on any exchange
    @property
    def route(self) -> Route:
        return self.exchange.route

    @property
    def ctx(self) -> Any:
        return self.exchange.ctx

    @property
    def outcome(self) -> Any:
        return self.exchange.outcome

    @property
    def ping_interval_s(self) -> float:
        return self.exchange.ping_interval_s

    @property
    def agent_name(self) -> str | None:
        return self.exchange.agent_name

    @property
    def attempts(self) -> list[Attempt]:
        return self.plan.attempts

    @property
    def headers(self) -> dict[str, str]:
        return route_headers(self.primary, self.route, self.plan)

    async def json(self) -> dict[str, Any]:
        try:
            if self._message is None:
                self._message = await self.exchange.json()
            return self._message
        finally:
            self.release()

    async def events(self) -> AsyncGenerator[bytes, None]:
        try:
            if self._primed is None:
                async for data in self.exchange.events():
                    if data:
                        yield data
            else:
                async for data in self._primed.events():
                    yield data
        finally:
            self.release()

    def release(self) -> None:
        """The exchange is over: its provider slot and in-flight count are given back."""
        release, self._release = self._release, lambda: None
        release()


class _Internal(Exception):
    """An error of ccr's own while building an attempt's request (carried past the handler
    for upstream answers)."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


def route_headers(primary: Route, answered: Route | None, plan: AttemptPlan | None
                  ) -> dict[str, str]:
    """``x-ccr-route`` (who answered), ``x-ccr-rule``, ``x-ccr-attempts``, and
    ``x-ccr-fallback-from`` when a fallback answered."""
    route = answered or primary
    fell_back = answered is not None and answered.name != primary.name
    headers = {
        "x-ccr-route": _header_safe(route.name),
        "x-ccr-rule": primary.rule + (", fallback" if fell_back else ""),
        "x-ccr-attempts": str(plan.calls if plan is not None else 0),
    }
    if fell_back:
        headers["x-ccr-fallback-from"] = _header_safe(primary.name)
    return headers


def _header_safe(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1").replace("\r", "").replace("\n", "")


def targets_for(config: Config, names: list[str]) -> list[Target]:
    """Routes (``provider,model``) as attempt targets with their key pools; names that are not
    configured are left out."""
    out: list[Target] = []
    for name in names:
        resolved = config.resolve(name)
        if resolved is None:
            continue
        provider, model = resolved
        out.append(Target(f"{provider.name},{model}", provider.name,
                          tuple(provider.api_keys) or (None,)))
    return out


async def open_with_fallbacks(engine: Engine, request: ClientRequest, decision: Decision,
                              open_route: OpenRoute, *, fallback: list[str],
                              on_error: OnError | None = None,
                              on_accepted: OnAccepted | None = None) -> AnsweredExchange:
    """Raises :class:`ApiError` (a :class:`RoutedError` after failing over) while no event has
    been sent to the client; its ``headers`` carry ``x-ccr-*`` and the retry advice.
    ``on_accepted`` (streams) hears the headers as soon as they are final, see
    :func:`_attempt`."""
    config, state = engine.config, engine.resilience
    primary = decision.route
    ctx = decision.ctx
    session_id = ctx.session_id if ctx is not None else None
    targets = targets_for(config, [primary.name, *fallback])
    by_route = {t.route: t for t in targets}
    order = state.sticky.order(
        session_id, [t.route for t in targets],
        lambda route: state.health.healthy(by_route[route].provider, by_route[route].keys))
    long_context = None
    if ctx is not None and ctx.router.longContext:
        found = targets_for(config, [ctx.router.longContext])
        long_context = found[0] if found else None
    if state.shared is not None:
        await state.shared.pull(state.health, [t.provider for t in targets])
    plan = AttemptPlan([by_route[r] for r in order], retry=config.resilience.retry,
                       health=state.health, long_context=long_context)
    stream = bool(request.body.get("stream"))
    last_route = getattr(ctx.session_usage, "last_route", None) if ctx is not None else None
    if isinstance(last_route, str) and last_route.split(",", 1)[0].lower() != \
            primary.provider.name.lower():
        state.mixed.add(session_id)  # the session's last turn came from another provider
    mixed = session_id is not None and session_id in state.mixed
    while True:
        step = plan.next()
        if isinstance(step, GiveUp):
            error = step.error
            error.headers.update(route_headers(primary, None, plan))
            raise error
        if step.wait_s > 0:
            await asyncio.sleep(step.wait_s)
        foreign = mixed or step.target.provider.lower() != primary.provider.name.lower()
        answered = await _attempt(engine, step, plan, primary, open_route, stream, foreign,
                                  on_accepted if stream and on_error is None else None)
        if state.shared is not None:
            await state.shared.push(state.health, step.target.provider)
        if isinstance(answered, AnsweredExchange):
            if plan.answered_by is not None and plan.answered_by.route != primary.name:
                state.sticky.pin(session_id, primary.name, plan.answered_by.route)
                if plan.answered_by.provider.lower() != primary.provider.name.lower():
                    state.mixed.add(session_id)
                state.notes.set(session_id, fallback_note(plan, primary))
            else:
                state.notes.set(session_id, None)
            return answered
        if on_error is not None:
            await _ask_on_error(engine, plan, step, answered, on_error)


async def _attempt(engine: Engine, step: Try, plan: AttemptPlan, primary: Route,
                   open_route: OpenRoute, stream: bool, foreign: bool,
                   on_accepted: OnAccepted | None = None) -> AnsweredExchange | Failure:
    """One call: the answered exchange, or the failure (already reported to the plan).

    A stream on the last target that can answer has final ``x-ccr-route`` and ``x-ccr-rule``
    headers once its upstream sent a first valid event (the provider has begun: a 200 followed
    by an error or by nothing is still an HTTP error for the client): ``on_accepted`` hears
    them then, so the client gets its response headers as soon as a direct call would. The
    events still wait for the first content, and a failure before it is still retried on
    this target."""
    state = engine.resilience
    target = step.target
    resolved = engine.config.resolve(target.route)
    assert resolved is not None
    provider, model = resolved
    if step.key.key != provider.api_key:
        provider = dataclasses.replace(provider, api_key=step.key.key)
    route = Route(provider, model, primary.rule)
    gate = state.gates.gate(provider.name)
    if gate is not None:
        try:
            await gate.acquire()
        except ApiError as exc:
            waited = Failure("timeout", message=exc.message)
            plan.failed(step, waited)
            return waited
    state.health.started(provider.name)
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            state.health.ended(provider.name)
            if gate is not None:
                gate.release()

    started = time.monotonic()
    failure: Failure | None = None
    try:
        try:
            exchange = await open_route(route, foreign)
        except UpstreamFailed:
            raise
        except ApiError as exc:  # the request could not be built: no provider saw it
            raise _Internal(exc) from None
        if stream:
            began: Callable[[], Awaitable[None]] | None = None
            if on_accepted is not None and plan.is_last_target(target):
                accepted = on_accepted

                async def announce() -> None:
                    await accepted(route_headers(primary, route, plan))

                began = announce
            primed = await PrimedStream.prime(exchange, on_began=began)
            if isinstance(primed, Failure):
                failure = primed
            else:
                plan.succeeded(step, time.monotonic() - started)
                return AnsweredExchange(exchange, plan, primary, primed=primed, release=release)
        else:
            message = await exchange.json()
            plan.succeeded(step, time.monotonic() - started)
            return AnsweredExchange(exchange, plan, primary, message=message, release=release)
    except UpstreamFailed as exc:
        failure = exc.failure
    except _Internal as exc:
        failure = Failure("internal", exc.error.status, exc.error.message)
    except TransformerFailed as exc:
        failure = Failure("internal", exc.status, exc.message)
    except ApiError as exc:
        # A 200 whose body failed, or a transformer that refused the request.
        failure = (Failure("broken_stream", message=exc.message) if exc.status >= 500
                   else Failure("http", exc.status, exc.message))
    except BaseException:
        release()
        plan.abandoned(step)
        raise
    release()
    plan.failed(step, failure)
    return failure


async def _ask_on_error(engine: Engine, plan: AttemptPlan, step: Try, failure: Failure,
                        on_error: OnError) -> None:
    """Let the router script's ``on_error`` choose the next route (None: the configured list)."""
    info = {"provider": step.target.provider, "route": step.target.route,
            "status": failure.status, "kind": failure.kind, "message": failure.describe(),
            "attempt": step.number, "retry_after_s": failure.retry_after_s}
    choice = await on_error(info)
    if not choice:
        return
    found = targets_for(engine.config, [choice])
    if found:
        plan.insert_next(found[0])


def fallback_note(plan: AttemptPlan, primary: Route) -> str | None:
    """A few words on a fallback for status lines: ``deepseek 429 → openrouter``."""
    answered = plan.answered_by
    if answered is None:
        return None
    first = next((a for a in plan.attempts if a.route == primary.name), None)
    why = "failed"
    if first is not None and first.skipped is not None:
        why = "cooling" if not first.down else "key refused"
    elif first is not None and first.failure is not None:
        failure = first.failure
        why = str(failure.status) if failure.kind == "http" else failure.describe()
    return f"{primary.provider.name} {why} → {answered.provider}"


def attempts_line(plan_attempts: list[Attempt]) -> str | None:
    """The attempts for the request log when there was more than one call or a skip."""
    if len(plan_attempts) <= 1 and all(a.called for a in plan_attempts):
        return None
    return describe_attempts(plan_attempts)
