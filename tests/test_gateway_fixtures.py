"""Real Claude Code 2.1 requests replayed through ccr with the official SDK.

Each recorded ``POST /v1/messages?beta=true`` goes out with its own headers and body, streamed
and not, and the fake upstream answers with text or with a tool call; the answers must satisfy
the SDK (and the strict stream validator), and the converted request must be what an OpenAI
server expects. Where the shared recordings are absent their small stand-ins are replayed.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from anthropic.types.beta import BetaMessage

from tests.support.anthropic_stream_check import check_stream
from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import Call, FakeUpstream, Recorded, Reply, Usage, text, tool_calls
from tests.support.fixtures import CLAUDE_CODE_FIXTURES, MakeCcr, claude_code_fixture, fake_config
from tests.support.gateway_client import Sdk, last_chat

_DROPPED_HEADERS = {"content-length", "host", "accept-encoding"}
HEAD_FIXTURE = "00-HEAD-root-connectivity-check"
TOOL_RESULT_FIXTURE = "03-bash-turn2-tool-result"
SUBAGENT_FIXTURE = "10-task-subagent-request"
UPSTREAM_USAGE = Usage(prompt=18123, completion=42, cached=0)
BASH_INPUT = {"command": "echo hi", "description": "Say hi"}


def _post_fixture_names() -> list[str]:
    """Every recorded POST request, by name (recordings, else their stand-ins)."""
    return [name for name in CLAUDE_CODE_FIXTURES
            if claude_code_fixture(name).get("method") == "POST"]


POST_FIXTURES = _post_fixture_names()


def _headers(recorded: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in recorded["headers"].items() if k.lower() not in _DROPPED_HEADERS}


def _replay(sdk: Sdk, recorded: dict[str, Any], *, streamed: bool) -> BetaMessage:
    """Send the recording through the SDK's beta client, to the recorded path and query."""
    body = {k: v for k, v in recorded["body"].items() if k != "stream"}
    path, _, query = recorded["path"].partition("?")
    assert path == "/v1/messages"
    options = {"extra_headers": _headers(recorded), "extra_query": dict(parse_qsl(query)),
               "timeout": 20.0}
    messages = sdk.client.beta.messages
    if not streamed:
        return messages.create(**body, **options)
    with messages.stream(**body, **options) as stream:
        message = stream.get_final_message()
    check_stream(sdk.transport.last_events())
    return message


def _answer(kind: str) -> Reply:
    if kind == "text":
        return text("Hello! How can I help?", usage=UPSTREAM_USAGE)
    return tool_calls([Call("Bash", BASH_INPUT)], usage=UPSTREAM_USAGE)


@pytest.fixture
def sdk(ccr: CcrServer) -> Sdk:
    return Sdk.on(ccr, api_key="test")


@pytest.mark.parametrize("answer", ["text", "tool_call"])
@pytest.mark.parametrize("streamed", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("name", POST_FIXTURES)
def test_recorded_request_gets_an_answer_the_sdk_accepts(
    fake: FakeUpstream, sdk: Sdk, name: str, streamed: bool, answer: str
) -> None:
    recorded = claude_code_fixture(name)
    fake.enqueue(_answer(answer))

    message = _replay(sdk, recorded, streamed=streamed)

    assert str(sdk.transport.requests[-1].url).endswith(recorded["path"])
    assert (message.usage.input_tokens, message.usage.output_tokens) == (18123, 42)
    if answer == "text":
        assert message.stop_reason == "end_turn"
        assert [(b.type, getattr(b, "text", None)) for b in message.content] == [
            ("text", "Hello! How can I help?")
        ]
    else:
        assert message.stop_reason == "tool_use"
        assert [(b.type, getattr(b, "name", None), getattr(b, "input", None))
                for b in message.content] == [("tool_use", "Bash", BASH_INPUT)]
    assert last_chat(fake).stream is streamed


def _upstream_request(fake: FakeUpstream, sdk: Sdk, name: str) -> tuple[dict[str, Any], Recorded]:
    recorded = claude_code_fixture(name)
    fake.enqueue(_answer("text"))
    _replay(sdk, recorded, streamed=True)
    return recorded, last_chat(fake)


@pytest.mark.parametrize("name", POST_FIXTURES)
def test_every_recorded_tool_reaches_the_upstream_as_a_function(
    fake: FakeUpstream, sdk: Sdk, name: str
) -> None:
    recorded, sent = _upstream_request(fake, sdk, name)

    assert sent.body is not None
    functions = [tool["function"]["name"] for tool in sent.body["tools"]]
    assert functions == [tool["name"] for tool in recorded["body"]["tools"]]
    assert all(tool["type"] == "function" for tool in sent.body["tools"])


@pytest.mark.parametrize("name", POST_FIXTURES)
def test_recorded_request_reaches_upstream_without_anthropic_bookkeeping(
    fake: FakeUpstream, sdk: Sdk, name: str
) -> None:
    _, sent = _upstream_request(fake, sdk, name)

    assert sent.body is not None
    assert sent.body["model"] == "fake-model"
    assert b"x-anthropic-billing-header" not in sent.raw
    assert b"cache_control" not in sent.raw
    assert {"metadata", "thinking", "context_management", "output_config"}.isdisjoint(sent.body)


def test_subagent_billing_header_is_gone_and_its_prompt_kept(
    fake: FakeUpstream, sdk: Sdk
) -> None:
    recorded, sent = _upstream_request(fake, sdk, SUBAGENT_FIXTURE)

    assert b"cc_is_subagent" not in sent.raw
    system = sent.messages[0]
    assert system["role"] == "system"
    assert recorded["body"]["system"][2]["text"] in system["content"]


def test_tool_result_directly_follows_the_assistant_call_it_answers(
    fake: FakeUpstream, sdk: Sdk
) -> None:
    recorded, sent = _upstream_request(fake, sdk, TOOL_RESULT_FIXTURE)
    [call_id] = [block["id"] for block in recorded["body"]["messages"][-2]["content"]
                 if block["type"] == "tool_use"]

    messages = sent.messages
    [at] = [i for i, m in enumerate(messages) if m.get("tool_calls")]
    assistant, result = messages[at], messages[at + 1]
    assert [c["id"] for c in assistant["tool_calls"]] == [call_id]
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {
        "command": "echo hi-from-tool", "description": "Print a greeting"}
    assert result == {"role": "tool", "tool_call_id": call_id, "content": "hi-from-tool"}


def test_earlier_thinking_is_not_sent_to_a_plain_openai_upstream(
    fake: FakeUpstream, sdk: Sdk
) -> None:
    recorded, sent = _upstream_request(fake, sdk, TOOL_RESULT_FIXTURE)
    [thinking] = [block for block in recorded["body"]["messages"][-2]["content"]
                  if block["type"] == "thinking"]

    assert all("thinking" not in m and "reasoning_content" not in m for m in sent.messages)
    assert thinking["thinking"].encode() not in sent.raw
    assert thinking["signature"].encode() not in sent.raw


def test_connectivity_check_is_answered_without_auth_even_with_an_api_key(
    fake: FakeUpstream, make_ccr: MakeCcr
) -> None:
    recorded = claude_code_fixture(HEAD_FIXTURE)
    server = make_ccr(fake_config(fake, APIKEY="router-secret"))

    response = httpx.request(recorded["method"], server.base_url + recorded["path"],
                             headers=_headers(recorded), timeout=10)

    assert response.status_code == 200
    assert fake.requests == []
