"""``texttoolcalls``: a tool call printed as text becomes a real call only when it names an
offered tool with arguments that fit its schema; everything else stays text, and a stream is
held back only while a candidate is open."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccr.config.model import Provider
from ccr.convert.request import anthropic_to_openai
from ccr.convert.response import openai_to_anthropic
from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.builtin._schema_check import fits
from ccr.transformers.registry import lookup
from tests.support.fake_upstream import FakeUpstream, text
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.gateway_client import Sdk
from tests.support.transformer_stream import stream_through

PROVIDER = Provider(name="p", api_base_url="http://127.0.0.1:1/v1/chat/completions",
                    models=("m",))
BASH = {"name": "Bash", "description": "Run a command", "input_schema": {
    "type": "object", "properties": {"command": {"type": "string"},
                                     "timeout": {"type": "number"}},
    "required": ["command"], "additionalProperties": False}}
READ = {"name": "Read", "input_schema": {
    "type": "object", "properties": {"file_path": {"type": "string"},
                                     "limit": {"type": "integer"}},
    "required": ["file_path"]}}
LS_CALL = '{"name": "Bash", "arguments": {"command": "ls"}}'


def _setup(tools: list[dict[str, Any]] | None = None, *, stream: bool = False,
           options: dict[str, Any] | None = None, **extra: Any
           ) -> tuple[Transformer, TransformContext]:
    cls = lookup("texttoolcalls")
    assert cls is not None
    transformer = cls(options or {})
    ctx = TransformContext(provider=PROVIDER, model="m", stream=stream)
    body: dict[str, Any] = {"model": "x", "max_tokens": 10,
                            "messages": [{"role": "user", "content": "go"}], **extra}
    if tools is None:
        tools = [BASH, READ]
    if tools:
        body["tools"] = tools
    transformer.transform_request(anthropic_to_openai(body, "m"), ctx)
    return transformer, ctx


def _answer(content: str, **setup: Any) -> dict[str, Any]:
    """A whole answer through the transformer, as the client's Anthropic message."""
    transformer, ctx = _setup(**setup)
    response = {"choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}]}
    return openai_to_anthropic(transformer.transform_response(response, ctx), model="m")


def _streamed(pieces: list[str], **setup: Any) -> dict[str, Any]:
    transformer, ctx = _setup(stream=True, **setup)
    return stream_through(transformer, ctx, pieces)


def _summary(message: dict[str, Any]) -> list[Any]:
    return [(b["type"], b["text"]) if b["type"] == "text" else (b["type"], b["name"], b["input"])
            for b in message["content"]]


# --------------------------------------------------------------------------------------------
# Recognised forms


@pytest.mark.parametrize("written", [
    f"<tool_call>{LS_CALL}</tool_call>",
    f"<tool_call>\n{LS_CALL}\n</tool_call>",
    f"<function_call>{LS_CALL}</function_call>",
    f"```json\n{LS_CALL}\n```",
    f"```\n{LS_CALL}\n```",
    f"```tool_call\n{LS_CALL}\n```",
    LS_CALL,
    f"[TOOL_CALLS][{LS_CALL}]",
    '<function=Bash>{"command": "ls"}</function>',
    "<tool_call>\n<function=Bash>\n<parameter=command>\nls\n</parameter>\n</function>\n"
    "</tool_call>",
    '{"function": {"name": "Bash", "arguments": "{\\"command\\": \\"ls\\"}"}}',
    '{"name": "Bash", "parameters": {"command": "ls"}}',
    '{"tool": "Bash", "tool_input": {"command": "ls"}}',
], ids=["hermes", "hermes-lines", "function_call-tag", "json-fence", "bare-fence", "tool-fence",
        "bare-json", "mistral", "llama-function", "qwen-coder-xml", "openai-shaped",
        "parameters-key", "tool-input"])
def test_each_known_form_becomes_a_tool_call(written: str) -> None:
    message = _answer(written)
    assert _summary(message) == [("tool_use", "Bash", {"command": "ls"})]
    assert message["stop_reason"] == "tool_use"


def test_text_before_the_call_is_kept() -> None:
    message = _answer(f"Let me look.\n<tool_call>{LS_CALL}</tool_call>")
    assert _summary(message) == [("text", "Let me look.\n"),
                                 ("tool_use", "Bash", {"command": "ls"})]


def test_several_calls_in_one_answer_are_all_made() -> None:
    read = '{"name": "Read", "arguments": {"file_path": "/a", "limit": 5}}'
    message = _answer(f"<tool_call>{LS_CALL}</tool_call>\n<tool_call>{read}</tool_call>")
    assert _summary(message) == [("tool_use", "Bash", {"command": "ls"}),
                                 ("tool_use", "Read", {"file_path": "/a", "limit": 5})]


def test_a_list_of_calls_in_one_block_is_several_calls() -> None:
    two = f'[{LS_CALL}, {{"name": "Bash", "arguments": {{"command": "pwd"}}}}]'
    message = _answer(f"```json\n{two}\n```")
    assert [b["input"] for b in message["content"]] == [{"command": "ls"}, {"command": "pwd"}]


def test_imagined_result_after_the_call_is_dropped() -> None:
    message = _answer(f"<tool_call>{LS_CALL}</tool_call>\n<tool_response>a.txt</tool_response>")
    assert _summary(message) == [("tool_use", "Bash", {"command": "ls"})]


def test_text_after_the_call_is_kept_when_asked() -> None:
    message = _answer(f"<tool_call>{LS_CALL}</tool_call>\nDone soon.",
                      options={"keep_text_after": True})
    assert ("text", "\nDone soon.") in _summary(message)


def test_typed_parameters_of_the_xml_form_follow_the_schema() -> None:
    message = _answer("<function=Read><parameter=file_path>/etc/hosts</parameter>"
                      "<parameter=limit>20</parameter></function>")
    assert message["content"][0]["input"] == {"file_path": "/etc/hosts", "limit": 20}


def test_a_call_the_model_did_not_close_is_made_at_the_end() -> None:
    assert _summary(_answer(f"<tool_call>{LS_CALL}")) == [
        ("tool_use", "Bash", {"command": "ls"})]


# --------------------------------------------------------------------------------------------
# Never a call


@pytest.mark.parametrize("written", [
    '<tool_call>{"name": "Delete", "arguments": {"path": "/"}}</tool_call>',
    '<tool_call>{"name": "Bash", "arguments": {}}</tool_call>',
    '<tool_call>{"name": "Bash", "arguments": {"command": 5}}</tool_call>',
    '<tool_call>{"name": "Bash", "arguments": {"command": "ls", "sudo": true}}</tool_call>',
    "<tool_call>not json</tool_call>",
    '```json\n{"name": "Bash", "version": 2}\n```',
    'The config is {"name": "Bash", "arguments": {"command": "ls"}} as shown.',
    '{"name": "Bash", "arguments": {"command": "ls"}',
], ids=["unknown-tool", "missing-required", "wrong-type", "extra-property", "not-json",
        "arguments-not-an-object", "mid-sentence", "unbalanced"])
def test_text_that_is_not_a_valid_call_stays_exactly_as_written(written: str) -> None:
    message = _answer(written)
    assert _summary(message) == [("text", written)]
    assert message["stop_reason"] == "end_turn"


def test_nothing_is_recognised_when_no_tools_are_offered() -> None:
    assert _summary(_answer(LS_CALL, tools=[])) == [("text", LS_CALL)]


def test_nothing_is_recognised_when_tool_choice_is_none() -> None:
    message = _answer(LS_CALL, tool_choice={"type": "none"})
    assert _summary(message) == [("text", LS_CALL)]


# --------------------------------------------------------------------------------------------
# Streamed


ANSWER = f"I will list the files.\n<tool_call>\n{LS_CALL}\n</tool_call>"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13, 1000])
def test_streamed_call_is_found_however_the_text_is_split(size: int) -> None:
    pieces = [ANSWER[i:i + size] for i in range(0, len(ANSWER), size)]
    assert _summary(_streamed(pieces)) == [("text", "I will list the files.\n"),
                                           ("tool_use", "Bash", {"command": "ls"})]


@pytest.mark.parametrize("size", [1, 4, 1000])
def test_streamed_non_call_comes_out_byte_for_byte(size: int) -> None:
    written = ("Here is code:\n```python\nprint({'a': 1})\n```\n{not a call}\n"
               '<tool_call>{"name": "Nope"}</tool_call> [link](x) <b>')
    pieces = [written[i:i + size] for i in range(0, len(written), size)]
    assert _summary(_streamed(pieces)) == [("text", written)]


def test_streamed_text_is_not_held_outside_a_candidate() -> None:
    transformer, ctx = _setup(stream=True)
    sent: list[str] = []
    for piece in ["Checking the ", "folder now", ".\n```python\nx = 1\n", "```\n", "Done."]:
        out = transformer.transform_chunk(
            {"choices": [{"index": 0, "delta": {"content": piece}}]}, ctx)
        sent.append("".join(c["choices"][0]["delta"].get("content", "") for c in out))
    # A closing fence could open a fenced call: it waits only until the next piece says not.
    assert sent == ["Checking the ", "folder now", ".\n```python\nx = 1\n", "", "```\nDone."]


def test_streamed_finish_reason_follows_the_last_piece_of_its_chunk() -> None:
    transformer, ctx = _setup(stream=True)
    out = transformer.transform_chunk({"choices": [{"index": 0, "finish_reason": "stop",
                                                    "delta": {"content": ANSWER}}]}, ctx)
    assert [c["choices"][0].get("finish_reason") for c in out] == [None, "stop"]
    assert "tool_calls" in out[-1]["choices"][0]["delta"]


def test_upstream_tool_calls_pass_through_untouched() -> None:
    transformer, ctx = _setup(stream=True)
    chunk = {"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "c1", "function": {"name": "Bash", "arguments": "{}"}}]}}]}
    assert transformer.transform_chunk(chunk, ctx) == [chunk]


# --------------------------------------------------------------------------------------------
# The schema check


@pytest.mark.parametrize(("value", "schema", "ok"), [
    ({"a": 1}, {"type": "object", "properties": {"a": {"type": "integer"}}}, True),
    ({"a": 1.5}, {"type": "object", "properties": {"a": {"type": "integer"}}}, False),
    ({"a": True}, {"type": "object", "properties": {"a": {"type": "number"}}}, False),
    ({"a": "x"}, {"properties": {"a": {"enum": ["x", "y"]}}}, True),
    ({"a": "z"}, {"properties": {"a": {"enum": ["x", "y"]}}}, False),
    ({"a": [1, "b"]}, {"properties": {"a": {"type": "array", "items": {"type": "integer"}}}},
     False),
    ({"a": None}, {"properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}]}}},
     True),
    ({"a": "x"}, {"properties": {"a": {"$ref": "#/defs/thing", "format": "uri"}}}, True),
    ({"a": "xy"}, {"properties": {"a": {"type": "string", "maxLength": 1}}}, False),
])
def test_schema_check(value: Any, schema: dict[str, Any], ok: bool) -> None:
    assert fits(value, schema) is ok


# --------------------------------------------------------------------------------------------
# Through the server


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_printed_call_reaches_claude_code_as_a_tool_use(
    fake: FakeUpstream, make_ccr: MakeCcr, streamed: bool
) -> None:
    config = fake_config(fake)
    config["Providers"][0]["transformer"] = {"fake-model": {"use": ["texttoolcalls"]}}
    sdk = Sdk.on(make_ccr(config))
    fake.enqueue(text(ANSWER, pieces=7))

    message = sdk.ask(streamed, tools=[BASH, READ])

    assert message.stop_reason == "tool_use"
    assert [b.type for b in message.content] == ["text", "tool_use"]
    call = message.content[1]
    assert (call.name, call.input) == ("Bash", {"command": "ls"})  # type: ignore[union-attr]
    assert json.loads(json.dumps(call.input)) == {"command": "ls"}  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------
# Streamed equals whole, whatever the split

_PIECES = st.sampled_from([
    "Let me check. ", "\n", "```python\nx = {1: 2}\n```\n", "{not json} ", "[link](u) ",
    f"<tool_call>{LS_CALL}</tool_call>", f"```json\n{LS_CALL}\n```", "<b>bold</b> ",
    '<tool_call>{"name": "Nope", "arguments": {}}</tool_call>', "` ", "<", "[TOOL",
])


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(_PIECES, max_size=8), cuts=st.lists(st.integers(1, 9), max_size=40))
def test_streamed_answer_equals_the_whole_answer(parts: list[str], cuts: list[int]) -> None:
    written = "".join(parts)
    pieces, at = [], 0
    for size in [*cuts, len(written)]:
        if at >= len(written):
            break
        pieces.append(written[at:at + size])
        at += size
    whole = _summary(_answer(written))
    streamed = _summary(_streamed(pieces))
    # The whole answer puts all text first (Anthropic order); compare texts and calls apart.
    assert "".join(b[1] for b in streamed if b[0] == "text").strip() == \
        "".join(b[1] for b in whole if b[0] == "text").strip()
    assert [b for b in streamed if b[0] == "tool_use"] == [b for b in whole if b[0] == "tool_use"]


def test_with_extrathinktag_only_the_call_after_the_reasoning_is_made(
    fake: FakeUpstream, make_ccr: MakeCcr
) -> None:
    config = fake_config(fake)
    config["Providers"][0]["transformer"] = {"use": ["texttoolcalls"],
                                             "fake-model": {"use": ["extrathinktag"]}}
    sdk = Sdk.on(make_ccr(config))
    draft = '<tool_call>{"name": "Bash", "arguments": {"command": "rm -rf /"}}</tool_call>'
    fake.enqueue(text(f"<think>Not this: {draft}</think>\n<tool_call>{LS_CALL}</tool_call>",
                      pieces=9))

    message = sdk.stream(tools=[BASH])

    assert [b.type for b in message.content] == ["thinking", "tool_use"]
    assert message.content[1].input == {"command": "ls"}  # type: ignore[union-attr]
