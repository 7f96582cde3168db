"""``extrathinktag`` and ``forcereasoning``: reasoning written between tags at the start of the
answer becomes a thinking block, whole or streamed however the tags are split; everything else
is left as text. Unit tests on the splitter, then answers through a real server."""

from __future__ import annotations

from typing import Any

import pytest

from ccr.config.model import Provider
from ccr.convert.request import anthropic_to_openai
from ccr.convert.stream import StreamConverter
from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.builtin._tagged_reasoning import TagSplitter, split_tagged
from ccr.transformers.builtin.forcereasoning import MAX_INTERLEAVED, PROMPT
from ccr.transformers.registry import lookup
from tests.support.anthropic_stream_check import check_stream
from tests.support.fake_upstream import FakeUpstream, raw_chunks, text
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.gateway_client import Sdk
from tests.support.transformer_stream import stream_through

PROVIDER = Provider(name="p", api_base_url="http://127.0.0.1:1/v1/chat/completions",
                    models=("m",))


def _make(name: str) -> Transformer:
    cls = lookup(name)
    assert cls is not None
    return cls({})


def _ctx(stream: bool = True) -> TransformContext:
    return TransformContext(provider=PROVIDER, model="m", stream=stream)


def _stream(name: str, pieces: list[str]) -> dict[str, Any]:
    """``pieces`` as content deltas through transformer ``name`` and the stream converter;
    the checked Anthropic message that results."""
    return stream_through(_make(name), _ctx(), pieces)


def _blocks(message: dict[str, Any]) -> list[tuple[str, str]]:
    return [(b["type"], b.get("thinking") if b["type"] == "thinking" else b.get("text", ""))
            for b in message["content"]]


# --------------------------------------------------------------------------------------------
# The splitter


def test_whole_answer_is_split_at_the_closing_tag() -> None:
    assert split_tagged("\n<think>plan</think>\n\nanswer", "<think>", "</think>") == \
        ("plan", "answer")


def test_whole_answer_without_leading_tag_is_not_split() -> None:
    assert split_tagged("answer <think>x</think>", "<think>", "</think>") is None


def test_unclosed_block_is_reasoning_to_the_end() -> None:
    assert split_tagged("<think>cut off", "<think>", "</think>") == ("cut off", "")


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 100])
def test_streamed_split_is_the_same_whatever_the_piece_size(size: int) -> None:
    answer = "  <think>step one\nstep two</think>\n\nThe answer is 4."
    splitter = TagSplitter("<think>", "</think>")
    reasoning, text_out = "", ""
    for i in range(0, len(answer), size):
        r, t = splitter.feed(answer[i:i + size])
        reasoning += r
        text_out += t
    r, t = splitter.flush()
    assert (reasoning + r, text_out + t) == ("step one\nstep two", "The answer is 4.")


def test_plain_text_is_held_only_while_it_could_be_the_opening_tag() -> None:
    splitter = TagSplitter("<think>", "</think>")
    assert splitter.feed("<th") == ("", "")
    assert splitter.feed("e answer") == ("", "<the answer")
    assert splitter.feed(" goes on") == ("", " goes on")


def test_inside_the_block_only_a_possible_closing_tag_is_held() -> None:
    splitter = TagSplitter("<think>", "</think>")
    assert splitter.feed("<think>abc</th") == ("abc", "")
    assert splitter.feed("ought more") == ("</thought more", "")


def test_a_lone_partial_tag_at_the_end_is_sent_as_text() -> None:
    splitter = TagSplitter("<think>", "</think>")
    assert splitter.feed("<thi") == ("", "")
    assert splitter.flush() == ("", "<thi")


# --------------------------------------------------------------------------------------------
# extrathinktag


def test_extrathinktag_streams_a_split_tag_as_a_thinking_block_then_text() -> None:
    message = _stream("extrathinktag", ["<th", "ink>I should ", "add.</thi", "nk>\n\n", "4"])
    assert _blocks(message) == [("thinking", "I should add."), ("text", "4")]


def test_extrathinktag_leaves_text_without_the_tag_untouched() -> None:
    message = _stream("extrathinktag", ["Sure: ", "<think> is a tag"])
    assert _blocks(message) == [("text", "Sure: <think> is a tag")]


def test_extrathinktag_keeps_an_unclosed_block_as_thinking() -> None:
    message = _stream("extrathinktag", ["<think>never ", "finished"])
    assert _blocks(message) == [("thinking", "never finished")]


def test_extrathinktag_json_answer_moves_the_block_to_reasoning() -> None:
    response = {"choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "<think>hmm</think>\nYes."}}]}
    out = _make("extrathinktag").transform_response(response, _ctx(stream=False))
    assert out["choices"][0]["message"]["reasoning_content"] == "hmm"
    assert out["choices"][0]["message"]["content"] == "Yes."


def test_extrathinktag_passes_tool_call_chunks_through() -> None:
    chunk = {"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "c1", "function": {"name": "Bash", "arguments": "{}"}}]}}]}
    assert _make("extrathinktag").transform_chunk(chunk, _ctx()) == [chunk]


# --------------------------------------------------------------------------------------------
# forcereasoning


def _request(*messages: dict[str, Any]) -> dict[str, Any]:
    return anthropic_to_openai({"model": "x", "max_tokens": 10, "messages": list(messages)}, "m")


def test_forcereasoning_appends_the_instruction_to_the_latest_user_turn() -> None:
    out = _make("forcereasoning").transform_request(
        _request({"role": "user", "content": "2+2?"}), _ctx(False))
    assert out["messages"][-1] == {"role": "user", "content": f"2+2?\n\n{PROMPT}"}


def test_forcereasoning_asks_again_after_tool_results() -> None:
    out = _make("forcereasoning").transform_request(_request(
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": "a.txt"}]},
    ), _ctx(False))
    assert out["messages"][-2]["role"] == "tool"
    assert out["messages"][-1] == {"role": "user", "content": PROMPT}


def test_forcereasoning_writes_earlier_reasoning_back_in_its_tags() -> None:
    out = _make("forcereasoning").transform_request(_request(
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "because", "signature": "s"},
            {"type": "text", "text": "a"}]},
        {"role": "user", "content": "q2"},
    ), _ctx(False))
    assistant = out["messages"][1]
    assert assistant == {"role": "assistant",
                         "content": "<reasoning_content>because</reasoning_content>\na"}


def test_forcereasoning_writes_back_only_the_latest_turns() -> None:
    turns: list[dict[str, Any]] = []
    for i in range(MAX_INTERLEAVED + 2):
        turns.append({"role": "user", "content": f"q{i}"})
        turns.append({"role": "assistant", "content": [
            {"type": "thinking", "thinking": f"t{i}", "signature": "s"},
            {"type": "text", "text": f"a{i}"}]})
    turns.append({"role": "user", "content": "last"})
    out = _make("forcereasoning").transform_request(_request(*turns), _ctx(False))
    assistants = [m for m in out["messages"] if m["role"] == "assistant"]
    assert [m["content"] for m in assistants[:2]] == ["a0", "a1"]
    assert all("<reasoning_content>" in m["content"] for m in assistants[2:])
    assert not any("thinking" in m for m in assistants)


def test_forcereasoning_does_not_change_the_clients_messages() -> None:
    request = _request({"role": "user", "content": "hi"})
    before = [dict(m) for m in request["messages"]]
    shared = request["messages"]
    _make("forcereasoning").transform_request(request, _ctx(False))
    assert shared == before


def test_forcereasoning_streams_its_tagged_block_as_thinking() -> None:
    message = _stream("forcereasoning",
                      ["<reasoning_", "content>Two and two.</reasoning_co", "ntent>\nFour."])
    assert _blocks(message) == [("thinking", "Two and two."), ("text", "Four.")]


# --------------------------------------------------------------------------------------------
# Through the server


def _config(fake: FakeUpstream, name: str) -> dict[str, Any]:
    config = fake_config(fake)
    config["Providers"][0]["transformer"] = {"use": [name]}
    return config


def test_extrathinktag_json_answer_reaches_the_client_as_thinking_then_text(
    fake: FakeUpstream, make_ccr: MakeCcr
) -> None:
    sdk = Sdk.on(make_ccr(_config(fake, "extrathinktag")))
    fake.enqueue(text("<think>Adding.</think>\n\n4"))
    message = sdk.create()
    assert [(b.type, getattr(b, "thinking", None) or getattr(b, "text", None))
            for b in message.content] == [("thinking", "Adding."), ("text", "4")]


def test_forcereasoning_stream_reaches_the_client_valid_with_thinking_first(
    fake: FakeUpstream, make_ccr: MakeCcr
) -> None:
    sdk = Sdk.on(make_ccr(_config(fake, "forcereasoning")))
    fake.enqueue(raw_chunks([
        {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        for piece in ["<reason", "ing_content>Think", ".</reasoning_content>", "\n\nDone."]
    ] + [{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]))
    message = sdk.stream()  # validated by the strict stream checker
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "Think."  # type: ignore[union-attr]
    assert message.content[1].text == "Done."  # type: ignore[union-attr]
    sent = fake.chat_requests[-1].body
    assert sent is not None and PROMPT in str(sent["messages"][-1]["content"])


@pytest.mark.parametrize("size", [1, 3, 100])
def test_an_empty_think_block_is_no_thinking_block(size: int) -> None:
    answer = "<think>\n\n</think>\n\nHello."
    message = _stream("extrathinktag", [answer[i:i + size] for i in range(0, len(answer), size)])
    assert _blocks(message) == [("text", "Hello.")]


def test_an_empty_think_block_in_a_json_answer_is_removed_without_thinking() -> None:
    response = {"choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "<think>\n</think>\nHello."}}]}
    out = _make("extrathinktag").transform_response(response, _ctx(stream=False))
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "Hello."}


def test_whitespace_opening_the_reasoning_is_not_sent() -> None:
    message = _stream("extrathinktag", ["<think>", "\n", "  Plan", " more</think>ok"])
    assert _blocks(message) == [("thinking", "Plan more"), ("text", "ok")]


def _opened_stream(pieces: list[str]) -> dict[str, Any]:
    transformer = lookup("extrathinktag")({"opened": True})  # type: ignore[misc]
    ctx = _ctx()
    converter = StreamConverter(model="m", input_tokens=1)
    events = converter.start()
    for piece in pieces:
        for out in transformer.transform_chunk(
                {"choices": [{"index": 0, "delta": {"content": piece}}]}, ctx):
            events += converter.feed(out)
    for out in transformer.end_stream(ctx):
        events += converter.feed(out)
    return check_stream(events + converter.finish())


def test_with_the_block_opened_by_the_prompt_only_the_closing_tag_is_needed() -> None:
    message = _opened_stream(["Let me ", "think.</th", "ink>\n\nAnswer."])
    assert _blocks(message) == [("thinking", "Let me think."), ("text", "Answer.")]


def test_with_the_block_opened_by_the_prompt_a_json_answer_is_split_too() -> None:
    transformer = lookup("extrathinktag")({"opened": True})  # type: ignore[misc]
    response = {"choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "Hmm.\n</think>\n\nYes."}}]}
    message = transformer.transform_response(response, _ctx(stream=False))["choices"][0]["message"]
    assert (message["reasoning_content"], message["content"]) == ("Hmm.", "Yes.")


def test_opened_must_be_a_boolean() -> None:
    with pytest.raises(ValueError):
        lookup("extrathinktag")({"opened": "yes"})  # type: ignore[misc]
