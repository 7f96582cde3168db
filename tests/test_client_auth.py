"""ccr's own APIKEY: a wrong key is refused at once with a message naming APIKEY, and logged
once per interval (never the key)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from ccr.errors import AuthenticationFailed
from ccr.server.auth import RefusalLog, check_client
from tests.conftest import MakeCcr, fake_config
from tests.fake_upstream import FakeUpstream
from tests.resilience_helpers import FakeClock

APIKEY = "ccr-client-key-for-tests"
REQUEST: dict[str, Any] = {"model": "m", "max_tokens": 8,
                           "messages": [{"role": "user", "content": "hi"}]}


def test_a_wrong_key_names_ccrs_apikey_and_says_not_to_retry() -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        check_client({"x-api-key": "not-the-key"}, APIKEY, "/v1/messages", RefusalLog())
    error = caught.value
    assert error.status == 401
    assert "APIKEY" in error.message and "/login" not in error.message
    assert error.headers["x-should-retry"] == "false"


def test_a_missing_key_says_none_was_sent() -> None:
    with pytest.raises(AuthenticationFailed, match="no key was sent"):
        check_client({}, APIKEY, "/v1/messages", RefusalLog())


def test_the_right_key_passes_as_bearer_or_x_api_key() -> None:
    check_client({"authorization": f"Bearer {APIKEY}"}, APIKEY, "/v1/messages", RefusalLog())
    check_client({"x-api-key": APIKEY}, APIKEY, "/v1/messages", RefusalLog())


def test_refusals_are_logged_once_per_interval_and_count_the_rest(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    refusals = RefusalLog(60, clock)
    with caplog.at_level(logging.WARNING, logger="ccr"):
        for _ in range(50):
            with pytest.raises(AuthenticationFailed):
                check_client({"x-api-key": "wrong-secret-value"}, APIKEY, "/v1/messages",
                             refusals)
        clock.advance(61)
        with pytest.raises(AuthenticationFailed):
            check_client({"x-api-key": "wrong-secret-value"}, APIKEY, "/v1/messages", refusals)
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
