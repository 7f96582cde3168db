"""StreamConverter: unified OpenAI chunks in, an Anthropic stream Claude Code accepts out."""

from __future__ import annotations

import json
import random
from typing import Any

import anthropic
import pytest

from ccr.convert.common import is_generated_signature
from ccr.convert.stream import StreamConverter
from ccr.errors import ApiError
from tests.support.anthropic_stream_check import StreamViolation, check_stream, sdk_final_message

# --- chunk builders ---------------------------------------------------------------------------


def chunk(finish: str | None = None, usage: dict[str, Any] | None = None, **delta: Any) -> dict:
    out: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        out["usage"] = usage
    return out


def call(index: int | None = None, id: str | None = None, name: str | None = None,
         args: str | None = None) -> dict[str, Any]:
    fragment: dict[str, Any] = {}
    if index is not None:
        fragment["index"] = index
    if id is not None:
        fragment["id"] = id
        fragment["type"] = "function"
    function: dict[str, Any] = {}
    if name is not None:
        function["name"] = name
    if args is not None:
        function["arguments"] = args
    fragment["function"] = function
    return fragment


def usage_chunk(prompt: int, completion: int, cached: int | None = None) -> dict[str, Any]:
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": prompt + completion}
    if cached is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [], "usage": usage}


def run(chunks: list[dict | None], *, input_tokens: int = 50,
        stop_sequences: list[str] | None = None) -> list[tuple[str, dict]]:
    converter = StreamConverter(model="deepseek-chat", input_tokens=input_tokens,
                                stop_sequences=stop_sequences)
    events = converter.start()
    for item in chunks:
        events += converter.feed(item)
    events += converter.finish()
    return events


def blocks(message: dict) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for block in message["content"]:
        if block["type"] == "text":
            out.append(("text", block["text"]))
        elif block["type"] == "thinking":
            out.append(("thinking", block["thinking"]))
        else:
            out.append(("tool_use", (block["name"], block["input"])))
    return out


def partial_json_by_block(events: list[tuple[str, dict]]) -> dict[int, str]:
    parts: dict[int, str] = {}
    for name, data in events:
        if name == "content_block_delta" and data["delta"]["type"] == "input_json_delta":
            parts[data["index"]] = parts.get(data["index"], "") + data["delta"]["partial_json"]
    return parts


# --- text and thinking ------------------------------------------------------------------------


def test_plain_text_becomes_one_text_block_the_sdk_rebuilds():
    events = run([chunk(role="assistant", content=""), chunk(content="Hel"), chunk(content="lo"),
                  chunk(finish="stop"), usage_chunk(30, 2)])
    message = check_stream(events)
    assert blocks(message) == [("text", "Hello")]
    assert message["stop_reason"] == "end_turn"
    final = sdk_final_message(events)
    assert [block.text for block in final.content] == ["Hello"]
    assert final.stop_reason == "end_turn"


def test_message_start_carries_the_input_estimate_and_the_message_id():
    converter = StreamConverter(model="m", input_tokens=1234, message_id="msg_abc")
    [(name, data)] = converter.start()
    assert name == "message_start"
    assert data["message"]["id"] == "msg_abc"
    assert data["message"]["model"] == "m"
    assert data["message"]["usage"]["input_tokens"] == 1234
    assert converter.start() == []


def test_reasoning_content_then_text_gives_a_signed_thinking_block_before_the_text():
    events = run([chunk(reasoning_content="Let me "), chunk(reasoning_content="think."),
                  chunk(content="Answer."), chunk(finish="stop")])
    message = check_stream(events)
    assert blocks(message) == [("thinking", "Let me think."), ("text", "Answer.")]
    assert is_generated_signature(message["content"][0]["signature"])
    final = sdk_final_message(events)
    assert final.content[0].type == "thinking"
    assert final.content[0].signature == message["content"][0]["signature"]


def test_openrouter_reasoning_field_is_thinking_too():
    message = check_stream(run([chunk(reasoning="hmm"), chunk(content="ok"), chunk(finish="stop")]))
    assert blocks(message) == [("thinking", "hmm"), ("text", "ok")]


def test_reasoning_content_and_reasoning_in_one_delta_are_not_doubled():
    message = check_stream(run([chunk(reasoning_content="once", reasoning="once"),
                                chunk(content="x"), chunk(finish="stop")]))
    assert blocks(message)[0] == ("thinking", "once")


def test_upstream_signature_is_used_for_the_thinking_block():
    events = run([chunk(reasoning_content="deep"),
                  chunk(thinking={"signature": "REAL-SIG"}, content="done"),
                  chunk(finish="stop")])
    message = check_stream(events)
    assert message["content"][0]["signature"] == "REAL-SIG"


def test_signature_without_reasoning_text_still_reaches_the_client():
    events = run([chunk(thinking={"signature": "SIG"},
                        tool_calls=[call(0, "call_1", "Bash", '{"command":"ls"}')]),
                  chunk(finish="tool_calls")])
    message = check_stream(events)
    assert message["content"][0] == {"type": "thinking", "thinking": "", "signature": "SIG"}
    assert blocks(message)[1] == ("tool_use", ("Bash", {"command": "ls"}))


def test_reasoning_text_and_tool_call_in_one_chunk_come_out_in_that_order():
    events = run([chunk(reasoning_content="plan", content="Running it.",
                        tool_calls=[call(0, "call_1", "Bash", '{"command":"ls"}')]),
                  chunk(finish="tool_calls")])
    message = check_stream(events)
    assert blocks(message) == [("thinking", "plan"), ("text", "Running it."),
                               ("tool_use", ("Bash", {"command": "ls"}))]
    assert message["stop_reason"] == "tool_use"


def test_content_and_finish_reason_in_one_chunk_sends_the_content_before_message_delta():
    converter = StreamConverter(model="m", input_tokens=5)
    events = converter.start() + converter.feed(chunk(finish="stop", content="last words"))
    assert [name for name, _ in events][-1] == "content_block_delta"
    assert "message_delta" not in [name for name, _ in events]
    events += converter.finish()
    assert blocks(check_stream(events)) == [("text", "last words")]


def test_empty_content_strings_never_open_a_text_block():
    events = run([chunk(role="assistant", content=""), chunk(content=""), chunk(content=None),
                  chunk(reasoning_content="r", content=""), chunk(finish="stop")])
    assert [b[0] for b in blocks(check_stream(events))] == ["thinking"]


def test_whitespace_only_text_never_becomes_a_block():
    events = run([chunk(tool_calls=[call(0, "c1", "Read", '{"path":"a"}')]), chunk(content="\n\n"),
                  chunk(finish="tool_calls")])
    assert [b[0] for b in blocks(check_stream(events))] == ["tool_use"]


def test_whitespace_before_text_is_kept_in_the_text():
    events = run([chunk(reasoning_content="r"), chunk(content="\n\n"), chunk(content="Hi"),
                  chunk(finish="stop")])
    assert blocks(check_stream(events))[1] == ("text", "\n\nHi")


def test_unicode_text_survives_encoding_and_the_sdk():
    text = "héllo 世界 🎉 \u2028 \"quoted\" \\ back"
    pieces = [text[i:i + 3] for i in range(0, len(text), 3)]
    events = run([chunk(content=piece) for piece in pieces] + [chunk(finish="stop")])
    assert blocks(check_stream(events)) == [("text", text)]
    assert sdk_final_message(events).content[0].text == text


def test_reasoning_after_text_opens_a_new_thinking_block():
    events = run([chunk(content="a"), chunk(reasoning_content="b"), chunk(content="c"),
                  chunk(finish="stop")])
    assert blocks(check_stream(events)) == [("text", "a"), ("thinking", "b"), ("text", "c")]


# --- tool calls -------------------------------------------------------------------------------


def test_streamed_tool_call_arguments_pass_through_byte_for_byte():
    fragments = ['{"comm', 'and": "ec', 'ho \\"hi\\" ', '✓"', "}"]
    chunks = [chunk(tool_calls=[call(0, "call_1", "Bash", "")])]
    chunks += [chunk(tool_calls=[call(0, args=fragment)]) for fragment in fragments]
    events = run([*chunks, chunk(finish="tool_calls")])
    check_stream(events)
    assert partial_json_by_block(events) == {0: "".join(fragments)}
    final = sdk_final_message(events)
    assert final.content[0].input == {"command": 'echo "hi" ✓'}
    assert final.stop_reason == "tool_use"


def test_parallel_tool_calls_become_one_block_each_in_order():
    chunks = [chunk(content="Two things."),
              chunk(tool_calls=[call(0, "call_a", "Read", "")]),
              chunk(tool_calls=[call(0, args='{"path":')]),
              chunk(tool_calls=[call(0, args='"a.py"}')]),
              chunk(tool_calls=[call(1, "call_b", "Read", "")]),
              chunk(tool_calls=[call(1, args='{"path":"b.py"}')]),
              chunk(finish="tool_calls")]
    events = run(chunks)
    message = check_stream(events)
    assert blocks(message) == [("text", "Two things."), ("tool_use", ("Read", {"path": "a.py"})),
                               ("tool_use", ("Read", {"path": "b.py"}))]
    assert [b["id"] for b in message["content"][1:]] == ["call_a", "call_b"]
    assert [b.input for b in sdk_final_message(events).content[1:]] == [
        {"path": "a.py"}, {"path": "b.py"}]


def test_sequential_tool_calls_stream_live_without_waiting_for_the_end():
    converter = StreamConverter(model="m", input_tokens=1)
    converter.start()
    converter.feed(chunk(tool_calls=[call(0, "a", "Read", '{"path":"a"}')]))
    events = converter.feed(chunk(tool_calls=[call(1, "b", "Read", '{"pa')]))
    names = [name for name, _ in events]
    assert names == ["content_block_stop", "content_block_start", "content_block_delta"]


def test_arguments_sent_whole_with_id_and_name_work():
    events = run([chunk(tool_calls=[call(0, "call_1", "Write", '{"file":"x","content":"y"}'),
                                    call(1, "call_2", "Bash", '{"command":"ls"}')]),
                  chunk(finish="tool_calls")])
    assert blocks(check_stream(events)) == [("tool_use", ("Write", {"file": "x", "content": "y"})),
                                            ("tool_use", ("Bash", {"command": "ls"}))]


def test_name_first_and_all_arguments_in_a_later_chunk_work():
    events = run([chunk(tool_calls=[call(0, "call_1", "Bash")]),
                  chunk(tool_calls=[call(1, "call_2", "Read")]),
                  chunk(tool_calls=[call(0, args='{"command":"pwd"}')]),
                  chunk(tool_calls=[call(1, args='{"path":"f"}')]),
                  chunk(finish="tool_calls")])
    assert blocks(check_stream(events)) == [("tool_use", ("Bash", {"command": "pwd"})),
                                            ("tool_use", ("Read", {"path": "f"}))]


def test_id_repeated_on_every_fragment_is_one_call():
    events = run([chunk(tool_calls=[call(0, "call_1", "Bash", '{"command":')]),
                  chunk(tool_calls=[call(0, "call_1", None, '"ls"}')]),
                  chunk(finish="tool_calls")])
    assert blocks(check_stream(events)) == [("tool_use", ("Bash", {"command": "ls"}))]


def test_fragments_without_index_continue_the_current_call():
    events = run([chunk(tool_calls=[call(None, "call_1", "Bash", '{"command":')]),
                  chunk(tool_calls=[call(None, None, None, '"ls"}')]),
                  chunk(tool_calls=[call(None, "call_2", "Read", '{"path":"x"}')]),
                  chunk(finish="tool_calls")])
    message = check_stream(events)
    assert blocks(message) == [("tool_use", ("Bash", {"command": "ls"})),
                               ("tool_use", ("Read", {"path": "x"}))]


def test_a_new_id_on_a_reused_index_is_a_new_call():
    events = run([chunk(tool_calls=[call(0, "call_1", "Bash", '{"command":"a"}')]),
                  chunk(tool_calls=[call(0, "call_2", "Bash", '{"command":"b"}')]),
                  chunk(finish="tool_calls")])
    message = check_stream(events)
    assert [b["id"] for b in message["content"]] == ["call_1", "call_2"]


def test_a_fresh_id_on_every_fragment_without_a_name_continues_the_call():
    events = run([chunk(tool_calls=[call(0, "call_1", "Bash", '{"command":')]),
                  chunk(tool_calls=[call(0, "call_2", None, '"ls"}')]),
                  chunk(finish="tool_calls")])
    message = check_stream(events)
    assert blocks(message) == [("tool_use", ("Bash", {"command": "ls"}))]
    assert message["content"][0]["id"] == "call_1"


def test_interleaved_fragments_of_two_calls_are_reassembled_exactly():
    chunks = [chunk(tool_calls=[call(0, "call_a", "Bash", '{"comm')]),
              chunk(tool_calls=[call(1, "call_b", "Read", '{"pa')]),
              chunk(tool_calls=[call(0, args='and":"ls"')]),
              chunk(tool_calls=[call(1, args='th":"x"}')]),
              chunk(tool_calls=[call(0, args="}")]),
              chunk(finish="tool_calls")]
    events = run(chunks)
    message = check_stream(events)
    assert blocks(message) == [("tool_use", ("Bash", {"command": "ls"})),
                               ("tool_use", ("Read", {"path": "x"}))]
    assert partial_json_by_block(events) == {0: '{"command":"ls"}', 1: '{"path":"x"}'}
    assert [b.input for b in sdk_final_message(events).content] == [
        {"command": "ls"}, {"path": "x"}]


def test_missing_tool_call_ids_are_generated_and_distinct():
    events = run([chunk(tool_calls=[call(0, None, "Bash", '{"command":"a"}')]),
                  chunk(tool_calls=[call(1, None, "Bash", '{"command":"b"}')]),
                  chunk(finish="tool_calls")])
    ids = [b["id"] for b in check_stream(events)["content"]]
    assert all(i.startswith("toolu_") for i in ids)
    assert len(set(ids)) == 2


def test_tool_call_with_empty_arguments_has_empty_input():
    events = run([chunk(tool_calls=[call(0, "c", "TodoRead", "")]), chunk(finish="tool_calls")])
    assert blocks(check_stream(events)) == [("tool_use", ("TodoRead", {}))]


def test_text_after_a_tool_call_is_its_own_block():
    events = run([chunk(tool_calls=[call(0, "c", "Bash", '{"command":"ls"}')]),
                  chunk(content="Done."), chunk(finish="tool_calls")])
    assert blocks(check_stream(events)) == [("tool_use", ("Bash", {"command": "ls"})),
                                            ("text", "Done.")]


def test_legacy_function_call_delta_becomes_a_tool_use_block():
    events = run([chunk(function_call={"name": "Bash", "arguments": '{"command":'}),
                  chunk(function_call={"arguments": '"ls"}'}), chunk(finish="function_call")])
    assert blocks(check_stream(events)) == [("tool_use", ("Bash", {"command": "ls"}))]


@pytest.mark.parametrize("seed", range(40))
def test_randomly_fragmented_parallel_calls_keep_every_byte(seed: int):
    rng = random.Random(seed)
    calls = [json.dumps({"n": i, "text": "x" * rng.randint(0, 30) + "é"}) for i in range(3)]
    pieces: list[list[str]] = []
    for text in calls:
        cuts = sorted(rng.sample(range(1, len(text)), 4))
        pieces.append([text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)])
    interleave = seed % 2 == 1
    chunks = [chunk(reasoning_content="think"), chunk(content="text")]
    seen: list[int] = []  # calls in order of first appearance: the order of their blocks
    while any(pieces):
        waiting = [k for k, p in enumerate(pieces) if p]
        i = rng.choice(waiting) if interleave else waiting[0]
        first = i not in seen
        if first:
            seen.append(i)
        chunks.append(chunk(tool_calls=[call(i, f"call_{i}" if first else None,
                                             "T" if first else None, pieces[i].pop(0))]))
    events = run([*chunks, chunk(finish="tool_calls")])
    message = check_stream(events)
    inputs = [b["input"] for b in message["content"] if b["type"] == "tool_use"]
    assert inputs == [json.loads(calls[i]) for i in seen]


# --- stop reasons -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("finish", "expected"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal"),
     (None, "end_turn"), ("tool_calls", "end_turn")],
)
def test_finish_reason_without_tool_calls_maps_to_stop_reason(finish, expected):
    events = run([chunk(content="x"), chunk(finish=finish)])
    assert check_stream(events)["stop_reason"] == expected
    assert sdk_final_message(events).stop_reason == expected


def test_tool_calls_with_finish_reason_stop_still_stop_for_tool_use():
    events = run([chunk(tool_calls=[call(0, "c", "Bash", '{"command":"ls"}')]),
                  chunk(finish="stop")])
    assert check_stream(events)["stop_reason"] == "tool_use"


def test_stop_sequence_reported_by_the_upstream_becomes_stop_sequence():
    finish = chunk(finish="stop")
    finish["choices"][0]["matched_stop"] = "END"
    events = run([chunk(content="x"), finish], stop_sequences=["END"])
    message = check_stream(events)
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "END")


def test_vllm_integer_stop_reason_is_not_a_stop_sequence():
    finish = chunk(finish="stop")
    finish["choices"][0]["stop_reason"] = 151645
    events = run([chunk(content="x"), finish], stop_sequences=["END"])
    assert check_stream(events)["stop_reason"] == "end_turn"


def test_stop_reason_property_is_set_by_finish():
    converter = StreamConverter(model="m", input_tokens=1)
    converter.feed(chunk(content="x", finish="length"))
    assert converter.stop_reason is None
    converter.finish()
    assert converter.stop_reason == "max_tokens"


# --- usage ------------------------------------------------------------------------------------


def test_usage_in_the_finish_chunk_is_reported():
    events = run([chunk(content="x"),
                  chunk(finish="stop", usage={"prompt_tokens": 900, "completion_tokens": 12})])
    usage = check_stream(events)["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (900, 12)


def test_usage_after_the_finish_chunk_is_reported_with_cache_reads():
    converter = StreamConverter(model="m", input_tokens=10)
    events = converter.start() + converter.feed(chunk(content="x"))
    events += converter.feed(chunk(finish="stop"))
    events += converter.feed(usage_chunk(1000, 40, cached=800))
    events += converter.finish()
    usage = check_stream(events)["usage"]
    assert (usage["input_tokens"], usage["cache_read_input_tokens"], usage["output_tokens"]) == (
        200, 800, 40)
    final = sdk_final_message(events).usage
    assert (final.input_tokens, final.cache_read_input_tokens, final.output_tokens) == (
        200, 800, 40)
    assert converter.usage == {"input_tokens": 200, "output_tokens": 40,
                               "cache_read_input_tokens": 800}


def test_missing_usage_reports_the_input_estimate():
    events = run([chunk(content="x"), chunk(finish="stop")], input_tokens=4321)
    usage = check_stream(events)["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (4321, 0)


# --- lifecycle and errors ---------------------------------------------------------------------


def test_error_chunk_raises_api_error_with_the_upstream_message():
    converter = StreamConverter(model="m", input_tokens=1)
    converter.start()
    with pytest.raises(ApiError, match="overloaded right now"):
        converter.feed({"error": {"message": "overloaded right now", "code": 529}})


def test_fail_ends_the_stream_with_an_error_event_the_sdk_raises():
    converter = StreamConverter(model="m", input_tokens=1)
    events = converter.start() + converter.feed(chunk(content="partial"))
    events += converter.fail("api_error", "upstream went away")
    error = {"type": "api_error", "message": "upstream went away"}
    assert events[-1] == ("error", {"type": "error", "error": error})
    assert converter.feed(chunk(content="more")) == []
    assert converter.finish() == []
    with pytest.raises(anthropic.APIStatusError, match="upstream went away"):
        sdk_final_message(events)


def test_nothing_is_emitted_after_message_stop():
    converter = StreamConverter(model="m", input_tokens=1)
    converter.feed(chunk(content="x"))
    assert converter.finish()[-1][0] == "message_stop"
    assert converter.feed(chunk(content="late")) == []
    assert converter.finish() == []
    assert converter.fail("api_error", "late") == []


def test_done_sentinel_as_none_emits_nothing():
    converter = StreamConverter(model="m", input_tokens=1)
    converter.start()
    assert converter.feed(None) == []


def test_feed_without_start_begins_with_message_start():
    converter = StreamConverter(model="m", input_tokens=1)
    assert converter.feed(chunk(content="x"))[0][0] == "message_start"


def test_a_stream_without_any_content_is_still_well_formed():
    message = check_stream(run([chunk(finish="stop")]))
    assert message["content"] == []


def test_the_checker_rejects_an_empty_text_block():
    bad = run([chunk(content="x"), chunk(finish="stop")])
    bad = [e for e in bad if e[0] != "content_block_delta"]
    with pytest.raises(StreamViolation, match="empty"):
        check_stream(bad)


def test_text_in_the_middle_of_tool_arguments_waits_and_loses_no_bytes():
    events = run([chunk(tool_calls=[call(0, "c", "Bash", '{"command":')]),
                  chunk(content="(thinking aloud)"),
                  chunk(tool_calls=[call(0, args='"ls"}')]),
                  chunk(finish="tool_calls")])
    assert blocks(check_stream(events)) == [("tool_use", ("Bash", {"command": "ls"})),
                                            ("text", "(thinking aloud)")]


def test_reasoning_in_the_middle_of_tool_arguments_waits_and_loses_no_bytes():
    events = run([chunk(tool_calls=[call(0, "c", "Bash", '{"command":')]),
                  chunk(reasoning_content="let me check"),
                  chunk(tool_calls=[call(0, args='"ls"}')]),
                  chunk(finish="tool_calls")])
    assert blocks(check_stream(events)) == [("tool_use", ("Bash", {"command": "ls"})),
                                            ("thinking", "let me check")]
    assert partial_json_by_block(events) == {0: '{"command":"ls"}'}


def test_a_signature_in_the_middle_of_tool_arguments_waits_for_the_call():
    events = run([chunk(tool_calls=[call(0, "c", "Bash", '{"command":')]),
                  chunk(thinking={"signature": "SIG"}),
                  chunk(tool_calls=[call(0, args='"ls"}')]),
                  chunk(finish="tool_calls")])
    message = check_stream(events)
    assert blocks(message) == [("tool_use", ("Bash", {"command": "ls"})), ("thinking", "")]
    assert message["content"][1]["signature"] == "SIG"


def test_what_waited_for_a_tool_call_is_sent_as_soon_as_its_arguments_are_complete():
    converter = StreamConverter(model="m", input_tokens=1)
    converter.start()
    converter.feed(chunk(tool_calls=[call(0, "c", "Bash", '{"command":')]))
    assert converter.feed(chunk(content="Running it.")) == []
    events = converter.feed(chunk(tool_calls=[call(0, args='"ls"}')]))
    assert [(name, data.get("delta", data.get("content_block", {})).get("type"))
            for name, data in events] == [
        ("content_block_delta", "input_json_delta"), ("content_block_stop", None),
        ("content_block_start", "text"), ("content_block_delta", "text_delta")]


def test_what_waited_for_a_tool_call_keeps_its_arrival_order():
    events = run([chunk(tool_calls=[call(0, "c", "Bash", '{"command":')]),
                  chunk(content="First."), chunk(reasoning_content="Then this."),
                  chunk(tool_calls=[call(0, args='"ls"}')]),
                  chunk(finish="tool_calls")])
    assert blocks(check_stream(events)) == [("tool_use", ("Bash", {"command": "ls"})),
                                            ("text", "First."), ("thinking", "Then this.")]


def test_reasoning_held_by_a_call_that_never_completes_is_sent_at_the_end():
    events = run([chunk(tool_calls=[call(0, "c", "TodoRead", "")]),
                  chunk(reasoning_content="no arguments needed"), chunk(finish="tool_calls")])
    assert blocks(check_stream(events)) == [("tool_use", ("TodoRead", {})),
                                            ("thinking", "no arguments needed")]


def test_fields_of_the_wrong_type_are_read_as_absent():
    malformed = [
        {"choices": [None]},
        {"choices": {"index": 0, "delta": {"content": "lost"}}},
        chunk(),
        {"choices": [{"index": 0, "delta": "not a delta"}]},
        chunk(tool_calls=[None, "x", 3, {"index": 0, "id": 7, "function": {"name": "Bash",
                                                                            "arguments": "{}"}}]),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": ["stop"]}], "usage": 7},
    ]
    events = run([chunk(content="ok"), *malformed])
    message = check_stream(events)
    assert blocks(message) == [("text", "ok"), ("tool_use", ("Bash", {}))]
    assert message["content"][1]["id"] == "7"
    assert message["usage"]["output_tokens"] == 0


def test_non_object_chunks_are_ignored():
    converter = StreamConverter(model="m", input_tokens=1)
    converter.start()
    assert converter.feed(["not", "a", "chunk"]) == []  # type: ignore[arg-type]


def test_the_checker_rejects_a_delta_of_the_wrong_type():
    events = run([chunk(content="x"), chunk(finish="stop")])
    name, data = events[2]
    events[2] = (name, {**data, "delta": {"type": "thinking_delta", "thinking": "x"}})
    with pytest.raises(StreamViolation, match="inside a text block"):
        check_stream(events)
