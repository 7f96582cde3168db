"""Failing over through a real ccr server: fault-injecting fake providers on loopback, and
what the client sees (answers, headers, errors, timing)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.anthropic_stream_check import check_stream
from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import FakeUpstream, Recorded, Reply, text
from tests.support.fault_upstream import (
    broken_after_first_event,
    broken_before_first_event,
    context_too_long,
    key_of,
    rate_limited,
    refuse_keys,
    refused_url,
    reset_before_first_byte,
    server_error,
)
from tests.support.fixtures import MakeCcr
from tests.support.gateway_client import sse_events
from tests.support.teams_helpers import ledger_rows, wait_for

KEY_ONE = "sk-primary-key-one-0000aaaa"
KEY_TWO = "sk-primary-key-two-0000bbbb"
REQUEST: dict[str, Any] = {"model": "claude-sonnet-5", "max_tokens": 64,
                           "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def backup() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        upstream.default = text("from the backup")
        yield upstream


def config(primary_url: str, backup: FakeUpstream, **extra: Any) -> dict[str, Any]:
    """``primary`` (two models; its key pool when ``keys`` is given) and ``backup``, with a
    CCR v2 fallback section and quick retries."""
    keys = extra.pop("keys", "sk-primary-single-key-0000")
    return {
        "Providers": [
            {"name": "primary", "api_base_url": primary_url, "api_key": keys,
             "models": ["fake-model", "fake-model-large"]},
            {"name": "backup", "api_base_url": backup.chat_url, "api_key": "sk-backup-0000cccc",
             "models": ["fake-model"]},
        ],
        "Router": {"default": "primary,fake-model"},
        "fallback": {"default": ["backup,fake-model"]},
        "RETRY": {"max_retries": 1, "backoff_ms": 20, "max_retry_wait_ms": 2000},
        "COOLDOWN": {"failures": 3, "window_s": 60, "cooldown_s": 30},
        "LOG": False,
        **extra,
    }


def post(server: CcrServer, body: dict[str, Any] | None = None,
         **headers: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/messages", json=body or REQUEST, timeout=20,
                      headers=headers)


def answer_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return "".join(b.get("text", "") for b in response.json()["content"])


# -- the fallback is taken ---------------------------------------------------------------------


def test_a_ccr_v2_fallback_section_is_taken_when_the_primary_fails(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup))
    fake.enqueue(server_error(500), server_error(503))

    response = post(server)

    assert answer_text(response) == "from the backup"
    assert response.headers["x-ccr-route"] == "backup,fake-model"
    assert response.headers["x-ccr-rule"] == "default, fallback"
    assert response.headers["x-ccr-fallback-from"] == "primary,fake-model"
    assert response.headers["x-ccr-attempts"] == "3"
    assert len(fake.chat_requests) == 2 and len(backup.chat_requests) == 1


def test_an_answer_without_fallback_says_so_in_its_headers(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup))

    response = post(server)

    assert response.headers["x-ccr-route"] == "primary,fake-model"
    assert response.headers["x-ccr-rule"] == "default"
    assert response.headers["x-ccr-attempts"] == "1"
    assert "x-ccr-fallback-from" not in response.headers


def test_a_short_retry_after_is_waited_out_and_the_same_target_answers(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup))
    fake.enqueue(rate_limited(0.4), text("primary after the wait"))

    started = time.monotonic()
    response = post(server)
    elapsed = time.monotonic() - started

    assert answer_text(response) == "primary after the wait"
    assert elapsed >= 0.4
    assert response.headers["x-ccr-attempts"] == "2"
    assert backup.chat_requests == []


def test_retry_after_ms_is_honoured_too(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup))
    fake.enqueue(rate_limited(0.25, in_ms=True), text("primary again"))

    started = time.monotonic()
    assert answer_text(post(server)) == "primary again"
    assert time.monotonic() - started >= 0.25


def test_a_long_retry_after_moves_to_the_fallback_at_once(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup))
    fake.enqueue(rate_limited(30))

    started = time.monotonic()
    response = post(server)

    assert answer_text(response) == "from the backup"
    assert time.monotonic() - started < 1.0
    assert len(fake.chat_requests) == 1


def test_a_refused_connection_falls_back(make_ccr: MakeCcr, backup: FakeUpstream) -> None:
    server = make_ccr(config(refused_url(), backup))

    response = post(server)

    assert answer_text(response) == "from the backup"
    assert response.headers["x-ccr-fallback-from"] == "primary,fake-model"


def test_a_reset_before_the_first_byte_falls_back(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup, RETRY={"max_retries": 0}))
    fake.enqueue(reset_before_first_byte())

    assert answer_text(post(server)) == "from the backup"


def test_a_stream_that_breaks_before_its_first_event_falls_back_to_one_clean_stream(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup, RETRY={"max_retries": 0}))
    fake.enqueue(broken_before_first_event())

    response = post(server, {**REQUEST, "stream": True})

    assert response.status_code == 200
    assert response.headers["x-ccr-route"] == "backup,fake-model"
    message = check_stream(sse_events(response.content))
    assert message["content"] == [{"type": "text", "text": "from the backup"}]


def test_a_failure_after_the_first_event_ends_the_stream_with_an_error_and_no_second_answer(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup))
    fake.enqueue(broken_after_first_event("one two three four five six"))

    response = post(server, {**REQUEST, "stream": True})

    events = sse_events(response.content)
    names = [name for name, _ in events]
    assert response.status_code == 200 and names[-1] == "error"
    assert names.count("message_start") == 1
    said = "".join(d["delta"].get("text", "") for n, d in events if n == "content_block_delta")
    assert said and "one two three four five six".startswith(said)
    assert backup.chat_requests == []


# -- cooldown ------------------------------------------------------------------------------------


def test_three_failures_cool_the_provider_and_later_requests_skip_it_without_calling_it(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup, RETRY={"max_retries": 0}))
    fake.enqueue(server_error(), server_error(), server_error())
    for _ in range(3):
        assert answer_text(post(server)) == "from the backup"

    response = post(server)

    assert answer_text(response) == "from the backup"
    assert len(fake.chat_requests) == 3
    assert response.headers["x-ccr-attempts"] == "1"


def test_after_the_cooldown_a_single_probe_brings_the_provider_back(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup, RETRY={"max_retries": 0},
                             COOLDOWN={"failures": 2, "window_s": 60, "cooldown_s": 0.3}))
    fake.enqueue(server_error(), server_error())
    post(server)
    post(server)
    assert answer_text(post(server)) == "from the backup"
    assert len(fake.chat_requests) == 2
    time.sleep(0.35)

    probe = post(server)
    after = post(server)

    assert answer_text(probe) == "Hello from fake."
    assert answer_text(after) == "Hello from fake."
    assert len(fake.chat_requests) == 4


# -- key pools -----------------------------------------------------------------------------------


def test_a_429_on_key_one_moves_to_key_two(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup, keys=[KEY_ONE, KEY_TWO]))

    def handler(request: Recorded) -> Reply | None:
        return rate_limited() if key_of(request) == KEY_ONE else text("key two answered")

    fake.handler = handler

    response = post(server)

    assert answer_text(response) == "key two answered"
    assert [key_of(r) for r in fake.chat_requests] == [KEY_ONE, KEY_TWO]
    assert response.headers["x-ccr-attempts"] == "2"


def test_a_401_takes_the_key_out_of_rotation(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup, keys=[KEY_ONE, KEY_TWO]))
    fake.handler = refuse_keys([KEY_ONE])

    for _ in range(4):
        assert answer_text(post(server)) == "Hello from fake."

    assert [key_of(r) for r in fake.chat_requests] == [KEY_ONE, KEY_TWO, KEY_TWO, KEY_TWO,
                                                      KEY_TWO]


def test_requests_spread_over_the_keys_of_a_pool(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup, keys=[KEY_ONE, KEY_TWO]))
    for _ in range(4):
        post(server)
    assert [key_of(r) for r in fake.chat_requests] == [KEY_ONE, KEY_TWO, KEY_ONE, KEY_TWO]


# -- what the client sees when everything failed ------------------------------------------------


def test_every_key_refused_is_printed_at_once_and_never_retried(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    cfg = config(fake.chat_url, backup)
    del cfg["fallback"]
    server = make_ccr(cfg)
    fake.handler = refuse_keys(["sk-primary-single-key-0000"])

    started = time.monotonic()
    response = post(server)

    assert time.monotonic() - started < 1.0
    assert response.status_code == 502
    assert response.headers["x-should-retry"] == "false"
    message = response.json()["error"]["message"]
    assert message.startswith("ccr tried primary,fake-model: 401 (key refused).")
    assert "Check the api_key of primary" in message
    assert "sk-primary-single-key" not in response.text
    assert response.headers["x-ccr-route"] == "primary,fake-model"


def test_a_throttled_end_is_a_429_with_retry_after_naming_each_attempt(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup, RETRY={"max_retries": 0}))
    fake.enqueue(rate_limited(30))
    backup.enqueue(rate_limited(12))

    response = post(server)

    assert response.status_code == 429
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert response.headers["retry-after"] == "12"
    assert response.headers["x-should-retry"] == "true"
    assert ("primary,fake-model: 429 (retry-after 30 s) → backup,fake-model: 429 "
            "(retry-after 12 s)") in response.json()["error"]["message"]


def test_a_request_the_provider_rejects_is_not_sent_to_the_fallback(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup))
    fake.enqueue(server_error(422, "messages[1]: tool_call_id not found"))

    response = post(server)

    assert response.status_code == 422
    assert "tool_call_id not found" in response.json()["error"]["message"]
    assert response.headers["x-should-retry"] == "false"
    assert backup.chat_requests == []


def test_a_context_too_long_moves_to_the_long_context_route(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    cfg = config(fake.chat_url, backup)
    cfg["Router"]["longContext"] = "primary,fake-model-large"
    server = make_ccr(cfg)

    def handler(request: Recorded) -> Reply | None:
        assert request.body is not None
        if request.body["model"] == "fake-model":
            return context_too_long()
        return text("the large model read it all")

    fake.handler = handler

    response = post(server)

    assert answer_text(response) == "the large model read it all"
    assert response.headers["x-ccr-route"] == "primary,fake-model-large"
    assert backup.chat_requests == []


# -- limits --------------------------------------------------------------------------------------



def test_a_queued_request_is_served_when_a_slot_frees(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup, MAX_CONCURRENT_REQUESTS=1))
    fake.default = text("in turn", first_byte_delay_s=0.2)

    async def both() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=20) as client:
            url = f"{server.base_url}/v1/messages"
            return list(await asyncio.gather(client.post(url, json=REQUEST),
                                             client.post(url, json=REQUEST)))

    assert [r.status_code for r in asyncio.run(both())] == [200, 200]


def test_a_ccr_style_rate_limit_answers_429_with_retry_after(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup,
                             RATE_LIMIT={"max": 2, "timeWindow": "1 minute"}))

    responses = [post(server) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[2].json()["error"]["type"] == "rate_limit_error"
    assert 1 <= int(responses[2].headers["retry-after"]) <= 60


def test_provider_max_concurrency_makes_calls_wait_their_turn(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    cfg = config(fake.chat_url, backup)
    cfg["Providers"][0]["max_concurrency"] = 1
    server = make_ccr(cfg)
    fake.default = text("one at a time", first_byte_delay_s=0.2)

    async def three() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=20) as client:
            url = f"{server.base_url}/v1/messages"
            return list(await asyncio.gather(*(client.post(url, json=REQUEST)
                                               for _ in range(3))))

    started = time.monotonic()
    responses = asyncio.run(three())

    assert [r.status_code for r in responses] == [200, 200, 200]
    received = sorted(r.received_at for r in fake.chat_requests)
    assert received[1] - received[0] >= 0.18 and received[2] - received[1] >= 0.18
    assert time.monotonic() - started >= 0.6


def test_a_project_override_file_brings_its_own_fallback(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream, tmp_path: Any) -> None:
    session, project = "2ffc1eea-cfcf-408c-a8bc-5623b6270f2e", "-home-user-app"
    claude_projects = tmp_path / "claude-projects"
    (claude_projects / project).mkdir(parents=True)
    (claude_projects / project / f"{session}.jsonl").write_text('{"type": "user"}\n')
    cfg = config(fake.chat_url, backup)
    cfg["Providers"].append({"name": "third", "api_base_url": refused_url(),
                             "models": ["fake-model"]})
    cfg["fallback"] = {"default": ["third,fake-model"]}
    server = make_ccr(cfg, claude_projects=claude_projects)
    override = tmp_path / "ccr-home" / project / "config.json"
    override.parent.mkdir(parents=True, exist_ok=True)
    override.write_text('{"fallback": {"default": ["backup,fake-model"]}}')
    fake.enqueue(server_error(500), server_error(500))

    response = post(server, **{"x-claude-code-session-id": session})

    assert answer_text(response) == "from the backup"
    assert response.headers["x-ccr-fallback-from"] == "primary,fake-model"


def test_a_request_refused_before_routing_still_says_it_made_no_attempt(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup))

    response = post(server, {"model": "primary,no-such-model", "max_tokens": 8,
                             "messages": [{"role": "user", "content": "hi"}]})

    assert response.status_code == 400
    assert response.headers["x-ccr-attempts"] == "0"
    assert fake.chat_requests == []


def test_the_ledger_row_counts_the_attempts_and_marks_the_fallback(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(config(fake.chat_url, backup))
    fake.enqueue(server_error(500), server_error(500))

    assert answer_text(post(server)) == "from the backup"

    [row] = wait_for(lambda: ledger_rows(server.state.home / "ledger.db"))
    assert (row["route"], row["attempts"], row["fallback"]) == ("backup,fake-model", 3, 1)
