"""Classifying a failed attempt, and reading retry-after / retry-after-ms."""

from __future__ import annotations

import email.utils

import pytest

from ccr.engine.failures import Failure, Verdict, classify, parse_retry_after


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 529])
def test_throttled_overloaded_and_server_errors_are_transient(status: int) -> None:
    assert classify(Failure("http", status)) is Verdict.TRANSIENT


@pytest.mark.parametrize("kind", ["connect", "connect_timeout", "timeout", "dropped",
                                  "broken_stream"])
def test_network_failures_before_the_first_byte_are_transient(kind: str) -> None:
    assert classify(Failure(kind)) is Verdict.TRANSIENT  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_mean_a_bad_key(status: int) -> None:
    assert classify(Failure("http", status, "invalid api key")) is Verdict.BAD_KEY


@pytest.mark.parametrize("message", [
    "This model's maximum context length is 65536 tokens. However, you requested 90000 tokens",
    "prompt is too long: 210000 tokens > 200000 maximum",
    "context_length_exceeded",
    "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).",
    "Please reduce the length of the messages or completion.",
])
def test_a_400_saying_the_context_is_too_long_asks_for_the_long_context_route(
        message: str) -> None:
    assert classify(Failure("http", 400, message)) is Verdict.CONTEXT_TOO_LONG


@pytest.mark.parametrize("status", [400, 404, 422])
def test_other_4xx_are_the_requests_fault(status: int) -> None:
    assert classify(Failure("http", status, "messages.1.content: invalid")) is Verdict.FATAL


def test_a_429_describes_its_retry_after() -> None:
    assert Failure("http", 429, retry_after_s=30).describe() == "429 (retry-after 30 s)"
    assert Failure("http", 429, retry_after_s=1.5).describe() == "429 (retry-after 1.5 s)"


def test_a_refused_connection_is_described_as_such() -> None:
    failure = Failure("connect", message="ClientConnectorError: Connect call failed "
                      "('127.0.0.1', 9) [Errno 111] Connection refused")
    assert failure.describe() == "connection refused"


def test_a_bad_key_and_a_broken_stream_are_described() -> None:
    assert Failure("http", 401).describe() == "401 (key refused)"
    assert Failure("broken_stream").describe() == "stream ended before its first event"
    assert Failure("timeout").describe() == "timeout before the first byte"


def test_retry_after_seconds() -> None:
    assert parse_retry_after({"Retry-After": "30"}) == 30.0


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "2"}) == 1.5


def test_retry_after_as_an_http_date() -> None:
    now = 1_800_000_000.0
    header = email.utils.formatdate(now + 45, usegmt=True)
    assert parse_retry_after({"retry-after": header}, now=now) == pytest.approx(45, abs=1)


def test_retry_after_in_the_past_means_now() -> None:
    now = 1_800_000_000.0
    header = email.utils.formatdate(now - 100, usegmt=True)
    assert parse_retry_after({"retry-after": header}, now=now) == 0.0


@pytest.mark.parametrize("headers", [{}, {"retry-after": "soon"}, {"retry-after": "-3"},
                                     {"retry-after-ms": "x"}])
def test_unreadable_or_missing_retry_after_is_none(headers: dict[str, str]) -> None:
    assert parse_retry_after(headers) is None


def test_a_failure_inside_ccr_is_answered_at_once() -> None:
    failure = Failure("internal", 500, "custom transformer 'x' failed: boom")
    assert classify(failure) is Verdict.FATAL
    assert failure.describe() == "failed inside ccr"
