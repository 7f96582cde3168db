"""The team gateway around the engine: who is calling, their limits and budgets, shared
session usage, and after each request its ledger row, running spend and metrics.

One :class:`Gateway` per server process outlives config reloads (its state store, ledger and
metrics do); what comes from the config (keys, prices, budgets, limits) is rebuilt once per
config version in a :class:`Policy`. The request path pays for one or two state-store round
trips before routing; everything after the answer runs in a background task.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.core import Metric

from ccr.config import ROUTE_SLOTS, Config
from ccr.config.keys import KeySettings
from ccr.context.sessions import SessionUsage, session_id_from
from ccr.errors import ApiError
from ccr.ledger import (
    Budget,
    LedgerWriter,
    PriceTable,
    Spend,
    SpendTracker,
    UsageRow,
    Verdict,
    Who,
    open_ledger,
    token_counts,
)
from ccr.metrics import Metrics, health_gauges
from ccr.routing.context import Route
from ccr.server.auth import Authenticator, Identity
from ccr.state import StateStore, open_store

log = logging.getLogger("ccr")

SESSION_TTL_S = 86_400.0
#: How often a request waiting for a MAX_CONCURRENT_REQUESTS slot looks again.
_QUEUE_POLL_S = 0.05


class RateLimited(ApiError):
    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message, 429, "rate_limit_error")
        self.retry_after_s = max(1, int(retry_after_s + 0.999))


@dataclass(frozen=True)
class Policy:
    """Everything the gateway derives from one config version."""

    keys: KeySettings
    auth: Authenticator
    prices: PriceTable
    budgets: tuple[Budget, ...]
    queue_timeout_s: float
    lease_s: float

    @classmethod
    def build(cls, config: Config) -> Policy:
        settings = config.gateway
        return cls(keys=settings.keys, auth=Authenticator(config.apikey, settings.keys),
                   prices=settings.prices, budgets=settings.budgets,
                   queue_timeout_s=settings.queue_timeout_ms / 1000,
                   lease_s=config.api_timeout_ms / 1000 + 60)

    def client_router(self, config: Config, client: str | None) -> dict[str, Any] | None:
        """The client's own Router merged over the global one (slots it names replace)."""
        own = self.keys.client(client)
        if own is None or not own.router:
            return None
        merged: dict[str, Any] = {slot: config.router.slot(slot) for slot in ROUTE_SLOTS}
        merged["longContextThreshold"] = config.router.longContextThreshold
        merged.update(own.router)
        return merged


@dataclass
class Ticket:
    """What :meth:`Gateway.admit` learned before routing, carried to :meth:`Gateway.done`."""

    identity: Identity
    session_id: str | None
    project: str | None
    arrived: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)
    lease: tuple[str, str] | None = None
    session_usage: SessionUsage | None = None
    spend: Spend | None = None
    verdict: Verdict | None = None

    @property
    def who(self) -> Who:
        return Who(self.identity.client, self.project, self.session_id)


class Gateway:
    def __init__(self, store: StateStore, ledger: LedgerWriter | None,
                 metrics: Metrics | None = None) -> None:
        self.store = store
        self.ledger = ledger
        self.metrics = metrics or Metrics()
        self._policy: tuple[Config, Policy] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.metrics.add_health(self._health_metrics)

    @classmethod
    def for_config(cls, config: Config, home: Path, *, workers: int = 1) -> Gateway:
        """The store and ledger ``STATE`` and ``LEDGER`` name (read once: changing them needs
        a restart)."""
        return cls(open_store(config.gateway.state, home=home, workers=workers),
                   open_ledger(config.gateway.ledger, home=home))

    async def start(self) -> None:
        await self.store.start()
        if self.ledger is not None:
            await self.ledger.start()

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        if self.ledger is not None:
            await self.ledger.aclose()
        await self.store.aclose()

    def policy(self, config: Config) -> Policy:
        cached = self._policy
        if cached is None or cached[0] is not config:
            cached = (config, Policy.build(config))
            self._policy = cached
        return cached[1]

    # -- before routing --------------------------------------------------------------------------

    async def admit(self, config: Config, identity: Identity, body: Mapping[str, Any],
                    headers: Mapping[str, str], locate: Any = None, *,
                    want_spend: bool = True) -> Ticket:
        """Limits, shared session usage, spend and budgets; raises a 429 when a limit or a
        refusing budget says no. ``want_spend=False`` (no router script to show it to) skips
        reading spend unless a budget needs it. ``locate(session_id, body)`` names the project
        as routing will (the engine's project locator)."""
        policy = self.policy(config)
        session_id = session_id_from(headers, body)
        project = locate(session_id, body) if locate is not None else None
        ticket = Ticket(identity, session_id, project)
        try:
            await self._admit(ticket, policy, want_spend)
        except ApiError as exc:  # refused: still one ledger row and one counted request
            self.done(config, ticket, decision=None, exchange=None, status=exc.status,
                      first_byte_s=None, added_s=None, rule="refused")
            raise
        return ticket

    async def _admit(self, ticket: Ticket, policy: Policy, want_spend: bool) -> None:
        identity = ticket.identity
        label = identity.client or "*"
        limits = policy.keys.limits_for(identity.client)
        if limits.rate is not None:
            count = await self.store.hit(f"rate:{label}", limits.rate.window_s)
            if count > limits.rate.requests:
                self.metrics.rejected.labels("rate_limit", identity.client or "").inc()
                window = limits.rate.window_s
                raise RateLimited(
                    f"rate limit reached for {_whose(identity)}: {limits.rate.requests} "
                    f"requests per {window}s", window - time.time() % window)
        if limits.max_concurrent is not None:
            ticket.lease = await self._slot(f"conc:{label}", limits.max_concurrent, policy,
                                            identity)
        try:
            await self._read_shared(ticket, policy, want_spend)
        except BaseException:
            await self._release(ticket)
            raise

    async def _slot(self, key: str, limit: int, policy: Policy,
                    identity: Identity) -> tuple[str, str]:
        token = await self.store.acquire(key, limit, policy.lease_s)
        if token is not None:
            return key, token
        self.metrics.queued.inc()
        try:
            deadline = time.monotonic() + policy.queue_timeout_s
            while time.monotonic() < deadline:
                await asyncio.sleep(_QUEUE_POLL_S)
                token = await self.store.acquire(key, limit, policy.lease_s)
                if token is not None:
                    return key, token
        finally:
            self.metrics.queued.dec()
        self.metrics.rejected.labels("concurrency", identity.client or "").inc()
        raise RateLimited(f"MAX_CONCURRENT_REQUESTS ({limit}) reached for {_whose(identity)} "
                          f"and no slot freed within {policy.queue_timeout_s:g}s", 1)

    async def _read_shared(self, ticket: Ticket, policy: Policy, want_spend: bool) -> None:
        if ticket.session_id:
            record = await self.store.get(f"session:{ticket.session_id}")
            ticket.session_usage = _usage_from(record)
        if not want_spend and not policy.budgets:
            return
        tracker = SpendTracker(self.store, policy.budgets)
        ticket.spend, ticket.verdict = await tracker.read(ticket.who)
        if ticket.verdict is not None and ticket.verdict.budget.refuses:
            self.metrics.rejected.labels("budget", ticket.identity.client or "").inc()
            raise ticket.verdict.error()

    def apply_budget(self, config: Config, ticket: Ticket, decision: Any) -> None:
        """A used-up budget that reroutes sends the request to its cheaper route."""
        verdict = ticket.verdict
        if verdict is None or verdict.route is None:
            return
        resolved = config.resolve(verdict.route)
        if resolved is None:
            log.warning("budget %r: route %r is not configured; routing as usual",
                        verdict.budget.name, verdict.route)
            return
        provider, model = resolved
        decision.route = Route(provider, model, "budget")
        decision.rule = "budget"

    # -- after the answer ------------------------------------------------------------------------

    def done(self, config: Config, ticket: Ticket, *, decision: Any, exchange: Any,
             status: int, first_byte_s: float | None, added_s: float | None,
             rule: str | None = None) -> None:
        """Record the request (ledger, spend, session usage, metrics) without delaying the
        response: the writes run in a background task. ``rule`` names a request refused
        before routing."""
        latency_ms = (time.monotonic() - ticket.started) * 1000
        task = asyncio.get_running_loop().create_task(self._record(
            config, ticket, decision, exchange, status, latency_ms, first_byte_s, added_s,
            rule))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record(self, config: Config, ticket: Ticket, decision: Any, exchange: Any,
                      status: int, latency_ms: float, first_byte_s: float | None,
                      added_s: float | None, refused: str | None = None) -> None:
        try:
            await self._release(ticket)
            policy = self.policy(config)
            outcome = getattr(exchange, "outcome", None)
            route = exchange.route if exchange is not None else getattr(decision, "route", None)
            route_name = route.name if route is not None else None
            usage = token_counts(outcome.usage if outcome is not None else None)
            cost = policy.prices.cost(route_name, usage) if outcome is not None else None
            project = getattr(getattr(decision, "ctx", None), "project", None) or ticket.project
            rule = getattr(decision, "rule", None) or refused
            row = UsageRow(
                time=ticket.arrived, client=ticket.identity.client, session=ticket.session_id,
                project=project, rule=rule, route=route_name,
                provider=route.provider.name if route is not None else None,
                model=route.model if route is not None else None,
                fallback=_fell_back(decision, exchange), attempts=_attempts(exchange, decision),
                **usage,
                cost_usd=cost, status=status, latency_ms=round(latency_ms, 2))
            if self.ledger is not None:
                self.ledger.record(row)
            self._observe(row, decision, exchange, first_byte_s, added_s)
            who = Who(ticket.identity.client, project, ticket.session_id)
            await SpendTracker(self.store).record(who, cost)
            if ticket.session_id and outcome is not None and outcome.usage and not outcome.error:
                await self._save_session(ticket, outcome.usage, route_name)
        except Exception:
            log.exception("recording usage failed")

    def _observe(self, row: UsageRow, decision: Any, exchange: Any,
                 first_byte_s: float | None, added_s: float | None) -> None:
        m = self.metrics
        m.request_done(route=row.route, rule=row.rule, status=row.status, client=row.client,
                       usage={k: getattr(row, k) for k in ("input_tokens", "output_tokens",
                                                           "cache_read_tokens",
                                                           "cache_write_tokens")},
                       cost=row.cost_usd)
        if row.fallback:
            m.fallbacks.labels(row.route or "none").inc()
        if row.attempts > 1 and row.provider:
            m.retries.labels(row.provider).inc(row.attempts - 1)
        if decision is not None and getattr(decision, "script_ms", None) is not None:
            m.script_call(decision.script_error)
        upstream_s = getattr(getattr(exchange, "outcome", None), "upstream_latency_s", None)
        if upstream_s is not None and row.provider:
            m.upstream_latency.labels(row.provider).observe(upstream_s)
        if first_byte_s is not None:
            m.ttfb.labels(row.route or "none").observe(first_byte_s)
        if added_s is not None:
            m.added.observe(max(added_s, 0.0))

    async def _save_session(self, ticket: Ticket, usage: Mapping[str, Any],
                            route: str | None) -> None:
        numbers = token_counts(usage)
        previous = ticket.session_usage
        record = {
            "input_tokens": numbers["input_tokens"],
            "output_tokens": numbers["output_tokens"],
            "cache_read_input_tokens": numbers["cache_read_tokens"],
            "cache_creation_input_tokens": numbers["cache_write_tokens"],
            "turns": (previous.turns if previous else 0) + 1,
            "last_route": route,
            "updated_at": time.time(),
            "client": ticket.identity.client,
        }
        await self.store.set(f"session:{ticket.session_id}", record, SESSION_TTL_S)

    async def _release(self, ticket: Ticket) -> None:
        if ticket.lease is not None:
            key, token = ticket.lease
            ticket.lease = None
            await self.store.release(key, token)

    # -- reading -----------------------------------------------------------------------------

    async def session(self, session_id: str, identity: Identity) -> dict[str, Any] | None:
        """A session's shared usage record, if ``identity`` may read it (a client reads only
        its own sessions; the admin and the single APIKEY read any)."""
        record = await self.store.get(f"session:{session_id}")
        if not isinstance(record, dict):
            return None
        if identity.client is not None and not identity.admin and record.get(
                "client") != identity.client:
            return None
        return record

    def health(self) -> dict[str, Any]:
        return {"state": self.store.health().as_dict(),
                "ledger": self.ledger.health().as_dict() if self.ledger else None}

    def _health_metrics(self) -> Iterable[Metric]:
        h = self.store.health()
        yield health_gauges("ccr_state_store_up", "1 when the shared state store answers",
                            ["backend"], [([h.backend], 0.0 if h.degraded else 1.0)])
        yield health_gauges("ccr_state_local_fallbacks", "Operations served from local memory "
                            "while the state store was away", ["backend"],
                            [([h.backend], float(h.local_fallbacks))])
        if self.ledger is not None:
            lh = self.ledger.health()
            yield health_gauges("ccr_ledger_up", "1 when the ledger accepts writes",
                                ["backend"], [([lh.backend], 0.0 if lh.down else 1.0)])
            yield health_gauges("ccr_ledger_rows", "Ledger rows by fate", ["backend", "fate"],
                                [([lh.backend, "written"], float(lh.written)),
                                 ([lh.backend, "dropped"], float(lh.dropped)),
                                 ([lh.backend, "pending"], float(lh.pending))])


def _fell_back(decision: Any, exchange: Any) -> bool:
    """Answered by another target than the one routing chose (the engine's fallbacks)."""
    chosen = getattr(getattr(decision, "route", None), "name", None)
    answered = getattr(getattr(exchange, "route", None), "name", None)
    return chosen is not None and answered is not None and chosen != answered


def _attempts(exchange: Any, decision: Any) -> int:
    """Upstream attempts: the outcome's own count where the engine keeps one, else one per
    request that reached an upstream (0 for a request refused before routing)."""
    counted = getattr(getattr(exchange, "outcome", None), "attempts", None)
    if isinstance(counted, int) and not isinstance(counted, bool):
        return counted
    return 1 if (exchange is not None or decision is not None) else 0


def _whose(identity: Identity) -> str:
    return f"client {identity.client!r}" if identity.client else "this key"


def _usage_from(record: Any) -> SessionUsage | None:
    if not isinstance(record, dict):
        return None
    names = {f.name for f in dataclasses.fields(SessionUsage)}
    try:
        return SessionUsage(**{k: v for k, v in record.items() if k in names})
    except TypeError:
        return None
