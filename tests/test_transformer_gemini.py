"""The ``gemini`` endpoint: unified requests as Gemini ``generateContent`` bodies, Gemini
answers (whole and streamed) back as unified ones, tool schemas cleaned, thought signatures
carried through Claude Code's history, and the key kept out of URLs and logs."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from ccr.config.model import Provider
from ccr.convert.common import new_signature
from ccr.convert.request import anthropic_to_openai
from ccr.convert.response import openai_to_anthropic
from ccr.convert.stream import StreamConverter
from ccr.errors import ApiError
from ccr.protocol.sse import SSEDecoder
from ccr.transformers.base import TransformContext
from ccr.transformers.builtin._gemini_request import DUMMY_SIGNATURE, SYSTEM_PREFIX
from ccr.transformers.builtin._gemini_schema import clean_schema, gemini_parameters
from ccr.transformers.builtin.gemini import Gemini, gemini_url
from ccr.transformers.registry import lookup
from tests.support.anthropic_stream_check import check_stream
from tests.support.fake_gemini import (
    FakeGemini,
    GeminiReply,
    GeminiUsage,
    answer,
    call,
    gemini_error,
    say,
    thought,
)
from tests.support.fixtures import MakeCcr, claude_code_fixture

KEY = "test-gemini-key-placeholder-0123"
BASE = "https://generativelanguage.googleapis.com/v1beta/models/"
MODEL = "gemini-3-pro-preview"
SIGNATURE = "Q2lRQkdlbWluaVNpZ25hdHVyZQ=="
BASH = {
    "name": "Bash",
    "description": "Run a shell command",
    "input_schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"command": {"type": "string", "description": "The command"}},
        "required": ["command"],
        "additionalProperties": False,
    },
}

#: Keywords of Gemini's ``Schema`` message (https://ai.google.dev/api/caching#Schema).
GEMINI_KEYWORDS = {
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "anyOf", "propertyOrdering", "items", "minimum", "maximum",
}
GEMINI_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"}


# --------------------------------------------------------------------------------------------
# Building blocks


def make_ctx(model: str = MODEL, *, stream: bool = False, original: dict[str, Any] | None = None,
             base: str = BASE, key: str | None = KEY) -> TransformContext:
    provider = Provider(name="gemini", api_base_url=base, models=(model,), api_key=key)
    return TransformContext(provider=provider, model=model, stream=stream,
                            original=original or {})


def gemini_body(request: dict[str, Any], model: str = MODEL) -> dict[str, Any]:
    """The Gemini body ccr sends for an Anthropic request."""
    unified = anthropic_to_openai(request, model)
    return Gemini().build_http(unified, make_ctx(model, original=request)).body


def anthropic_request(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "claude-test", "max_tokens": 1024, "messages": list(messages), **extra}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def tool_use(call_id: str, name: str = "Bash", **args: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": args}


def tool_result(call_id: str, text: str, *, is_error: bool = False) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": call_id, "content": text, "is_error": is_error}


def thinking(text: str, signature: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": signature}


def whole_to_anthropic(response: dict[str, Any]) -> dict[str, Any]:
    """A whole Gemini answer as the Anthropic message the client gets."""
    unified = Gemini().transform_response(response, make_ctx())
    return openai_to_anthropic(unified, model=MODEL)


def stream_to_anthropic(reply: GeminiReply) -> dict[str, Any]:
    """A streamed Gemini answer as the (strictly validated) Anthropic message."""
    endpoint, ctx = Gemini(), make_ctx(stream=True)
    converter = StreamConverter(model=MODEL, input_tokens=0)
    events = converter.start()
    for chunk in reply.events():
        for unified in endpoint.transform_chunk(chunk, ctx):
            events += converter.feed(unified)
    events += converter.finish()
    return check_stream(events)


def function_parts(content: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [part for part in content["parts"] if kind in part]


def assert_gemini_schema(schema: Any, where: str = "parameters") -> None:
    """Fail on anything Gemini's ``Schema`` message would reject."""
    assert isinstance(schema, dict), where
    unknown = set(schema) - GEMINI_KEYWORDS
    assert not unknown, f"{where}: keywords Gemini rejects: {sorted(unknown)}"
    kind = schema.get("type")
    assert kind is None or kind in GEMINI_TYPES, f"{where}: type {kind!r}"
    if kind == "ARRAY":
        assert "items" in schema, f"{where}: ARRAY without items"
    if kind == "OBJECT":
        assert schema.get("properties"), f"{where}: OBJECT without properties"
    for name, sub in (schema.get("properties") or {}).items():
        assert_gemini_schema(sub, f"{where}.properties.{name}")
    for name in schema.get("required") or ():
        assert name in (schema.get("properties") or {}), f"{where}: required {name} undefined"
    assert all(isinstance(v, str) for v in schema.get("enum") or ()), f"{where}: enum"
    if "items" in schema:
        assert_gemini_schema(schema["items"], f"{where}.items")
    for i, member in enumerate(schema.get("anyOf") or ()):
        assert_gemini_schema(member, f"{where}.anyOf[{i}]")


# --------------------------------------------------------------------------------------------
# Registration, URL and key


def test_gemini_is_registered_as_an_endpoint_under_its_ccr_name() -> None:
    cls = lookup("Gemini")
    assert cls is Gemini
    assert cls.endpoint == "gemini"


@pytest.mark.parametrize("base", [
    "https://generativelanguage.googleapis.com/v1beta/models/",
    "https://generativelanguage.googleapis.com/v1beta/models",
    "https://generativelanguage.googleapis.com/v1beta",
])
def test_url_names_model_and_method_whatever_the_base_ends_with(base: str) -> None:
    assert gemini_url(base, "gemini-2.5-pro", stream=False) == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent"
    )


def test_streamed_url_asks_for_server_sent_events() -> None:
    assert gemini_url(BASE, "gemini-2.5-flash", stream=True).endswith(
        "/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )


def test_key_goes_in_its_header_and_nowhere_else() -> None:
    http = Gemini().build_http(anthropic_to_openai(anthropic_request(user("hi")), MODEL),
                               make_ctx(base=BASE + "?key=" + KEY))
    assert http.headers["x-goog-api-key"] == KEY
    assert "authorization" not in http.headers
    assert KEY not in http.url
    assert KEY not in json.dumps(http.body)


# --------------------------------------------------------------------------------------------
# Tool schemas


NASTY = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "default": {"type": "string", "description": "a property named default", "default": "x"},
        "format": {"type": "string", "format": "uri", "description": "a property named format"},
        "properties": {"type": "integer", "exclusiveMinimum": 0},
        "choice": {"anyOf": [
            {"type": "string", "enum": ["a", "b"]},
            {"anyOf": [{"type": "string", "const": "c"}, {"type": "null"}]},
        ]},
        "tags": {"type": "object", "propertyNames": {"type": "string"},
                 "additionalProperties": {"type": "string"}},
    },
    "required": ["default", "format", "ghost"],
}


def test_schema_cleaner_keeps_properties_named_like_keywords() -> None:
    cleaned = gemini_parameters(NASTY)
    assert cleaned is not None
    assert cleaned["properties"]["default"]["type"] == "STRING"
    assert cleaned["properties"]["default"]["description"].startswith("a property named default")
    assert cleaned["properties"]["format"]["description"] == "a property named format"
    assert cleaned["properties"]["properties"]["type"] == "INTEGER"
    assert cleaned["required"] == ["default", "format"]


def test_schema_cleaner_leaves_nothing_gemini_rejects() -> None:
    cleaned = gemini_parameters(NASTY)
    assert_gemini_schema(cleaned)
    assert "format" not in cleaned["properties"]["format"]  # "uri" is not a Gemini format
    assert cleaned["properties"]["properties"]["minimum"] == 1  # exclusiveMinimum 0 on integers


def test_schema_cleaner_keeps_nested_alternatives_and_their_values() -> None:
    choice = gemini_parameters(NASTY)["properties"]["choice"]
    assert choice["anyOf"][0] == {"type": "STRING", "enum": ["a", "b"]}
    assert choice["anyOf"][1] == {"type": "STRING", "enum": ["c"], "nullable": True}


def test_schema_cleaner_does_not_change_the_tools_schema() -> None:
    original = copy.deepcopy(NASTY)
    gemini_parameters(NASTY)
    assert original == NASTY


def test_default_values_move_into_the_description() -> None:
    cleaned = clean_schema({"type": "boolean", "description": "Wait", "default": True})
    assert cleaned == {"type": "BOOLEAN", "description": "Wait (Default: true)"}


def test_type_list_with_null_is_a_nullable_type() -> None:
    assert clean_schema({"type": ["string", "null"]}) == {"type": "STRING", "nullable": True}


def test_several_types_become_alternatives() -> None:
    assert clean_schema({"type": ["string", "integer"]}) == {
        "anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]
    }


def test_enum_on_a_non_string_type_is_written_into_the_description() -> None:
    assert clean_schema({"type": "integer", "enum": [1, 2]}) == {
        "type": "INTEGER", "description": "Allowed values: 1, 2"
    }


def test_local_references_are_inlined_and_recursion_stops() -> None:
    schema = {
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/node"}},
        "$defs": {"node": {"type": "object", "properties": {
            "name": {"type": "string"}, "child": {"$ref": "#/$defs/node"}}}},
    }
    root = gemini_parameters(schema)["properties"]["root"]
    assert root["properties"]["name"] == {"type": "STRING"}
    assert root["properties"]["child"] == {}  # the node again: untyped instead of endless


def test_all_of_parts_are_merged() -> None:
    schema = {"allOf": [
        {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
        {"properties": {"b": {"type": "number"}}},
    ]}
    assert clean_schema(schema) == {
        "type": "OBJECT",
        "properties": {"a": {"type": "STRING"}, "b": {"type": "NUMBER"}},
        "required": ["a"],
    }


def test_free_form_objects_and_arrays_without_items_lose_only_their_type() -> None:
    cleaned = gemini_parameters({"type": "object", "properties": {
        "meta": {"type": "object", "description": "any keys", "additionalProperties": {}},
        "list": {"type": "array", "description": "anything"},
    }})
    assert cleaned["properties"] == {
        "meta": {"description": "any keys"}, "list": {"description": "anything"}
    }


def test_tool_without_parameters_is_declared_without_parameters() -> None:
    body = gemini_body(anthropic_request(user("hi"), tools=[
        {"name": "Now", "description": "The time", "input_schema": {"type": "object",
                                                                    "properties": {}}},
    ]))
    assert body["tools"] == [{"functionDeclarations": [{"name": "Now",
                                                        "description": "The time"}]}]


def test_every_claude_code_tool_schema_is_acceptable_to_gemini() -> None:
    request = claude_code_fixture("02-bash-turn1")["body"]
    declarations = gemini_body(request)["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == [t["name"] for t in request["tools"]]
    for declaration in declarations:
        if "parameters" in declaration:
            assert_gemini_schema(declaration["parameters"], declaration["name"])


# --------------------------------------------------------------------------------------------
# Request body


def test_leading_system_prompt_becomes_the_system_instruction() -> None:
    body = gemini_body(anthropic_request(user("hi"), system=[
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1"},
        {"type": "text", "text": "You are Claude Code."},
    ]))
    assert body["systemInstruction"] == {"parts": [{"text": "You are Claude Code."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]


def test_mid_conversation_system_message_is_user_text_in_place() -> None:
    body = gemini_body(anthropic_request(
        user("first"), assistant({"type": "text", "text": "ok"}),
        {"role": "system", "content": "Agents available: x"}, user("second"),
    ))
    assert "systemInstruction" not in body
    assert body["contents"][2] == {"role": "user", "parts": [
        {"text": SYSTEM_PREFIX + "Agents available: x"}, {"text": "second"},
    ]}


def test_consecutive_turns_of_one_role_are_merged() -> None:
    body = gemini_body(anthropic_request(user("a"), user("b"), assistant(
        {"type": "text", "text": "c"}), assistant({"type": "text", "text": "d"})))
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "model", "parts": [{"text": "c"}, {"text": "d"}]},
    ]


def test_images_are_sent_inline() -> None:
    body = gemini_body(anthropic_request(user([
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                     "data": "AAAA"}},
        {"type": "text", "text": "what is this?"},
    ])))
    assert body["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/jpeg", "data": "AAAA"}}, {"text": "what is this?"},
    ]


def test_generation_config_carries_limits_sampling_and_at_most_five_stops() -> None:
    body = gemini_body(anthropic_request(user("hi"), max_tokens=500, temperature=0.2, top_p=0.9,
                                         stop_sequences=["1", "2", "3", "4", "5", "6"]))
    assert body["generationConfig"] == {
        "maxOutputTokens": 500, "temperature": 0.2, "topP": 0.9,
        "stopSequences": ["1", "2", "3", "4", "5"],
    }


@pytest.mark.parametrize(("choice", "expected"), [
    ({"type": "auto"}, {"mode": "AUTO"}),
    ({"type": "any"}, {"mode": "ANY"}),
    ({"type": "none"}, {"mode": "NONE"}),
    ({"type": "tool", "name": "Bash"}, {"mode": "ANY", "allowedFunctionNames": ["Bash"]}),
])
def test_tool_choice_becomes_function_calling_config(choice: dict[str, Any],
                                                     expected: dict[str, Any]) -> None:
    body = gemini_body(anthropic_request(user("hi"), tools=[BASH], tool_choice=choice))
    assert body["toolConfig"] == {"functionCallingConfig": expected}


@pytest.mark.parametrize(("model", "thinking_", "effort", "expected"), [
    ("gemini-3-pro-preview", {"type": "adaptive"}, "high",
     {"includeThoughts": True, "thinkingLevel": "high"}),
    ("gemini-3-flash-preview", {"type": "enabled", "budget_tokens": 2048}, "max",
     {"includeThoughts": True, "thinkingLevel": "high"}),
    ("gemini-3-flash-preview", {"type": "enabled", "budget_tokens": 31999}, None,
     {"includeThoughts": True, "thinkingBudget": 24576}),
    ("gemini-3-pro-preview", {"type": "disabled"}, None, {"thinkingLevel": "low"}),
    ("gemini-3-pro-preview", None, "low", {"thinkingLevel": "low"}),
    ("gemini-2.5-pro", {"type": "enabled", "budget_tokens": 50}, None,
     {"includeThoughts": True, "thinkingBudget": 128}),
    ("gemini-2.5-flash", {"type": "adaptive"}, "high",
     {"includeThoughts": True, "thinkingBudget": -1}),
    ("gemini-2.5-flash", {"type": "disabled"}, None, {"thinkingBudget": 0}),
    ("gemini-2.5-pro", {"type": "disabled"}, None, None),
    ("gemini-2.5-pro", None, None, None),
])
def test_thinking_config_follows_the_model_generation(
        model: str, thinking_: dict[str, Any] | None, effort: str | None,
        expected: dict[str, Any] | None) -> None:
    extra: dict[str, Any] = {}
    if thinking_ is not None:
        extra["thinking"] = thinking_
    if effort is not None:
        extra["output_config"] = {"effort": effort}
    body = gemini_body(anthropic_request(user("hi"), **extra), model=model)
    assert body["generationConfig"].get("thinkingConfig") == expected


def test_tool_result_answers_its_call_by_name_and_gemini_id() -> None:
    body = gemini_body(anthropic_request(
        user("run it"),
        assistant(thinking("plan", SIGNATURE), tool_use("call_7", command="ls")),
        user([tool_result("call_7", "a.txt"), {"type": "text", "text": "and now?"}]),
    ))
    model_turn, answer_turn = body["contents"][1], body["contents"][2]
    assert model_turn["parts"] == [{
        "functionCall": {"name": "Bash", "args": {"command": "ls"}, "id": "call_7"},
        "thoughtSignature": SIGNATURE,
    }]
    assert answer_turn == {"role": "user", "parts": [
        {"functionResponse": {"name": "Bash", "response": {"output": "a.txt"}, "id": "call_7"}},
        {"text": "and now?"},
    ]}


def test_failed_tool_result_is_sent_as_an_error() -> None:
    body = gemini_body(anthropic_request(
        user("run it"), assistant(tool_use("call_1", command="false")),
        user([tool_result("call_1", "exit 1", is_error=True)]),
    ))
    response = body["contents"][2]["parts"][0]["functionResponse"]["response"]
    assert response == {"error": "Error: exit 1"}


def test_signature_goes_on_the_first_of_parallel_calls_only() -> None:
    body = gemini_body(anthropic_request(
        user("both"),
        assistant(thinking("", SIGNATURE), {"type": "text", "text": "Running."},
                  tool_use("call_a", command="a"), tool_use("call_b", command="b")),
        user([tool_result("call_a", "A"), tool_result("call_b", "B")]),
    ))
    parts = body["contents"][1]["parts"]
    assert parts[0] == {"text": "Running."}
    assert [part.get("thoughtSignature") for part in parts[1:]] == [SIGNATURE, None]


@pytest.mark.parametrize("blocks", [
    [],
    [thinking("made up by ccr", new_signature())],
], ids=["no-thinking", "generated-signature"])
def test_calls_without_a_real_signature_get_the_documented_placeholder(
        blocks: list[dict[str, Any]]) -> None:
    body = gemini_body(anthropic_request(
        user("go"), assistant(*blocks, tool_use("toolu_01abc", command="ls")),
        user([tool_result("toolu_01abc", "ok")]),
    ))
    call_part = body["contents"][1]["parts"][0]
    assert call_part["thoughtSignature"] == DUMMY_SIGNATURE


def test_ids_not_issued_by_gemini_are_not_sent() -> None:
    body = gemini_body(anthropic_request(
        user("go"), assistant(tool_use("toolu_01abc", command="ls")),
        user([tool_result("toolu_01abc", "ok")]),
    ))
    assert "id" not in body["contents"][1]["parts"][0]["functionCall"]
    assert "id" not in body["contents"][2]["parts"][0]["functionResponse"]


def test_call_left_without_result_is_answered_with_an_error() -> None:
    unified = anthropic_to_openai(anthropic_request(user("go")), MODEL)
    unified["messages"] += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_9", "type": "function",
             "function": {"name": "Bash", "arguments": "{}"}}]},
        {"role": "user", "content": "never mind"},
    ]
    body = Gemini().build_http(unified, make_ctx()).body
    responses = function_parts(body["contents"][2], "functionResponse")
    assert responses[0]["functionResponse"]["name"] == "Bash"
    assert "error" in responses[0]["functionResponse"]["response"]


def test_signature_of_a_plain_answer_goes_back_on_its_last_part() -> None:
    body = gemini_body(anthropic_request(
        user("hi"), assistant(thinking("t", SIGNATURE), {"type": "text", "text": "Hello"}),
        user("again"),
    ))
    assert body["contents"][1]["parts"] == [{"text": "Hello", "thoughtSignature": SIGNATURE}]


def test_web_search_request_gets_google_search() -> None:
    body = gemini_body(anthropic_request(user("news?"), tools=[
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 8},
    ]))
    assert body["tools"] == [{"googleSearch": {}}]


def test_real_claude_code_tool_turn_converts_to_a_valid_exchange() -> None:
    request = claude_code_fixture("03-bash-turn2-tool-result")["body"]
    body = gemini_body(request)
    roles = [content["role"] for content in body["contents"]]
    assert roles == ["user", "model", "user"]
    call_part = function_parts(body["contents"][1], "functionCall")[0]
    response = function_parts(body["contents"][2], "functionResponse")[0]["functionResponse"]
    assert response["name"] == call_part["functionCall"]["name"] == "Bash"
    assert response["response"] == {"output": "hi-from-tool"}
    assert call_part["thoughtSignature"]


# --------------------------------------------------------------------------------------------
# Answers


@pytest.mark.parametrize(("finish", "stop_reason"), [
    ("STOP", "end_turn"),
    ("MAX_TOKENS", "max_tokens"),
    ("SAFETY", "refusal"),
    ("RECITATION", "refusal"),
    ("PROHIBITED_CONTENT", "refusal"),
    ("OTHER", "end_turn"),
])
def test_finish_reason_maps_to_the_anthropic_stop_reason(finish: str, stop_reason: str) -> None:
    reply = answer(say("partial"), finish=finish)
    assert whole_to_anthropic(reply.whole())["stop_reason"] == stop_reason
    assert stream_to_anthropic(reply)["stop_reason"] == stop_reason


def test_blocked_prompt_ends_as_a_refusal() -> None:
    reply = GeminiReply(prompt_feedback={"blockReason": "SAFETY"})
    assert whole_to_anthropic(reply.whole())["stop_reason"] == "refusal"
    assert stream_to_anthropic(reply)["stop_reason"] == "refusal"


def test_usage_counts_thoughts_as_output_and_reports_cached_prompt() -> None:
    reply = answer(say("hi"), usage=GeminiUsage(prompt=120, candidates=7, thoughts=3, cached=20))
    expected = {"input_tokens": 100, "output_tokens": 10, "cache_read_input_tokens": 20}
    assert whole_to_anthropic(reply.whole())["usage"] == expected
    streamed = stream_to_anthropic(reply)["usage"]
    assert {key: streamed[key] for key in expected} == expected


def test_answer_keeps_thoughts_text_and_calls_in_order() -> None:
    reply = answer(thought("Think."), say("Doing it."),
                   call("Bash", {"command": "ls"}, id="c1", signature=SIGNATURE))
    for message in (whole_to_anthropic(reply.whole()), stream_to_anthropic(reply)):
        kinds = [block["type"] for block in message["content"]]
        assert kinds[0] == "thinking" and message["content"][0]["thinking"] == "Think."
        assert [k for k in kinds if k != "thinking"] == ["text", "tool_use"]
        assert message["content"][-1]["input"] == {"command": "ls"}
        assert message["stop_reason"] == "tool_use"


def test_calls_without_gemini_ids_get_unique_ids() -> None:
    reply = answer(call("Read", {"file_path": "a"}), call("Read", {"file_path": "b"}))
    for message in (whole_to_anthropic(reply.whole()), stream_to_anthropic(reply)):
        ids = [block["id"] for block in message["content"] if block["type"] == "tool_use"]
        assert len(ids) == 2 and len(set(ids)) == 2 and all(ids)


def test_streamed_call_signature_closes_the_thinking_before_the_call() -> None:
    reply = answer(thought("Plan."), call("Bash", {"command": "ls"}, signature=SIGNATURE))
    message = stream_to_anthropic(reply)
    assert message["content"][0] == {"type": "thinking", "thinking": "Plan.",
                                     "signature": SIGNATURE}


def test_call_signature_without_included_thoughts_still_reaches_the_client() -> None:
    reply = answer(call("Bash", {"command": "ls"}, signature=SIGNATURE))
    for message in (whole_to_anthropic(reply.whole()), stream_to_anthropic(reply)):
        assert message["content"][0] == {"type": "thinking", "thinking": "",
                                         "signature": SIGNATURE}


def test_streamed_signature_after_visible_text_adds_no_thinking_block() -> None:
    reply = answer(say("Hello"), say("", signature=SIGNATURE))
    message = stream_to_anthropic(reply)
    assert [block["type"] for block in message["content"]] == ["text"]


def test_error_inside_a_stream_fails_the_answer() -> None:
    endpoint, ctx = Gemini(), make_ctx(stream=True)
    error = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    converter = StreamConverter(model=MODEL, input_tokens=0)
    with pytest.raises(ApiError, match="overloaded") as raised:
        for unified in endpoint.transform_chunk(error, ctx):
            converter.feed(unified)
    assert raised.value.status == 503


# --------------------------------------------------------------------------------------------
# End to end: anthropic SDK -> ccr -> fake Gemini


@pytest.fixture
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


def gemini_config(fake: FakeGemini, **extra: Any) -> dict[str, Any]:
    return {
        "Providers": [{
            "name": "gemini",
            "api_base_url": fake.api_base_url,
            "api_key": KEY,
            "models": [MODEL],
            "transformer": {"use": ["gemini"]},
        }],
        "Router": {"default": f"gemini,{MODEL}"},
        "LOG": False,
        **extra,
    }


def ask(client: anthropic.Anthropic, stream: bool, **request: Any) -> anthropic.types.Message:
    if stream:
        with client.messages.stream(**request) as events:
            return events.get_final_message()
    return client.messages.create(**request)


def blocks(message: anthropic.types.Message) -> list[dict[str, Any]]:
    return [block.model_dump(exclude_none=True) for block in message.content]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_gemini_tool_loop_with_thought_signatures(
        gemini: FakeGemini, make_ccr: MakeCcr, stream: bool) -> None:
    ccr = make_ccr(gemini_config(gemini))
    client = anthropic.Anthropic(base_url=ccr.base_url, api_key="test", max_retries=0, timeout=20)
    gemini.enqueue(
        answer(thought("I should list the files."),
               call("Bash", {"command": "ls"}, id="call_ls_1", signature=SIGNATURE),
               usage=GeminiUsage(prompt=50, candidates=5, thoughts=9)),
        answer(say("There are two files."),
               usage=GeminiUsage(prompt=120, candidates=7, thoughts=3, cached=20)),
    )
    request: dict[str, Any] = {
        "model": "claude-sonnet-5", "max_tokens": 4096, "tools": [BASH],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": [{"role": "user", "content": "What files are here?"}],
    }

    first = ask(client, stream, **request)
    assert first.stop_reason == "tool_use"
    first_blocks = blocks(first)
    assert first_blocks[0] == thinking("I should list the files.", SIGNATURE)
    assert first_blocks[-1] == tool_use("call_ls_1", command="ls")

    request["messages"] += [
        {"role": "assistant", "content": first_blocks},
        {"role": "user", "content": [tool_result("call_ls_1", "a.txt\nb.txt")]},
    ]
    second = ask(client, stream, **request)

    sent = gemini.requests[1]
    assert sent.method_name == ("streamGenerateContent" if stream else "generateContent")
    call_part = function_parts(sent.contents[1], "functionCall")[0]
    assert call_part == {
        "functionCall": {"name": "Bash", "args": {"command": "ls"}, "id": "call_ls_1"},
        "thoughtSignature": SIGNATURE,
    }
    response_part = function_parts(sent.contents[2], "functionResponse")[0]
    assert response_part == {"functionResponse": {
        "name": "Bash", "id": "call_ls_1", "response": {"output": "a.txt\nb.txt"}}}
    assert second.stop_reason == "end_turn"
    assert blocks(second) == [{"type": "text", "text": "There are two files."}]
    assert second.usage.input_tokens == 100
    assert second.usage.output_tokens == 10
    assert second.usage.cache_read_input_tokens == 20


def test_streamed_gemini_answer_is_a_valid_anthropic_stream(
        gemini: FakeGemini, make_ccr: MakeCcr) -> None:
    ccr = make_ccr(gemini_config(gemini))
    gemini.enqueue(answer(thought("Hmm."), say("Let me check."),
                          call("Bash", {"command": "pwd"}, id="call_pwd", signature=SIGNATURE)))
    body = {"model": "claude-sonnet-5", "max_tokens": 256, "stream": True, "tools": [BASH],
            "messages": [{"role": "user", "content": "where am I?"}]}
    response = httpx.post(ccr.base_url + "/v1/messages", json=body, timeout=20)
    events = [(e.event or "", json.loads(e.data))
              for e in SSEDecoder().feed(response.content) if e.data]
    message = check_stream(events)
    # The call's signature arrives after the text: it gets its own thinking block, right
    # before the call, so the next turn can put it back on that call.
    kinds = [block["type"] for block in message["content"]]
    assert kinds == ["thinking", "text", "thinking", "tool_use"]
    assert message["content"][0]["thinking"] == "Hmm."
    assert message["content"][2] == {"type": "thinking", "thinking": "", "signature": SIGNATURE}


def test_stream_cut_before_gemini_finishes_is_an_error(
        gemini: FakeGemini, make_ccr: MakeCcr) -> None:
    ccr = make_ccr(gemini_config(gemini))
    client = anthropic.Anthropic(base_url=ccr.base_url, api_key="test", max_retries=0, timeout=20)
    gemini.enqueue(answer(say("one"), say("two"), say("three"), drop_after=2))
    with pytest.raises(anthropic.APIError, match="ended the stream"):
        ask(client, True, model="claude-sonnet-5", max_tokens=64,
            messages=[{"role": "user", "content": "count"}])


def test_gemini_error_reaches_the_client_with_its_status_and_message(
        gemini: FakeGemini, make_ccr: MakeCcr) -> None:
    ccr = make_ccr(gemini_config(gemini))
    client = anthropic.Anthropic(base_url=ccr.base_url, api_key="test", max_retries=0, timeout=20)
    gemini.enqueue(gemini_error(429, "Resource has been exhausted (e.g. check quota)."))
    with pytest.raises(anthropic.RateLimitError, match="Resource has been exhausted"):
        client.messages.create(model="claude-sonnet-5", max_tokens=64,
                               messages=[{"role": "user", "content": "hi"}])


def test_key_never_appears_in_the_url_the_client_or_the_logs(
        gemini: FakeGemini, make_ccr: MakeCcr, caplog: pytest.LogCaptureFixture) -> None:
    ccr_logger = logging.getLogger("ccr")
    ccr_logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG, logger="ccr")
    try:
        ccr = make_ccr(gemini_config(gemini))
        client = anthropic.Anthropic(base_url=ccr.base_url, api_key="test", max_retries=0,
                                     timeout=20)
        gemini.enqueue(answer(say("fine")),
                       gemini_error(400, f"API key {KEY} not valid. Please pass a valid key."))
        client.messages.create(model="claude-sonnet-5", max_tokens=64,
                               messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(anthropic.BadRequestError) as raised:
            client.messages.create(model="claude-sonnet-5", max_tokens=64,
                                   messages=[{"role": "user", "content": "hi"}])
    finally:
        ccr_logger.removeHandler(caplog.handler)
    assert all(request.headers.get("x-goog-api-key") == KEY for request in gemini.requests)
    assert all(KEY not in request.path + request.query for request in gemini.requests)
    assert KEY not in str(raised.value)
    assert "not valid" in str(raised.value)
    assert "not valid" in caplog.text, "the failure was not logged: the check would prove nothing"
    assert KEY not in caplog.text
