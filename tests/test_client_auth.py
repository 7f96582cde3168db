"""ccr's own APIKEY: a wrong key is refused at once with a message naming APIKEY, and logged
once per interval (never the key)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from ccr.errors import AuthenticationFailed
from ccr.server.auth import RefusalLog, refusal
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.resilience_helpers import FakeClock

APIKEY = "ccr-client-key-for-tests"
REQUEST: dict[str, Any] = {"model": "m", "max_tokens": 8,
                           "messages": [{"role": "user", "content": "hi"}]}


def test_a_wrong_key_names_ccrs_apikey_and_says_not_to_retry() -> None:
    error = refusal("not-the-key", "/v1/messages", RefusalLog())
    assert isinstance(error, AuthenticationFailed) and error.status == 401
    assert "APIKEY" in error.message and "/login" not in error.message
    assert error.headers["x-should-retry"] == "false"


def test_a_missing_key_says_none_was_sent() -> None:
    assert "no key was sent" in refusal(None, "/v1/messages", RefusalLog()).message


def test_refusals_are_logged_once_per_interval_and_count_the_rest(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    refusals = RefusalLog(60, clock)
    with caplog.at_level(logging.WARNING, logger="ccr"):
        for _ in range(50):
            refusal("wrong-secret-value", "/v1/messages", refusals)
        clock.advance(61)
        refusal("wrong-secret-value", "/v1/messages", refusals)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "refused /v1/messages: the client key does not match APIKEY",
        "refused /v1/messages: the client key does not match APIKEY (49 more since the last "
        "such line)",
    ]
    assert "wrong-secret-value" not in caplog.text


def test_the_server_answers_a_wrong_key_at_once_with_the_message(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    server = make_ccr(fake_config(fake, APIKEY=APIKEY))
    response = httpx.post(f"{server.base_url}/v1/messages", json=REQUEST, timeout=5,
                          headers={"x-api-key": "wrong"})
    assert response.status_code == 401
    assert response.headers["x-should-retry"] == "false"
    assert "ccr's APIKEY" in response.json()["error"]["message"]
    assert fake.chat_requests == []
