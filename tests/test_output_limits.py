"""Self-tuning ``max_tokens``: a provider's 400 naming its output limit is learned, the request
retried once clamped, later requests clamped before they go out, and ``ccr status`` shows it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccr.cli.status import _print_status
from ccr.context.output_limits import OutputLimits, clamp, limit_from_error
from ccr.errors import ApiError
from tests.support.fake_upstream import FakeUpstream, error, text
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.gateway_client import Sdk

OPENAI_400 = ("max_tokens is too large: 32000. This model supports at most 16384 completion "
              "tokens, whereas you provided 32000.")


@pytest.mark.parametrize(("message", "limit"), [
    (OPENAI_400, 16384),
    ("Invalid max_tokens value, the valid range of max_tokens is [1, 8192]", 8192),
    ("max_tokens: 64000 > 32000, which is the maximum allowed number of output tokens for "
     "claude-opus-4-1-20250805", 32000),
    ("`max_tokens` must be less than or equal to `8192`, the maximum value for `max_tokens` is "
     "less than the `context_window` for this model", 8192),
    ("Unable to submit request because it has a maxOutputTokens value of 100000 but the "
     "supported range is from 1 (inclusive) to 65537 (exclusive). Update the value and try "
     "again.", 65536),
    ("max_completion_tokens must be at most 4096", 4096),
], ids=["openai", "deepseek", "anthropic", "groq", "vertex", "generic"])
def test_each_providers_wording_names_the_limit(message: str, limit: int) -> None:
    assert limit_from_error(f"provider p answered HTTP 400 (Bad Request): {message}",
                            100000) == limit


@pytest.mark.parametrize("message", [
    "messages.1.content: tool_result block without a matching tool_use",
    "This model's maximum context length is 32768 tokens. However, you requested 40000 tokens",
    "temperature must be at most 2",
])
def test_other_400s_name_no_limit(message: str) -> None:
    assert limit_from_error(message, 32000) is None


def test_a_limit_not_below_the_request_is_not_a_limit_to_learn() -> None:
    assert limit_from_error(OPENAI_400, 16000) is None


def test_clamp_lowers_max_tokens_and_a_thinking_budget_that_no_longer_fits() -> None:
    body = {"max_tokens": 32000, "thinking": {"type": "enabled", "budget_tokens": 31999}}
    assert clamp(body, 8192) == {"max_tokens": 8192,
                                 "thinking": {"type": "enabled", "budget_tokens": 8191}}
    assert body["max_tokens"] == 32000  # the client's body is not changed


def test_clamp_drops_thinking_with_no_room_left() -> None:
    out = clamp({"max_tokens": 4000, "thinking": {"type": "enabled", "budget_tokens": 2000}},
                1000)
    assert out == {"max_tokens": 1000}


def test_clamp_leaves_a_smaller_request_alone() -> None:
    body = {"max_tokens": 100}
    assert clamp(body, 8192) is body


class _Upstream:
    """A send function that refuses max_tokens above ``limit`` with ``message``."""

    def __init__(self, limit: int, message: str = OPENAI_400, status: int = 400) -> None:
        self.limit, self.message, self.status = limit, message, status
        self.sent: list[int] = []

    async def __call__(self, body: dict[str, Any]) -> str:
        self.sent.append(body["max_tokens"])
        if body["max_tokens"] > self.limit:
            raise ApiError(f"provider p answered HTTP {self.status}: {self.message}",
                           self.status)
        return "ok"


async def test_learns_retries_once_and_clamps_from_then_on(
    caplog: pytest.LogCaptureFixture
) -> None:
    limits, upstream = OutputLimits(), _Upstream(16384)
    with caplog.at_level(logging.WARNING, logger="ccr"):
        assert await limits.open("p", "m", {"max_tokens": 32000}, upstream) == "ok"
        assert await limits.open("p", "m", {"max_tokens": 32000}, upstream) == "ok"
    assert upstream.sent == [32000, 16384, 16384]
    assert [r.getMessage() for r in caplog.records].count(
        "p,m accepts at most 16384 output tokens: max_tokens is clamped to that from now on") == 1
    assert limits.snapshot()[0]["max_tokens"] == 16384


async def test_a_second_refusal_reaches_the_client() -> None:
    limits = OutputLimits()
    upstream = _Upstream(100, message=OPENAI_400)  # says 16384 but refuses that too
    with pytest.raises(ApiError):
        await limits.open("p", "m", {"max_tokens": 32000}, upstream)
    assert upstream.sent == [32000, 16384]


async def test_other_errors_are_not_retried() -> None:
    limits, upstream = OutputLimits(), _Upstream(1, message=OPENAI_400, status=429)
    with pytest.raises(ApiError):
        await limits.open("p", "m", {"max_tokens": 32000}, upstream)
    assert upstream.sent == [32000]
    assert limits.snapshot() == []


# --------------------------------------------------------------------------------------------
# Through a real server


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_first_run_400_becomes_an_answer_and_the_limit_is_remembered(
    fake: FakeUpstream, make_ccr: MakeCcr, streamed: bool
) -> None:
    server = make_ccr(fake_config(fake))
    sdk = Sdk.on(server)
    fake.enqueue(error(400, {"error": {"message": OPENAI_400, "type": "invalid_request_error",
                                       "param": "max_tokens"}}), text("Hello."), text("Again."))

    first = sdk.ask(streamed, max_tokens=32000)
    second = sdk.ask(streamed, max_tokens=32000)

    assert first.content[0].text == "Hello."  # type: ignore[union-attr]
    assert second.content[0].text == "Again."  # type: ignore[union-attr]
    assert [r.body["max_tokens"] for r in fake.chat_requests] == [32000, 16384, 16384]  # type: ignore[index]
    health = httpx.get(server.base_url + "/health").json()
    assert health["learned_limits"] == [{"route": "fake,fake-model", "max_tokens": 16384,
                                         "learned_at": health["learned_limits"][0]["learned_at"]}]


def test_status_lists_learned_limits(capsys: pytest.CaptureFixture[str]) -> None:
    _print_status({"running": True, "url": "http://127.0.0.1:3456", "pid": 1, "healthy": True,
                   "uptime_s": 5, "version": "x", "config": None, "requests": 2, "errors": 0,
                   "started_by": "ccr start", "code_sessions": 0, "reload_error": None,
                   "stale_pid_file": False,
                   "learned_limits": [{"route": "deepseek,deepseek-chat", "max_tokens": 8192,
                                       "learned_at": 1.0}]})
    out = capsys.readouterr().out
    assert "deepseek,deepseek-chat: max_tokens 8192 (learned from the provider)" in out


def test_a_limit_learned_by_one_instance_holds_for_another_sharing_the_state_store(
    fake: FakeUpstream, make_ccr: MakeCcr, tmp_path: Path
) -> None:
    config = fake_config(fake, STATE={"url": f"sqlite://{tmp_path / 'state.db'}"})
    first, second = make_ccr(config), make_ccr(config)
    fake.enqueue(error(400, {"error": {"message": OPENAI_400}}), text("one"), text("two"))

    Sdk.on(first).create(max_tokens=32000)
    Sdk.on(second).create(max_tokens=32000)

    assert [r.body["max_tokens"] for r in fake.chat_requests] == [32000, 16384, 16384]  # type: ignore[index]
