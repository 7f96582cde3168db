"""``cerebras`` and ``vercel``: what each changes on the way out and on the way back."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from ccr.config.model import Provider
from ccr.convert.request import anthropic_to_openai
from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.registry import lookup
from tests.support.fake_upstream import FakeUpstream, Reply, raw_chunks
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.gateway_client import Sdk

PROVIDER = Provider(name="p", api_base_url="http://127.0.0.1:1/v1/chat/completions",
                    models=("m",))


def _make(name: str, options: dict[str, Any] | None = None) -> Transformer:
    cls = lookup(name)
    assert cls is not None
    return cls(options or {})


def _ctx(model: str = "m") -> TransformContext:
    return TransformContext(provider=PROVIDER, model=model, stream=True)


def _unified(**extra: Any) -> dict[str, Any]:
    return anthropic_to_openai({"model": "x", "max_tokens": 10,
                                "messages": [{"role": "user", "content": "hi"}], **extra}, "m")


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


# --------------------------------------------------------------------------------------------
# cerebras


def test_cerebras_keeps_reasoning_on_when_the_client_says_nothing() -> None:
    out = _make("cerebras").transform_request(_unified(), _ctx())
    assert out["disable_reasoning"] is False


def test_cerebras_leaves_the_servers_default_when_thinking_is_asked_for() -> None:
    request = _unified(thinking={"type": "enabled", "budget_tokens": 2000})
    request["reasoning"] = {"effort": "high"}
    out = _make("cerebras").transform_request(request, _ctx())
    assert "disable_reasoning" not in out and "reasoning" not in out


def test_cerebras_turns_reasoning_off_when_the_client_disables_thinking() -> None:
    out = _make("cerebras").transform_request(_unified(thinking={"type": "disabled"}), _ctx())
    assert out["disable_reasoning"] is True


# --------------------------------------------------------------------------------------------
# vercel


def _marked(request: dict[str, Any]) -> dict[str, Any]:
    request["messages"][0]["content"] = [
        {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]
    return request


def test_vercel_strips_cache_marks_for_models_other_than_claude() -> None:
    out = _make("vercel").transform_request(_marked(_unified()), _ctx("openai/gpt-5"))
    assert "cache_control" not in out["messages"][0]["content"][0]


def test_vercel_keeps_cache_marks_for_claude_models() -> None:
    out = _make("vercel").transform_request(_marked(_unified()),
                                            _ctx("anthropic/claude-sonnet-4"))
    assert out["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}


def test_vercel_merges_its_options_into_the_body() -> None:
    options = {"providerOptions": {"gateway": {"order": ["bedrock"]}}}
    out = _make("vercel", options).transform_request(_unified(), _ctx())
    assert out["providerOptions"] == options["providerOptions"]


def test_vercel_replaces_numeric_call_ids_consistently_within_a_stream() -> None:
    vercel, ctx = _make("vercel"), _ctx()
    [first] = vercel.transform_chunk(_chunk({"tool_calls": [
        {"index": 0, "id": "0", "function": {"name": "Bash", "arguments": ""}}]}), ctx)
    [again] = vercel.transform_chunk(_chunk({"tool_calls": [
        {"index": 0, "id": "0", "function": {"arguments": "{}"}}]}), ctx)
    new_id = first["choices"][0]["delta"]["tool_calls"][0]["id"]
    assert new_id.startswith("call_") and new_id != "0"
    assert again["choices"][0]["delta"]["tool_calls"][0]["id"] == new_id


def test_vercel_keeps_real_call_ids() -> None:
    [out] = _make("vercel").transform_chunk(_chunk({"tool_calls": [
        {"index": 0, "id": "call_abc", "function": {"name": "Bash"}}]}), _ctx())
    assert out["choices"][0]["delta"]["tool_calls"][0]["id"] == "call_abc"


def test_vercel_error_finish_becomes_an_upstream_error() -> None:
    [out] = _make("vercel").transform_chunk(
        _chunk({}, "error"), _ctx())
    assert "error" in out


def test_vercel_gives_a_usage_chunk_the_finish_reason_it_lacks() -> None:
    vercel, ctx = _make("vercel"), _ctx()
    vercel.transform_chunk(_chunk({"tool_calls": [
        {"index": 0, "id": "call_1", "function": {"name": "Bash", "arguments": "{}"}}]}), ctx)
    [out] = vercel.transform_chunk(_chunk({}, None, usage={"prompt_tokens": 3}), ctx)
    assert out["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_vercel_gateway_error_reaches_the_client_as_an_anthropic_error(
    fake: FakeUpstream, make_ccr: MakeCcr, streamed: bool
) -> None:
    config = fake_config(fake)
    config["Providers"][0]["transformer"] = {"use": ["vercel"]}
    sdk = Sdk.on(make_ccr(config))
    failing = {"choices": [{"index": 0, "delta": {}, "finish_reason": "error",
                            "error": {"message": "provider overloaded"}}]}
    if streamed:  # every try fails (a failure before any content is tried again)
        fake.handler = lambda request: raw_chunks([_chunk({"content": "par"}), failing])
        with pytest.raises(anthropic.APIStatusError) as caught:
            sdk.stream()
    else:
        fake.handler = lambda request: Reply(kind="plain", status=200, body={
            "choices": [{"index": 0, "finish_reason": "error", "message": {"content": ""},
                         "error": {"message": "provider overloaded"}}]})
        with pytest.raises(anthropic.APIStatusError) as caught:
            sdk.create()
    assert "provider overloaded" in str(caught.value)
