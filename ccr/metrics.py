"""Prometheus metrics: what ``/metrics`` reports about requests, tokens, cost, latency, the
router script, and the health of the ledger and the state store.

Each :class:`Metrics` has its own registry (several servers can live in one test process).
With ``PROMETHEUS_MULTIPROC_DIR`` set, prometheus-client's multiprocess mode is used, so a
scrape of any worker reports the sum over all workers of one machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)
_ADDED_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class _Health(Collector):
    """Health gauges read at scrape time from callbacks (ledger, state store)."""

    def __init__(self) -> None:
        self.sources: list[Callable[[], Iterable[Metric]]] = []

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source()


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = multiprocess_dir() is not None
        r = self.registry
        self.requests = Counter("ccr_requests", "Messages requests answered",
                                ("route", "rule", "status", "client"), registry=r)
        self.tokens = Counter("ccr_tokens", "Tokens as the providers reported them",
                              ("route", "kind"), registry=r)
        self.cost = Counter("ccr_cost_usd", "Cost in USD at the configured prices", ("route",),
                            registry=r)
        self.upstream_latency = Histogram(
            "ccr_upstream_latency_seconds", "Request sent to upstream response headers",
            ("provider",), buckets=_LATENCY_BUCKETS, registry=r)
        self.ttfb = Histogram(
            "ccr_time_to_first_byte_seconds", "Request arrival to the first byte sent back",
            ("route",), buckets=_LATENCY_BUCKETS, registry=r)
        self.added = Histogram(
            "ccr_added_seconds", "ccr's own time before the upstream was called (parse, "
            "limits, routing, conversion)", buckets=_ADDED_BUCKETS, registry=r)
        self.fallbacks = Counter("ccr_fallbacks", "Requests answered by a fallback target",
                                 ("route",), registry=r)
        self.retries = Counter("ccr_retries", "Upstream attempts retried", ("provider",),
                               registry=r)
        self.cooldowns = Counter("ccr_cooldowns", "Providers put in cooldown", ("provider",),
                                 registry=r)
        self.script_calls = Counter("ccr_router_script_calls", "Router script calls",
                                    registry=r)
        self.script_errors = Counter("ccr_router_script_errors",
                                     "Router script calls that failed", registry=r)
        self.script_timeouts = Counter("ccr_router_script_timeouts",
                                       "Router script calls that ran out of time", registry=r)
        self.rejected = Counter("ccr_requests_rejected", "Requests refused before routing",
                                ("reason", "client"), registry=r)
        gauge_mode: dict[str, Any] = {"multiprocess_mode": "livesum"} if self.multiprocess else {}
        self.in_flight = Gauge("ccr_requests_in_flight", "Requests being served", registry=r,
                               **gauge_mode)
        self.queued = Gauge("ccr_requests_queued",
                            "Requests waiting for a MAX_CONCURRENT_REQUESTS slot", registry=r,
                            **gauge_mode)
        self._health = _Health()
        r.register(self._health)

    def add_health(self, source: Callable[[], Iterable[Metric]]) -> None:
        """Gauges computed at scrape time (this process's view of the ledger and state)."""
        self._health.sources.append(source)

    # -- recording -------------------------------------------------------------------------------

    def request_done(self, *, route: str | None, rule: str | None, status: int,
                     client: str | None, usage: dict[str, int] | None,
                     cost: float | None) -> None:
        route_label = route or "none"
        self.requests.labels(route_label, rule or "none", str(status), client or "").inc()
        if usage:
            for kind in TOKEN_KINDS:
                count = usage.get(f"{kind}_tokens", 0)
                if count:
                    self.tokens.labels(route_label, kind).inc(count)
        if cost:
            self.cost.labels(route_label).inc(cost)

    def script_call(self, error: str | None) -> None:
        self.script_calls.inc()
        if error:
            self.script_errors.inc()
            if "timed out" in error or "timeout" in error.lower():
                self.script_timeouts.inc()

    # -- exposition ------------------------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """The text exposition (all workers' sums in multiprocess mode) and its content type."""
        if not self.multiprocess:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        scrape = CollectorRegistry()
        multiprocess.MultiProcessCollector(scrape)
        scrape.register(self._health)
        return generate_latest(scrape), CONTENT_TYPE_LATEST


def health_gauges(name: str, help_text: str, labels: list[str],
                  values: Iterable[tuple[list[str], float]]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text, labels=labels)
    for label_values, value in values:
        family.add_metric(label_values, value)
    return family
