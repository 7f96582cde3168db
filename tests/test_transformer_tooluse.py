"""``tooluse`` (Tool Mode): the request forces a tool call and offers ``ExitTool``; an
``ExitTool`` call comes back to the client as plain text that ends the turn, streamed or not,
whatever shape its arguments arrive in. End-to-end tests drive a real ccr with the SDK."""

from __future__ import annotations

import copy
import itertools
import json
import random
from typing import Any

import httpx
import pytest

from ccr.config.model import Provider
from ccr.convert.stream import StreamConverter
from ccr.transformers.base import TransformContext
from ccr.transformers.builtin.tooluse import (
    EXIT_TOOL,
    REMINDER,
    ExitText,
    ToolUse,
    exit_response_text,
)
from ccr.transformers.chain import Chain, build_chain
from tests.support.anthropic_stream_check import check_stream
from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import Call, FakeUpstream, Usage, raw_chunks, text, tool_calls
from tests.support.fixtures import MakeCcr, claude_code_fixture, fake_config
from tests.support.gateway_client import Sdk, last_chat, sse_events

PROVIDER = Provider(name="p", api_base_url="http://127.0.0.1:9/v1/chat/completions",
                    models=("m",))
BASH = {"type": "function", "function": {"name": "Bash", "parameters": {"type": "object"}}}


def _ctx(stream: bool = True) -> TransformContext:
    return TransformContext(provider=PROVIDER, model="m", stream=stream)


def _request(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": [BASH],
            **extra}


def _active(stream: bool = True) -> tuple[ToolUse, TransformContext]:
    """A transformer and a context on which Tool Mode was turned on by a request with tools."""
    transformer, ctx = ToolUse(), _ctx(stream)
    transformer.transform_request(_request(), ctx)
    return transformer, ctx


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _call(index: int, *, name: str | None = None, args: str | None = None,
          call_id: str | None = None) -> dict[str, Any]:
    fragment: dict[str, Any] = {"index": index, "function": {}}
    if call_id:
        fragment["id"] = call_id
    if name:
        fragment["function"]["name"] = name
    if args is not None:
        fragment["function"]["arguments"] = args
    return _chunk({"tool_calls": [fragment]})


def _exit_stream(arguments: list[str], finish: str = "tool_calls") -> list[dict[str, Any]]:
    """An upstream stream calling ExitTool with ``arguments`` split as given."""
    return [_call(0, name=EXIT_TOOL, args="", call_id="call_exit"),
            *(_call(0, args=part) for part in arguments), _chunk({}, finish)]


def _through(transformer: ToolUse, ctx: TransformContext,
             chunks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """What the transformer emits for each upstream chunk, then for the end of the stream."""
    return [transformer.transform_chunk(c, ctx) for c in chunks] + [transformer.end_stream(ctx)]


def _flat(outputs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [chunk for out in outputs for chunk in out]


def _content(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def _fragments(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for c in chunks if c["choices"] for f in c["choices"][0]["delta"].get("tool_calls")
            or ()]


def _finish(chunks: list[dict[str, Any]]) -> list[str]:
    return [c["choices"][0]["finish_reason"] for c in chunks
            if c["choices"] and c["choices"][0].get("finish_reason")]


def _client_message(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """The Anthropic message a client rebuilds from these unified chunks (protocol-checked)."""
    converter = StreamConverter(model="m", input_tokens=1)
    events = converter.start()
    for chunk in chunks:
        events += converter.feed(chunk)
    return check_stream(events + converter.finish())


def _completion(message: dict[str, Any], finish: str = "tool_calls") -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}]}


def _exit_call(arguments: str, call_id: str = "call_exit") -> dict[str, Any]:
    return {"id": call_id, "type": "function",
            "function": {"name": EXIT_TOOL, "arguments": arguments}}


# --------------------------------------------------------------------------------------------
# The request


def test_request_with_tools_forces_a_tool_call_and_offers_exit_tool_last() -> None:
    request = ToolUse().transform_request(_request(), _ctx())

    assert request["tool_choice"] == "required"
    assert [t["function"]["name"] for t in request["tools"]] == ["Bash", EXIT_TOOL]
    exit_params = request["tools"][-1]["function"]["parameters"]
    assert exit_params["required"] == ["response"]
    assert exit_params["properties"]["response"]["type"] == "string"


def test_reminder_closes_the_last_user_turn() -> None:
    request = ToolUse().transform_request(_request(), _ctx())

    assert request["messages"] == [{"role": "user", "content": f"hi\n\n{REMINDER}"}]
    assert EXIT_TOOL in REMINDER


def test_reminder_is_a_text_part_when_the_user_turn_has_parts() -> None:
    parts = [{"type": "text", "text": "look"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]
    request = _request(messages=[{"role": "user", "content": parts}])

    request = ToolUse().transform_request(request, _ctx())

    assert request["messages"][-1]["content"] == [*parts, {"type": "text", "text": REMINDER}]


def test_reminder_follows_tool_results_as_a_user_message() -> None:
    messages = [
        {"role": "user", "content": "run it"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ]

    request = ToolUse().transform_request(_request(messages=copy.deepcopy(messages)), _ctx())

    assert request["messages"] == [*messages, {"role": "user", "content": REMINDER}]


def test_request_objects_shared_with_the_client_body_are_not_mutated() -> None:
    tools, messages = [BASH], [{"role": "user", "content": "hi"}]
    snapshot = copy.deepcopy((tools, messages))

    ToolUse().transform_request(_request(tools=tools, messages=messages), _ctx())

    assert (tools, messages) == snapshot


def test_request_without_tools_is_left_alone() -> None:
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    ctx = _ctx()

    assert ToolUse().transform_request(copy.deepcopy(request), ctx) == request


def test_tool_choice_none_turns_tool_mode_off() -> None:
    request = _request(tool_choice="none")

    assert ToolUse().transform_request(copy.deepcopy(request), _ctx()) == request


def test_a_specific_tool_choice_is_kept() -> None:
    choice = {"type": "function", "function": {"name": "Bash"}}

    request = ToolUse().transform_request(_request(tool_choice=choice), _ctx())

    assert request["tool_choice"] == choice
    assert request["tools"][-1]["function"]["name"] == EXIT_TOOL


def test_a_client_tool_named_exit_tool_is_not_hijacked() -> None:
    own = {"type": "function", "function": {"name": EXIT_TOOL, "parameters": {}}}
    transformer, ctx = ToolUse(), _ctx(stream=False)
    request = transformer.transform_request(_request(tools=[own]), ctx)
    response = _completion({"role": "assistant", "content": None,
                            "tool_calls": [_exit_call('{"response": "x"}')]})

    assert request["tools"] == [own] and "tool_choice" not in request
    assert transformer.transform_response(copy.deepcopy(response), ctx) == response


def test_tool_mode_on_provider_and_model_adds_exit_tool_once() -> None:
    provider = Provider(name="p", api_base_url="http://127.0.0.1:9/v1/chat/completions",
                        models=("m",), transformer={"use": ["tooluse"], "m": {"use": ["tooluse"]}})
    chain: Chain = build_chain(provider, "m", key_path="Providers[0]")
    ctx = _ctx()

    body = chain.request(_request(), ctx).body
    chunks = [c for upstream in _exit_stream(['{"response": "once"}'])
              for c in chain.chunk(upstream, ctx)] + chain.end(ctx)

    assert [t["function"]["name"] for t in body["tools"]].count(EXIT_TOOL) == 1
    assert body["messages"][-1]["content"].count(REMINDER) == 1
    assert _content(chunks) == "once"


@pytest.mark.parametrize("use", [["tooluse", "enhancetool"], ["enhancetool", "tooluse"]],
                         ids=["enhancetool_first_back", "tooluse_first_back"])
def test_tool_mode_works_with_enhancetool_in_either_order(use: list[str]) -> None:
    provider = Provider(name="p", api_base_url="http://127.0.0.1:9/v1/chat/completions",
                        models=("m",), transformer={"use": use})
    chain = build_chain(provider, "m", key_path="Providers[0]")
    ctx = _ctx()
    chain.request(_request(), ctx)
    upstream = [_call(0, name="Bash", args="", call_id="call_b"),
                _call(1, name=EXIT_TOOL, args="", call_id="call_e"),
                _call(0, args="{'command': 'ls',}"), _call(1, args='{"response": "On it."}'),
                _chunk({}, "tool_calls")]

    chunks = [c for u in upstream for c in chain.chunk(u, ctx)] + chain.end(ctx)

    message = _client_message(chunks)
    assert [(b["type"], b.get("text") or b.get("input")) for b in message["content"]] == [
        ("tool_use", {"command": "ls"}), ("text", "On it.")]


# --------------------------------------------------------------------------------------------
# Non-streamed answers


def test_exit_tool_call_becomes_the_text_of_a_finished_turn() -> None:
    transformer, ctx = _active(stream=False)
    response = _completion({"role": "assistant", "content": None,
                            "tool_calls": [_exit_call('{"response": "The answer is 4."}')]})

    choice = transformer.transform_response(response, ctx)["choices"][0]

    assert choice["message"] == {"role": "assistant", "content": "The answer is 4."}
    assert choice["finish_reason"] == "stop"


def test_exit_tool_arguments_that_are_not_json_are_repaired() -> None:
    transformer, ctx = _active(stream=False)
    response = _completion({"role": "assistant", "content": None,
                            "tool_calls": [_exit_call("{'response': 'single quoted', }")]})

    message = transformer.transform_response(response, ctx)["choices"][0]["message"]

    assert message["content"] == "single quoted"


def test_exit_tool_arguments_without_an_object_are_kept_as_the_text() -> None:
    assert exit_response_text("just prose, no JSON") == "just prose, no JSON"
    assert exit_response_text('{"answer": "the only string"}') == "the only string"
    assert exit_response_text('{"response": ["a", 1]}') == '["a", 1]'
    assert exit_response_text("") == ""


def test_exit_tool_beside_a_real_call_keeps_the_real_call_and_adds_the_text() -> None:
    transformer, ctx = _active(stream=False)
    bash = {"id": "call_bash", "type": "function",
            "function": {"name": "Bash", "arguments": '{"command": "ls"}'}}
    response = _completion({"role": "assistant", "content": "Checking.",
                            "tool_calls": [_exit_call('{"response": "Listing now."}'), bash]})

    choice = transformer.transform_response(response, ctx)["choices"][0]

    assert choice["message"]["tool_calls"] == [bash]
    assert choice["message"]["content"] == "Checking.\n\nListing now."
    assert choice["finish_reason"] == "tool_calls"


def test_a_real_tool_call_alone_is_untouched() -> None:
    transformer, ctx = _active(stream=False)
    response = _completion({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "Bash", "arguments": "{}"}}]})

    assert transformer.transform_response(copy.deepcopy(response), ctx) == response


def test_exit_tool_cut_by_the_token_limit_keeps_the_length_finish() -> None:
    transformer, ctx = _active(stream=False)
    response = _completion({"role": "assistant", "content": None,
                            "tool_calls": [_exit_call('{"response": "Half an ans')]},
                           finish="length")

    choice = transformer.transform_response(response, ctx)["choices"][0]

    assert (choice["message"]["content"], choice["finish_reason"]) == ("Half an ans", "length")


def test_answers_to_requests_without_tool_mode_are_untouched() -> None:
    transformer, ctx = ToolUse(), _ctx(stream=False)
    transformer.transform_request({"model": "m", "messages": []}, ctx)
    response = _completion({"role": "assistant", "content": None,
                            "tool_calls": [_exit_call('{"response": "x"}')]})

    assert transformer.transform_response(copy.deepcopy(response), ctx) == response


# --------------------------------------------------------------------------------------------
# Streamed answers


def test_streamed_exit_tool_becomes_text_and_a_stop_finish() -> None:
    transformer, ctx = _active()

    out = _flat(_through(transformer, ctx, _exit_stream(['{"respo', 'nse": "Hel', 'lo."}'])))

    assert _content(out) == "Hello."
    assert _fragments(out) == []
    assert _finish(out) == ["stop"]


def test_streamed_exit_text_is_sent_as_it_arrives() -> None:
    transformer, ctx = _active()
    chunks = _exit_stream(['{"response": "First', " part", ', second"}'])

    outputs = _through(transformer, ctx, chunks)

    assert [_content(out) for out in outputs] == ["", "First", " part", ", second", "", ""]


@pytest.mark.parametrize("answer", [
    'He said "hi" \\ then left.\nNew line\ttab',
    "Accents é, CJK 中文, emoji 😀🎉",
    '{"looks": "like json"}',
    "",
])
@pytest.mark.parametrize("ascii_escapes", [True, False], ids=["escaped", "raw"])
def test_streamed_exit_text_matches_the_json_value_however_it_is_split(
    answer: str, ascii_escapes: bool
) -> None:
    arguments = json.dumps({"response": answer}, ensure_ascii=ascii_escapes)
    rng = random.Random(answer)
    splits = [[cut] for cut in range(len(arguments) + 1)]
    splits += [sorted(rng.sample(range(len(arguments)), 6)) for _ in range(30)]
    for cuts in splits:
        bounds = [0, *cuts, len(arguments)]
        parts = [arguments[a:b] for a, b in itertools.pairwise(bounds)]
        transformer, ctx = _active()

        out = _flat(_through(transformer, ctx, _exit_stream(parts)))

        assert _content(out) == answer, parts


def test_surrogate_pair_split_between_fragments_is_one_character() -> None:
    decoder = ExitText()

    pieces = [decoder.feed(p) for p in ['{"response": "a\\ud83d', '\\ude00b"}']]

    assert pieces == ["a", "😀b"]
    assert decoder.finish() == ""


def test_unpaired_surrogate_becomes_a_replacement_character() -> None:
    decoder = ExitText()

    text_out = decoder.feed('{"response": "x\\ud83dy"}') + decoder.finish()

    assert text_out == "x\ufffdy"


def test_unescaped_quotes_inside_the_response_are_kept() -> None:
    transformer, ctx = _active()

    out = _flat(_through(transformer, ctx,
                         _exit_stream(['{"response": "He said "', 'hi", then left"}'])))

    assert _content(out) == 'He said "hi", then left'


@pytest.mark.parametrize("arguments", [
    ["{'response': ", "'single quotes'}"],
    ["{response: ", '"unquoted key"}'],
    ['  {"answer": "other key"}'],
], ids=["single_quotes", "unquoted_key", "other_key"])
def test_streamed_exit_arguments_that_are_not_json_become_text_at_the_end(
    arguments: list[str],
) -> None:
    transformer, ctx = _active()

    outputs = _through(transformer, ctx, _exit_stream(arguments))

    expected = exit_response_text("".join(arguments))
    assert expected and expected in {"single quotes", "unquoted key", "other key"}
    assert [_content(out) for out in outputs[:-2]] == [""] * (len(outputs) - 2)
    assert _content(outputs[-2]) == expected
    assert _finish(outputs[-2]) == ["stop"]


def test_exit_text_without_a_finish_chunk_is_flushed_at_the_end_of_the_stream() -> None:
    transformer, ctx = _active()

    outputs = _through(transformer, ctx, _exit_stream(["{'response': 'late'}"])[:-1])

    assert _content(outputs[-1]) == "late"


def test_exit_tool_and_a_real_call_interleaved_keep_the_real_call_and_tool_calls_finish() -> None:
    transformer, ctx = _active()
    chunks = [
        _call(0, name="Bash", args="", call_id="call_bash"),
        _call(1, name=EXIT_TOOL, args="", call_id="call_exit"),
        _call(0, args='{"command": '),
        _call(1, args='{"response": "Running '),
        _call(0, args='"ls"}'),
        _call(1, args='it."}'),
        _chunk({}, "tool_calls"),
    ]

    out = _flat(_through(transformer, ctx, chunks))

    assert {f.get("index") for f in _fragments(out)} == {0}
    assert _content(out) == "Running it."
    assert _finish(out) == ["tool_calls"]
    message = _client_message(out)
    assert [(b["type"], b.get("text") or b.get("input")) for b in message["content"]] == [
        ("tool_use", {"command": "ls"}), ("text", "Running it.")]
    assert message["stop_reason"] == "tool_use"


def test_text_before_exit_text_is_parted_by_a_blank_line() -> None:
    transformer, ctx = _active()
    chunks = [_chunk({"content": "Thinking aloud."}), *_exit_stream(['{"response": "Done."}'])]

    out = _flat(_through(transformer, ctx, chunks))

    assert _content(out) == "Thinking aloud.\n\nDone."


def test_fragments_before_the_name_are_held_until_the_call_is_known() -> None:
    transformer, ctx = _active()
    chunks = [_call(0, args='{"response": ', call_id="call_x"),
              _call(0, name=EXIT_TOOL, args='"late name"}'), _chunk({}, "tool_calls")]

    out = _flat(_through(transformer, ctx, chunks))

    assert (_content(out), _fragments(out), _finish(out)) == ("late name", [], ["stop"])


def test_held_fragments_of_a_real_call_are_released_with_its_name_in_order() -> None:
    transformer, ctx = _active()
    chunks = [_call(0, args='{"command": ', call_id="call_b"), _call(0, name="Bash", args='"ls"}')]

    outputs = _through(transformer, ctx, chunks)

    assert _fragments(outputs[0]) == []
    assert [f["function"].get("arguments") for f in _fragments(outputs[1])] == [
        '{"command": ', '"ls"}']


def test_streams_of_requests_without_tool_mode_pass_untouched() -> None:
    transformer, ctx = ToolUse(), _ctx()
    transformer.transform_request({"model": "m", "messages": []}, ctx)
    chunks = _exit_stream(['{"response": "x"}'])

    outputs = _through(transformer, ctx, copy.deepcopy(chunks))

    assert _flat(outputs) == chunks


def test_the_client_sees_one_text_block_and_end_turn() -> None:
    transformer, ctx = _active()

    out = _flat(_through(transformer, ctx,
                         _exit_stream(['{"response": "All', ' good', ' here."}'])))

    message = _client_message(out)
    assert message["content"] == [{"type": "text", "text": "All good here."}]
    assert message["stop_reason"] == "end_turn"


# --------------------------------------------------------------------------------------------
# End to end: the anthropic SDK, a real ccr, the fake upstream

TOOLS = [{"name": "Bash", "description": "Run a command",
          "input_schema": {"type": "object", "properties": {"command": {"type": "string"}},
                           "required": ["command"]}}]
CHAINS = {
    "provider": {"use": ["tooluse"]},
    "model": {"use": [], "fake-model": {"use": ["tooluse"]}},
}


def _tool_mode_server(make_ccr: MakeCcr, fake: FakeUpstream, chain: str = "provider") -> CcrServer:
    config = fake_config(fake)
    config["Providers"][0]["transformer"] = CHAINS[chain]
    return make_ccr(config)


def _tool_mode_sdk(make_ccr: MakeCcr, fake: FakeUpstream, chain: str = "provider") -> Sdk:
    return Sdk.on(_tool_mode_server(make_ccr, fake, chain))


@pytest.mark.parametrize("chain", list(CHAINS))
@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_tool_mode_passes_an_end_to_end_test_through_the_server_with_the_sdk(
    make_ccr: MakeCcr, fake: FakeUpstream, chain: str, streamed: bool
) -> None:
    sdk = _tool_mode_sdk(make_ccr, fake, chain)
    answer = 'Nothing to run: 2 + 2 = 4.\nSee "math".'
    fake.enqueue(tool_calls([Call(EXIT_TOOL, {"response": answer})], usage=Usage(30, 9)))

    message = sdk.ask(streamed, tools=TOOLS,
                      messages=[{"role": "user", "content": "what is 2+2?"}])

    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [("text", answer)]
    assert message.stop_reason == "end_turn"
    sent = last_chat(fake).body
    assert sent is not None
    assert sent["tool_choice"] == "required"
    assert [t["function"]["name"] for t in sent["tools"]] == ["Bash", EXIT_TOOL]
    assert REMINDER in sent["messages"][-1]["content"]


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_tool_mode_lets_a_real_tool_call_through_as_tool_use(
    make_ccr: MakeCcr, fake: FakeUpstream, streamed: bool
) -> None:
    sdk = _tool_mode_sdk(make_ccr, fake)
    fake.enqueue(tool_calls([Call("Bash", {"command": "ls -la"}, id="call_ls")]))

    message = sdk.ask(streamed, tools=TOOLS, messages=[{"role": "user", "content": "list"}])

    [block] = message.content
    assert (block.type, block.id, block.name, block.input) == (  # type: ignore[union-attr]
        "tool_use", "call_ls", "Bash", {"command": "ls -la"})
    assert message.stop_reason == "tool_use"


def test_tool_mode_streams_an_exit_response_split_into_many_fragments(
    make_ccr: MakeCcr, fake: FakeUpstream
) -> None:
    sdk = _tool_mode_sdk(make_ccr, fake)
    answer = "A long answer — with ünïcode, \"quotes\", and a\nnewline. " * 3
    arguments = json.dumps({"response": answer})
    parts = [arguments[i:i + 4] for i in range(0, len(arguments), 4)]
    chunks = [_call(0, name=EXIT_TOOL, args="", call_id="call_e")]
    chunks += [_call(0, args=p) for p in parts]
    fake.enqueue(raw_chunks([*chunks, _chunk({}, "tool_calls")]))

    message = sdk.stream(tools=TOOLS)

    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [("text", answer)]
    assert message.stop_reason == "end_turn"
    text_deltas = [e for name, e in sdk.transport.last_events()
                   if name == "content_block_delta" and e["delta"]["type"] == "text_delta"]
    assert len(text_deltas) > 10  # sent piece by piece, not at the end


def test_tool_mode_with_exit_tool_and_a_real_call_gives_text_and_tool_use(
    make_ccr: MakeCcr, fake: FakeUpstream
) -> None:
    sdk = _tool_mode_sdk(make_ccr, fake)
    fake.enqueue(tool_calls([Call(EXIT_TOOL, {"response": "Let me look."}),
                             Call("Bash", {"command": "pwd"}, id="call_pwd")],
                            mode="interleaved"))

    message = sdk.stream(tools=TOOLS)

    blocks = [(b.type, getattr(b, "text", None) or getattr(b, "input", None))
              for b in message.content]
    assert sorted(blocks, key=str) == sorted(
        [("text", "Let me look."), ("tool_use", {"command": "pwd"})], key=str)
    assert message.stop_reason == "tool_use"


def test_tool_mode_leaves_requests_without_tools_alone(
    make_ccr: MakeCcr, fake: FakeUpstream
) -> None:
    sdk = _tool_mode_sdk(make_ccr, fake)
    fake.enqueue(text("plain"))

    message = sdk.create()

    sent = last_chat(fake).body
    assert sent is not None
    assert "tools" not in sent and "tool_choice" not in sent
    assert all(REMINDER not in json.dumps(m) for m in sent["messages"])
    assert message.content[0].text == "plain"  # type: ignore[union-attr]


def test_tool_mode_on_a_recorded_claude_code_tool_result_turn(
    make_ccr: MakeCcr, fake: FakeUpstream
) -> None:
    recorded = claude_code_fixture("03-bash-turn2-tool-result")
    server = _tool_mode_server(make_ccr, fake)
    fake.enqueue(tool_calls([Call(EXIT_TOOL, {"response": "The command printed hi-from-tool."})]))

    response = httpx.post(f"{server.base_url}/v1/messages",
                          json={**recorded["body"], "stream": True}, timeout=20)

    message = check_stream(sse_events(response.content))
    assert message["content"] == [{"type": "text", "text": "The command printed hi-from-tool."}]
    assert message["stop_reason"] == "end_turn"
    sent = last_chat(fake).body
    assert sent is not None
    roles = [m["role"] for m in sent["messages"]]
    assert roles[-3:] == ["assistant", "tool", "user"]
    assert sent["messages"][-1]["content"] == REMINDER
    assert sent["tools"][-1]["function"]["name"] == EXIT_TOOL
    assert len(sent["tools"]) == len(recorded["body"]["tools"]) + 1
