"""Switching providers mid-conversation: a fallback (or a session that already switched) sends
the history without the other provider's reasoning signatures, so strict providers accept it.

The strict fakes answer as the real providers do: Gemini 400s on a thought signature it did
not issue, or on a model turn whose function call carries none; DeepSeek 400s on an assistant
tool-call turn without ``reasoning_content``."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ccr.engine.handover import without_foreign_reasoning
from tests.support.fake_gemini import (
    FakeGemini,
    GeminiReply,
    GeminiRequest,
    answer,
    gemini_error,
    say,
)
from tests.support.fake_upstream import FakeUpstream, Recorded, Reply, error, text
from tests.support.fault_upstream import server_error
from tests.support.fixtures import MakeCcr
from tests.test_transformer_anthropic import FakeAnthropic

GEMINI_SIGNATURE = "CiQBcsjafGeminiIssuedSignature0001"
ANTHROPIC_SIGNATURE = "EqQBCkgIARABGAIiQAnthropicIssuedSignature"
DUMMY = "skip_thought_signature_validator"
BASH = {"name": "Bash", "description": "run a command",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}
SESSION = "7c3f0a52-0000-4000-8000-00000000abcd"


def history(signature: str) -> dict[str, Any]:
    """A thinking turn that called Bash (signed by some provider), and the tool's result."""
    return {
        "model": "claude-sonnet-5", "max_tokens": 1024, "stream": False, "tools": [BASH],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "metadata": {"user_id": f"user_x_account__session_{SESSION}"},
        "messages": [
            {"role": "user", "content": "what files are here?"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I should run ls.", "signature": signature},
                {"type": "tool_use", "id": "toolu_01", "name": "Bash",
                 "input": {"command": "ls"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "a.txt"}]},
        ],
    }


# -- the pure function -----------------------------------------------------------------------


def test_thinking_blocks_are_left_out_of_assistant_turns() -> None:
    body = history(ANTHROPIC_SIGNATURE)
    before = copy.deepcopy(body)
    cleaned = without_foreign_reasoning(body, anthropic=False)
    assert [b["type"] for b in cleaned["messages"][1]["content"]] == ["tool_use"]
    assert cleaned["thinking"] == body["thinking"]
    assert body == before


def test_an_anthropic_target_gets_thinking_off_when_the_last_turn_called_tools() -> None:
    cleaned = without_foreign_reasoning(history(GEMINI_SIGNATURE), anthropic=True)
    assert "thinking" not in cleaned


def test_an_assistant_turn_of_only_thinking_is_left_out() -> None:
    body = {"messages": [{"role": "user", "content": "a"},
                         {"role": "assistant", "content": [{"type": "redacted_thinking",
                                                            "data": "x"}]},
                         {"role": "user", "content": "b"}]}
    cleaned = without_foreign_reasoning(body, anthropic=True)
    assert [m["role"] for m in cleaned["messages"]] == ["user", "user"]


def test_a_history_without_thinking_is_returned_as_is() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "thinking": {"type": "enabled"}}
    assert without_foreign_reasoning(body, anthropic=True) is body


# -- strict fakes ------------------------------------------------------------------------------


class StrictGemini:
    """Gemini's checks on the history: every signature must be one Gemini issued (or the
    documented placeholder), and a model turn's first function call must carry one."""

    def __init__(self, issued: set[str]) -> None:
        self.issued = issued
        self.rejections: list[str] = []

    def __call__(self, request: GeminiRequest) -> GeminiReply | None:
        for content in request.contents:
            if content.get("role") != "model":
                continue
            parts = content.get("parts") or []
            for part in parts:
                signature = part.get("thoughtSignature")
                if signature and signature != DUMMY and signature not in self.issued:
                    return self._reject("Corrupted thought signature.")
            calls = [p for p in parts if "functionCall" in p]
            if calls and not calls[0].get("thoughtSignature"):
                return self._reject("Function call is missing a thought_signature in "
                                    "functionCall parts.")
        return None

    def _reject(self, message: str) -> GeminiReply:
        self.rejections.append(message)
        return gemini_error(400, message)


def strict_deepseek(request: Recorded) -> Reply | None:
    for index, message in enumerate(request.messages):
        if message.get("role") == "assistant" and message.get("tool_calls") \
                and "reasoning_content" not in message:
            return error(400, {"error": {"message": "Missing `reasoning_content` field in the "
                                         f"assistant message at message index {index}"}})
    return None


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def native() -> Iterator[FakeAnthropic]:
    upstream = FakeAnthropic()
    yield upstream
    upstream.stop()


def providers(**urls: str) -> list[dict[str, Any]]:
    found = {
        "gemini": {"name": "gemini", "api_key": "gem-key-000000000000",
                   "models": ["gemini-3-pro-preview"], "transformer": {"use": ["gemini"]}},
        "deepseek": {"name": "deepseek", "api_key": "sk-deepseek-00000000",
                     "models": ["deepseek-reasoner"], "transformer": {"use": ["deepseek"]}},
        "native": {"name": "native", "api_key": "sk-native-000000000",
                   "models": ["glm-4.6"], "transformer": {"use": ["Anthropic"]}},
        "openai": {"name": "openai", "api_key": "sk-openai-00000000", "models": ["fake-model"]},
    }
    return [{**found[name], "api_base_url": url} for name, url in urls.items()]


ROUTES = {"gemini": "gemini,gemini-3-pro-preview", "deepseek": "deepseek,deepseek-reasoner",
          "native": "native,glm-4.6", "openai": "openai,fake-model"}


def serve(make_ccr: MakeCcr, primary: str, fallback: str, **urls: str) -> str:
    server = make_ccr({
        "Providers": providers(**urls),
        "Router": {"default": ROUTES[primary], "think": ROUTES[primary]},
        "fallback": {"default": [ROUTES[fallback]], "think": [ROUTES[fallback]]},
        "RETRY": {"max_retries": 0}, "LOG": False,
    })
    return f"{server.base_url}/v1/messages"


def test_an_anthropic_signed_history_falls_back_to_a_strict_gemini(
        make_ccr: MakeCcr, fake: FakeUpstream, gemini: FakeGemini) -> None:
    strict = StrictGemini(issued={GEMINI_SIGNATURE})
    gemini.handler = strict
    gemini.default = answer(say("a.txt is there"))
    url = serve(make_ccr, "openai", "gemini", openai=fake.chat_url,
                gemini=gemini.api_base_url)
    fake.enqueue(server_error(503))

    response = httpx.post(url, json=history(ANTHROPIC_SIGNATURE), timeout=20)

    assert response.status_code == 200, response.text
    assert response.headers["x-ccr-route"] == ROUTES["gemini"]
    assert strict.rejections == []
    model_turn = next(c for c in gemini.requests[-1].contents if c.get("role") == "model")
    assert model_turn["parts"][0]["thoughtSignature"] == DUMMY


def test_a_gemini_signed_history_falls_back_to_a_strict_deepseek(
        make_ccr: MakeCcr, fake: FakeUpstream, gemini: FakeGemini) -> None:
    gemini.default = gemini_error(503, "The model is overloaded.")
    fake.handler = strict_deepseek
    fake.default = text("a.txt is there")
    url = serve(make_ccr, "gemini", "deepseek", gemini=gemini.api_base_url,
                deepseek=fake.chat_url)

    response = httpx.post(url, json=history(GEMINI_SIGNATURE), timeout=20)

    assert response.status_code == 200, response.text
    assert response.headers["x-ccr-fallback-from"] == ROUTES["gemini"]
    assert GEMINI_SIGNATURE.encode() not in fake.chat_requests[-1].raw


def test_a_gemini_signed_history_falls_back_to_an_anthropic_provider_without_it(
        make_ccr: MakeCcr, gemini: FakeGemini, native: FakeAnthropic) -> None:
    gemini.default = gemini_error(503, "The model is overloaded.")
    url = serve(make_ccr, "gemini", "native", gemini=gemini.api_base_url, native=native.url)

    response = httpx.post(url, json=history(GEMINI_SIGNATURE), timeout=20)

    assert response.status_code == 200, response.text
    sent = native.requests[-1]["body"]
    assert GEMINI_SIGNATURE not in str(sent)
    assert "thinking" not in sent  # its last turn called a tool without a thinking of its own
    assert [b["type"] for b in sent["messages"][1]["content"]] == ["tool_use"]


def test_a_session_that_switched_goes_back_to_a_strict_primary_without_foreign_signatures(
        make_ccr: MakeCcr, gemini: FakeGemini, native: FakeAnthropic) -> None:
    strict = StrictGemini(issued={GEMINI_SIGNATURE})
    gemini.handler = strict
    gemini.enqueue(gemini_error(503, "The model is overloaded."))
    gemini.default = answer(say("back on gemini"))
    url = serve(make_ccr, "gemini", "native", gemini=gemini.api_base_url, native=native.url)
    first = {**history(GEMINI_SIGNATURE), "messages": history(GEMINI_SIGNATURE)["messages"][:1]}
    assert httpx.post(url, json=first, timeout=20).headers["x-ccr-route"] == ROUTES["native"]

    # The next turn carries the Anthropic provider's signed thinking; Gemini is back.
    response = httpx.post(url, json=history(ANTHROPIC_SIGNATURE), timeout=20)

    assert response.status_code == 200, response.text
    assert response.headers["x-ccr-route"] == ROUTES["gemini"]
    assert strict.rejections == []
