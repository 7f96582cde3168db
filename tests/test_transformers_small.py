"""The small request-shaping transformers (``maxtoken``, ``maxcompletiontokens``, ``sampling``,
``customparams``, ``streamoptions``, ``cleancache``, ``reasoning``, ``groq``) one hook at a time,
then a config chaining several of them, provider chain before model chain, through a real
server."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ccr.config.model import Provider
from ccr.convert.request import anthropic_to_openai
from ccr.errors import ConfigError
from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.chain import build_chain
from ccr.transformers.registry import lookup
from tests.support.fake_upstream import FakeUpstream, raw_chunks
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.gateway_client import Sdk

PROVIDER = Provider(name="p", api_base_url="http://127.0.0.1:1/v1/chat/completions",
                    models=("m",))
SCHEMA = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
          "properties": {"command": {"type": "string"}}}


def _make(name: str, options: dict[str, Any] | None = None) -> Transformer:
    cls = lookup(name)
    assert cls is not None, name
    return cls(options)


def _ctx(stream: bool = False) -> TransformContext:
    return TransformContext(provider=PROVIDER, model="m", stream=stream)


def _unified(**extra: Any) -> dict[str, Any]:
    body = {"model": "claude-sonnet-5", "max_tokens": 32000,
            "messages": [{"role": "user", "content": "hi"}], **extra}
    return anthropic_to_openai(body, "m")


def _apply(name: str, options: dict[str, Any] | None = None, *, stream: bool = False,
           **extra: Any) -> dict[str, Any]:
    """``name`` applied to a small request (streamed if ``stream``) with ``extra`` fields."""
    if stream:
        extra["stream"] = True
    return _make(name, options).transform_request(_unified(**extra), _ctx(stream))


def _config_error(name: str, options: dict[str, Any]) -> ConfigError:
    provider = Provider(name="p", api_base_url="http://x", models=("m",),
                        transformer={"use": [[name, options]]})
    with pytest.raises(ConfigError) as caught:
        build_chain(provider, "m", key_path="Providers[0]")
    assert caught.value.key_path == "Providers[0].transformer.use[0]"
    return caught.value


# --------------------------------------------------------------------------------------------
# maxtoken


def test_maxtoken_caps_a_larger_request() -> None:
    assert _apply("maxtoken", {"max_tokens": 8192})["max_tokens"] == 8192


def test_maxtoken_leaves_a_smaller_request_alone() -> None:
    assert _apply("maxtoken", {"max_tokens": 8192}, max_tokens=100)["max_tokens"] == 100


def test_maxtoken_sets_its_limit_when_the_request_has_none() -> None:
    request = _unified()
    del request["max_tokens"]
    assert _make("maxtoken", {"max_tokens": 512}).transform_request(request, _ctx()) \
        ["max_tokens"] == 512


@pytest.mark.parametrize("options", [{}, {"max_tokens": 0}, {"max_tokens": "1k"}])
def test_maxtoken_without_a_positive_limit_is_a_config_error(options: dict[str, Any]) -> None:
    assert "max_tokens" in str(_config_error("maxtoken", options))


# --------------------------------------------------------------------------------------------
# maxcompletiontokens


def test_maxcompletiontokens_renames_max_tokens() -> None:
    out = _apply("maxcompletiontokens")
    assert out["max_completion_tokens"] == 32000
    assert "max_tokens" not in out


def test_maxcompletiontokens_option_caps_the_value() -> None:
    out = _apply("maxcompletiontokens", {"max_completion_tokens": 16000})
    assert out["max_completion_tokens"] == 16000
    assert _apply("maxcompletiontokens", {"max_completion_tokens": 16000},
                  max_tokens=500)["max_completion_tokens"] == 500


def test_maxcompletiontokens_adds_nothing_to_a_request_without_a_limit() -> None:
    request = _unified()
    del request["max_tokens"]
    out = _make("maxcompletiontokens").transform_request(request, _ctx())
    assert "max_tokens" not in out and "max_completion_tokens" not in out


def test_maxcompletiontokens_rejects_a_bad_cap() -> None:
    assert "max_completion_tokens" in str(
        _config_error("maxcompletiontokens", {"max_completion_tokens": -5}))


# --------------------------------------------------------------------------------------------
# sampling


def test_sampling_replaces_the_requests_values() -> None:
    options = {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "repetition_penalty": 1.05}
    out = _apply("sampling", options, temperature=1.0, top_p=0.5)
    assert {k: out[k] for k in options} == options


def test_sampling_null_removes_the_field() -> None:
    out = _apply("sampling", {"temperature": None}, temperature=1.0)
    assert "temperature" not in out


def test_sampling_leaves_fields_it_has_no_option_for() -> None:
    out = _apply("sampling", {"top_k": 40}, temperature=0.7)
    assert out["temperature"] == 0.7


def test_sampling_max_tokens_caps() -> None:
    assert _apply("sampling", {"max_tokens": 4096})["max_tokens"] == 4096
    assert _apply("sampling", {"max_tokens": 4096}, max_tokens=10)["max_tokens"] == 10


@pytest.mark.parametrize(("options", "named"), [
    ({"temperature": "hot"}, "temperature"), ({"top_p": True}, "top_p"),
    ({"max_tokens": 0}, "max_tokens"),
])
def test_sampling_rejects_values_that_are_not_numbers(options: dict[str, Any], named: str) -> None:
    assert named in str(_config_error("sampling", options))


# --------------------------------------------------------------------------------------------
# customparams


def test_customparams_adds_fields_the_request_lacks() -> None:
    out = _apply("customparams", {"response_format": {"type": "json_object"}, "seed": 7})
    assert out["response_format"] == {"type": "json_object"}
    assert out["seed"] == 7


def test_customparams_merges_objects_deeply_with_the_option_winning_inside() -> None:
    out = _apply("customparams", {"stream_options": {"include_usage": False, "extra": {"a": 1}}},
                 stream=True)
    assert out["stream_options"] == {"include_usage": False, "extra": {"a": 1}}


def test_customparams_keeps_a_value_the_request_already_has() -> None:
    assert _apply("customparams", {"temperature": 0.1}, temperature=0.9)["temperature"] == 0.9


def test_customparams_never_shares_its_option_objects_with_a_request() -> None:
    transformer = _make("customparams", {"chat_template_kwargs": {"enable_thinking": False}})
    first = transformer.transform_request(_unified(), _ctx())
    first["chat_template_kwargs"]["enable_thinking"] = True
    second = transformer.transform_request(_unified(), _ctx())
    assert second["chat_template_kwargs"] == {"enable_thinking": False}


@pytest.mark.parametrize("key", ["messages", "model", "stream", "_thinking"])
def test_customparams_refuses_fields_ccr_owns(key: str) -> None:
    assert key in str(_config_error("customparams", {key: {}}))


# --------------------------------------------------------------------------------------------
# streamoptions


def test_streamoptions_asks_for_usage_on_streams() -> None:
    request = _unified(stream=True)
    request["stream_options"] = {"other": 1}
    out = _make("streamoptions").transform_request(request, _ctx(stream=True))
    assert out["stream_options"] == {"other": 1, "include_usage": True}


def test_streamoptions_sends_nothing_without_streaming() -> None:
    request = _unified(stream=False)
    request["stream_options"] = {"include_usage": True}
    assert "stream_options" not in _make("streamoptions").transform_request(request, _ctx())


def test_streamoptions_include_usage_false_removes_stream_options() -> None:
    out = _apply("streamoptions", {"include_usage": False}, stream=True)
    assert out["stream"] is True
    assert "stream_options" not in out


def test_streamoptions_rejects_a_non_boolean_option() -> None:
    assert "include_usage" in str(_config_error("streamoptions", {"include_usage": "yes"}))


# --------------------------------------------------------------------------------------------
# cleancache


def _marked_request() -> dict[str, Any]:
    mark = {"type": "ephemeral"}
    return {
        "model": "m",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "sys", "cache_control": mark}]},
            {"role": "user", "content": "hi", "cache_control": mark},
        ],
        "tools": [{"type": "function", "cache_control": mark, "function": {
            "name": "t", "cache_control": mark,
            "parameters": {"type": "object", "properties": {"cache_control": {"type": "string"}}},
        }}],
    }


def test_cleancache_removes_every_cache_control_mark() -> None:
    out = _make("cleancache").transform_request(_marked_request(), _ctx())
    assert out["messages"] == [
        {"role": "system", "content": [{"type": "text", "text": "sys"}]},
        {"role": "user", "content": "hi"},
    ]
    assert "cache_control" not in out["tools"][0]
    assert "cache_control" not in out["tools"][0]["function"]


def test_cleancache_leaves_a_schema_property_named_cache_control() -> None:
    out = _make("cleancache").transform_request(_marked_request(), _ctx())
    properties = out["tools"][0]["function"]["parameters"]["properties"]
    assert properties == {"cache_control": {"type": "string"}}


# --------------------------------------------------------------------------------------------
# reasoning


def test_reasoning_turns_enabled_thinking_with_a_budget_into_qwen_fields() -> None:
    out = _apply("reasoning", thinking={"type": "enabled", "budget_tokens": 4096})
    assert out["enable_thinking"] is True
    assert out["thinking_budget"] == 4096
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 4096}


def test_reasoning_adaptive_thinking_enables_without_a_budget() -> None:
    out = _apply("reasoning", thinking={"type": "adaptive"})
    assert out["enable_thinking"] is True
    assert "thinking_budget" not in out


def test_reasoning_disabled_thinking_turns_it_off() -> None:
    out = _apply("reasoning", thinking={"type": "disabled"})
    assert out["enable_thinking"] is False
    assert out["thinking"] == {"type": "disabled"}


def test_reasoning_without_a_thinking_request_leaves_the_server_default() -> None:
    out = _apply("reasoning")
    assert "enable_thinking" not in out and "thinking" not in out


def test_reasoning_enable_false_turns_thinking_off_whatever_the_client_asks() -> None:
    out = _apply("reasoning", {"enable": False},
                 thinking={"type": "enabled", "budget_tokens": 4096})
    assert out["enable_thinking"] is False
    assert "thinking_budget" not in out


def test_reasoning_rejects_a_non_boolean_enable() -> None:
    assert "enable" in str(_config_error("reasoning", {"enable": "no"}))


# --------------------------------------------------------------------------------------------
# groq


def test_groq_strips_cache_control_and_the_reasoning_object() -> None:
    request = _marked_request()
    request["reasoning"] = {"effort": "high"}
    out = _make("groq").transform_request(request, _ctx())
    assert "cache_control" not in repr(out["messages"])
    assert "reasoning" not in out


def test_groq_drops_schema_from_tool_parameters_without_touching_the_clients_schema() -> None:
    schema = copy.deepcopy(SCHEMA)
    request = _unified(tools=[{"name": "Bash", "input_schema": schema}])
    out = _make("groq").transform_request(request, _ctx())
    assert out["tools"][0]["function"]["parameters"] == {
        "type": "object", "properties": {"command": {"type": "string"}}}
    assert schema == SCHEMA


def test_groq_moves_x_groq_usage_to_usage() -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
    chunk = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
             "x_groq": {"id": "req_1", "usage": usage}}
    [out] = _make("groq").transform_chunk(chunk, _ctx(stream=True))
    assert out["usage"] == usage


def test_groq_keeps_a_top_level_usage() -> None:
    chunk = {"choices": [], "usage": {"prompt_tokens": 5},
             "x_groq": {"usage": {"prompt_tokens": 9}}}
    [out] = _make("groq").transform_chunk(chunk, _ctx(stream=True))
    assert out["usage"] == {"prompt_tokens": 5}


# --------------------------------------------------------------------------------------------
# Through the server


def _config(fake: FakeUpstream, transformer: dict[str, Any]) -> dict[str, Any]:
    config = fake_config(fake)
    config["Providers"][0]["transformer"] = transformer
    return config


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_provider_chain_then_model_chain_shape_the_body_in_order(
    fake: FakeUpstream, make_ccr: MakeCcr, streamed: bool
) -> None:
    sdk = Sdk.on(make_ccr(_config(fake, {
        "use": [
            ["sampling", {"temperature": 0.3, "top_k": 20}],
            "maxcompletiontokens",
            ["customparams", {"chat_template_kwargs": {"enable_thinking": False}}],
            "cleancache",
        ],
        "fake-model": {"use": [
            ["sampling", {"temperature": 0.9}],
            ["streamoptions", {"include_usage": False}],
        ]},
    })))

    sdk.ask(streamed, max_tokens=2000, extra_body={"temperature": 1.0}, system=[
        {"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}])

    body = fake.chat_requests[-1].body
    assert body is not None
    assert body["temperature"] == 0.9  # the model's chain ran after the provider's
    assert body["top_k"] == 20
    assert body["max_completion_tokens"] == 2000 and "max_tokens" not in body
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert "stream_options" not in body
    assert body.get("stream", False) is streamed
    assert "cache_control" not in fake.chat_requests[-1].raw.decode()


def test_groq_usage_reaches_the_client_through_the_server(
    fake: FakeUpstream, make_ccr: MakeCcr
) -> None:
    sdk = Sdk.on(make_ccr(_config(fake, {"use": ["groq"]})))
    fake.enqueue(raw_chunks([
        {"id": "c", "object": "chat.completion.chunk", "model": "fake-model",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "fast"},
                      "finish_reason": None}]},
        {"id": "c", "object": "chat.completion.chunk", "model": "fake-model",
         "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
         "x_groq": {"id": "req_1", "usage": {"prompt_tokens": 321, "completion_tokens": 4,
                                             "total_tokens": 325}}},
    ]))

    message = sdk.stream()

    assert (message.usage.input_tokens, message.usage.output_tokens) == (321, 4)
