"""The gateway's after-step on its own: what a row and the metrics say when the engine
answered from a fallback target after retries (the engine's fallbacks report through the
exchange's route and its outcome's attempt count)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ccr.config import parse_config
from ccr.engine.roundtrip import Outcome
from ccr.ledger import LedgerWriter, SqliteLedger
from ccr.routing.context import Route
from ccr.server.auth import Identity
from ccr.server.gateway import Gateway, Ticket
from ccr.state import MemoryStore
from tests.support.teams_helpers import ledger_rows, metric_samples

CONFIG = parse_config({"Providers": [
    {"name": "a", "api_base_url": "http://127.0.0.1:9/v1/chat/completions", "models": ["m"]},
    {"name": "b", "api_base_url": "http://127.0.0.1:9/v1/chat/completions", "models": ["m"]}],
    "Router": {"default": "a,m"}, "PRICES": {"b,m": {"input": 1, "output": 1}}}, env={})


@dataclass
class Decided:
    route: Route
    rule: str = "default"
    script_ms: float | None = None
    script_error: str | None = None
    ctx: Any = None


@dataclass
class Answered:
    route: Route
    outcome: Any = field(default_factory=Outcome)


@dataclass
class CountedOutcome(Outcome):
    attempts: int = 1


def routes() -> tuple[Route, Route]:
    a, b = CONFIG.providers
    return Route(a, "m", "default"), Route(b, "m", "fallback")


async def test_a_fallback_answer_is_marked_and_its_retries_counted(tmp_path: Any) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.db")
    writer = LedgerWriter(ledger, flush_s=0.01)
    gateway = Gateway(MemoryStore(), writer)
    await gateway.start()
    first, second = routes()
    outcome = CountedOutcome(usage={"input_tokens": 100, "output_tokens": 10}, attempts=3)
    ticket = Ticket(Identity("alice", False, True), "s1", None)
    gateway.done(CONFIG, ticket, decision=Decided(first), exchange=Answered(second, outcome),
                 status=200, first_byte_s=0.01, added_s=0.001)
    await asyncio.sleep(0.05)
    assert await writer.flush()
    [total] = await ledger.totals()
    assert total.requests == 1 and total.cost_usd == 110 / 1_000_000
    [row] = ledger_rows(tmp_path / "ledger.db")
    assert (row["route"], row["fallback"], row["attempts"]) == ("b,m", 1, 3)
    text = gateway.metrics.render()[0].decode()
    assert metric_samples(text, "ccr_fallbacks_total") == {(("route", "b,m"),): 1.0}
    assert metric_samples(text, "ccr_retries_total") == {(("provider", "b"),): 2.0}
    await gateway.aclose()


async def test_the_routed_target_answering_is_no_fallback(tmp_path: Any) -> None:
    gateway = Gateway(MemoryStore(), None)
    first, _ = routes()
    ticket = Ticket(Identity(None, False, True), None, None)
    gateway.done(CONFIG, ticket, decision=Decided(first), exchange=Answered(first),
                 status=200, first_byte_s=None, added_s=None)
    await asyncio.sleep(0.02)
    text = gateway.metrics.render()[0].decode()
    assert metric_samples(text, "ccr_fallbacks_total") == {}
    assert metric_samples(text, "ccr_requests_total") == {
        (("client", ""), ("route", "a,m"), ("rule", "default"), ("status", "200")): 1.0}
