"""``enhancetool``: malformed tool-call arguments are repaired before the client parses them;
valid ones pass unchanged. Streamed calls keep their header immediate and get their arguments in
one piece when the upstream finishes. End-to-end tests drive a real ccr with the SDK."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ccr.config.model import Provider
from ccr.convert.stream import StreamConverter
from ccr.transformers.base import TransformContext
from ccr.transformers.builtin.enhancetool import EnhanceTool, repair_arguments
from tests.support.anthropic_stream_check import check_stream
from tests.support.fake_upstream import Call, FakeUpstream, raw_chunks, tool_calls
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.gateway_client import Sdk

PROVIDER = Provider(name="p", api_base_url="http://127.0.0.1:9/v1/chat/completions",
                    models=("m",))


def _ctx(stream: bool = True) -> TransformContext:
    return TransformContext(provider=PROVIDER, model="m", stream=stream)


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _call(index: int, *, name: str | None = None, args: str | None = None,
          call_id: str | None = None) -> dict[str, Any]:
    fragment: dict[str, Any] = {"index": index, "function": {}}
    if call_id:
        fragment["id"] = call_id
        fragment["type"] = "function"
    if name:
        fragment["function"]["name"] = name
    if args is not None:
        fragment["function"]["arguments"] = args
    return _chunk({"tool_calls": [fragment]})


def _stream(name: str, parts: list[str], finish: str | None = "tool_calls") -> list[dict[str, Any]]:
    chunks = [_call(0, name=name, args="", call_id="call_0"), *(_call(0, args=p) for p in parts)]
    return chunks + ([_chunk({}, finish)] if finish else [])


def _through(chunks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """What the transformer emits for each upstream chunk, then for the end of the stream."""
    transformer, ctx = EnhanceTool(), _ctx()
    return [transformer.transform_chunk(c, ctx) for c in chunks] + [transformer.end_stream(ctx)]


def _arguments(chunks: list[dict[str, Any]]) -> dict[Any, str]:
    """Argument text per tool index, as the client would concatenate it."""
    out: dict[Any, str] = {}
    for chunk in chunks:
        for fragment in chunk["choices"][0]["delta"].get("tool_calls") or ():
            key = fragment.get("index")
            out[key] = out.get(key, "") + (fragment.get("function", {}).get("arguments") or "")
    return out


def _client_message(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """The Anthropic message a client rebuilds from these unified chunks (protocol-checked)."""
    converter = StreamConverter(model="m", input_tokens=1)
    events = converter.start()
    for chunk in chunks:
        events += converter.feed(chunk)
    return check_stream(events + converter.finish())


# --------------------------------------------------------------------------------------------
# Repairing one arguments text

BROKEN = {
    "truncated": ('{"command": "ls -la", "timeout": 5', {"command": "ls -la", "timeout": 5}),
    "single_quotes": ("{'command': 'ls'}", {"command": "ls"}),
    "trailing_comma": ('{"command": "ls",}', {"command": "ls"}),
    "unquoted_keys": ('{command: "ls", timeout: 5}', {"command": "ls", "timeout": 5}),
    "python_literals": ('{"a": True, "b": None, "c": False}', {"a": True, "b": None, "c": False}),
    "code_fence": ('```json\n{"command": "ls"}\n```', {"command": "ls"}),
    "raw_newlines": ('{"content": "line 1\nline 2\n"}', {"content": "line 1\nline 2\n"}),
    "encoded_twice": (json.dumps(json.dumps({"command": "ls"})), {"command": "ls"}),
}


@pytest.mark.parametrize("broken,repaired", list(BROKEN.values()), ids=list(BROKEN))
def test_broken_arguments_are_repaired_into_an_object(
    broken: str, repaired: dict[str, Any]
) -> None:
    assert json.loads(repair_arguments(broken)) == repaired


@pytest.mark.parametrize("valid", [
    '{"command": "ls"}',
    '{ "a" : [1, 2.50, {"b": null}],\n  "c": "\\u00e9" }',
    "{}",
])
def test_valid_arguments_come_back_byte_for_byte(valid: str) -> None:
    assert repair_arguments(valid) == valid


@pytest.mark.parametrize("empty", ["", "   ", None])
def test_empty_arguments_are_an_empty_object(empty: str | None) -> None:
    assert repair_arguments(empty) == "{}"


@pytest.mark.parametrize("hopeless", ["ls -la /tmp", "[1, 2]", '{"command'])
def test_arguments_that_cannot_become_an_object_are_kept_raw_under_input(hopeless: str) -> None:
    assert json.loads(repair_arguments(hopeless)) == {"input": hopeless}


# --------------------------------------------------------------------------------------------
# Non-streamed answers


def _completion(*calls: tuple[str, Any]) -> dict[str, Any]:
    tool_calls_ = [{"id": f"call_{i}", "type": "function",
                    "function": {"name": name, "arguments": arguments}}
                   for i, (name, arguments) in enumerate(calls)]
    return {"choices": [{"index": 0, "finish_reason": "tool_calls",
                         "message": {"role": "assistant", "content": None,
                                     "tool_calls": tool_calls_}}]}


def test_json_answer_arguments_are_repaired_in_place() -> None:
    response = _completion(("Bash", "{'command': 'ls',}"), ("Read", '{"file_path": "/a"}'))

    calls = EnhanceTool().transform_response(response, _ctx(False))["choices"][0]["message"][
        "tool_calls"]

    assert [c["function"]["arguments"] for c in calls] == [
        '{"command": "ls"}', '{"file_path": "/a"}']


def test_json_answer_with_object_arguments_or_no_calls_is_untouched() -> None:
    response = _completion(("Bash", {"command": "ls"}))
    text_only = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]}

    for body in (response, text_only):
        assert EnhanceTool().transform_response(copy.deepcopy(body), _ctx(False)) == body


# --------------------------------------------------------------------------------------------
# Streamed answers


def test_call_header_passes_at_once_and_arguments_wait_for_the_finish() -> None:
    outputs = _through(_stream("Bash", ['{"comm', "and\": 'ls'"]))

    header, *middle, finish, end = outputs
    [fragment] = header[0]["choices"][0]["delta"]["tool_calls"]
    assert (fragment["id"], fragment["function"]) == ("call_0", {"name": "Bash", "arguments": ""})
    assert all(_arguments(out) == {} for out in middle)
    assert _arguments(finish) == {0: '{"command": "ls"}'}
    assert finish[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert end == []


def test_valid_streamed_arguments_arrive_unchanged() -> None:
    arguments = '{"file_path": "/tmp/a.py",  "content": "print(1)\\n"}'
    parts = [arguments[i:i + 7] for i in range(0, len(arguments), 7)]

    chunks = [c for out in _through(_stream("Write", parts)) for c in out]

    assert _arguments(chunks) == {0: arguments}


def test_arguments_are_flushed_at_the_end_when_no_finish_chunk_came() -> None:
    outputs = _through(_stream("Bash", ['{"command": "ls"'], finish=None))

    assert _arguments(outputs[-1]) == {0: '{"command": "ls"}'}


def test_interleaved_parallel_calls_each_get_their_own_repaired_arguments() -> None:
    chunks = [
        _call(0, name="Bash", args="", call_id="call_a"),
        _call(1, name="Read", args="", call_id="call_b"),
        _call(0, args="{'command': "),
        _call(1, args='{file_path: "/etc/hosts"'),
        _call(0, args="'pwd',}"),
        _chunk({}, "tool_calls"),
    ]

    out = [c for output in _through(chunks) for c in output]

    assert {i: json.loads(a) for i, a in _arguments(out).items()} == {
        0: {"command": "pwd"}, 1: {"file_path": "/etc/hosts"}}
    message = _client_message(out)
    assert [(b["id"], b["name"], b["input"]) for b in message["content"]] == [
        ("call_a", "Bash", {"command": "pwd"}), ("call_b", "Read", {"file_path": "/etc/hosts"})]


def test_call_with_empty_arguments_gets_an_empty_object() -> None:
    out = [c for output in _through(_stream("TodoList", [])) for c in output]

    assert _arguments(out) == {0: "{}"}
    assert _client_message(out)["content"][0]["input"] == {}


def _text_and_call() -> dict[str, Any]:
    return _chunk({"content": "Running.", "tool_calls": [
        {"index": 0, "id": "call_t", "function": {"name": "Bash", "arguments": '{"a": 1}'}}]})


def test_text_in_a_chunk_with_argument_fragments_is_kept() -> None:
    [out] = EnhanceTool().transform_chunk(_text_and_call(), _ctx())

    assert out["choices"][0]["delta"]["content"] == "Running."
    assert _arguments([out]) == {0: ""}


def test_the_upstream_chunk_itself_is_not_changed() -> None:
    chunk = _text_and_call()

    EnhanceTool().transform_chunk(chunk, _ctx())

    assert chunk == _text_and_call()


def test_chunks_without_tool_calls_pass_untouched() -> None:
    chunks = [_chunk({"role": "assistant", "content": "Hi"}), _chunk({}, "stop")]

    outputs = _through(copy.deepcopy(chunks))

    assert outputs == [[chunks[0]], [chunks[1]], []]


def test_broken_streamed_arguments_reach_the_client_as_the_repaired_input() -> None:
    out = [c for output in _through(_stream("Bash", ["{'command': 'echo hi', ", "timeout: 30,"]))
           for c in output]

    message = _client_message(out)

    assert message["content"][0]["input"] == {"command": "echo hi", "timeout": 30}
    assert message["stop_reason"] == "tool_use"


# --------------------------------------------------------------------------------------------
# End to end: the anthropic SDK, a real ccr, the fake upstream


@pytest.fixture
def sdk(make_ccr: MakeCcr, fake: FakeUpstream) -> Sdk:
    config = fake_config(fake)
    config["Providers"][0]["transformer"] = {"use": ["enhancetool"]}
    return Sdk.on(make_ccr(config))


def test_broken_streamed_arguments_reach_the_sdk_repaired(fake: FakeUpstream, sdk: Sdk) -> None:
    parts = ["{'command'", ": 'git status", "', description: 'Show", " status', ", "timeout: 60,"]
    chunks = [_call(0, name="Bash", args="", call_id="call_git")]
    chunks += [_call(0, args=p) for p in parts]
    fake.enqueue(raw_chunks([*chunks, _chunk({}, "tool_calls")]))

    message = sdk.stream()

    [block] = message.content
    assert (block.type, block.id, block.name) == ("tool_use", "call_git", "Bash")
    assert block.input == {  # type: ignore[union-attr]
        "command": "git status", "description": "Show status", "timeout": 60}
    assert message.stop_reason == "tool_use"


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_broken_parallel_calls_reach_the_sdk_repaired(
    fake: FakeUpstream, sdk: Sdk, streamed: bool
) -> None:
    fake.enqueue(tool_calls([Call("Bash", "{'command': 'ls',}", id="call_1"),
                             Call("Read", '{file_path: "/a.txt"', id="call_2")],
                            mode="interleaved"))

    message = sdk.ask(streamed)

    assert [(b.id, b.input) for b in message.content] == [  # type: ignore[union-attr]
        ("call_1", {"command": "ls"}), ("call_2", {"file_path": "/a.txt"})]


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_unrepairable_arguments_reach_the_sdk_as_raw_input(
    fake: FakeUpstream, sdk: Sdk, streamed: bool
) -> None:
    fake.enqueue(tool_calls([Call("Bash", "ls -la", id="call_raw")]))

    message = sdk.ask(streamed)

    assert message.content[0].input == {"input": "ls -la"}  # type: ignore[union-attr]
