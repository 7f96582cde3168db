"""The fake OpenAI upstream itself: other tests rely on it behaving like a real provider."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.fake_upstream import (
    Call,
    FakeUpstream,
    Usage,
    Verbatim,
    error,
    iter_sse_data,
    raw_chunks,
    reasoning,
    text,
    tool_calls,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as server:
        yield server


def _chat(fake: FakeUpstream, **body: Any) -> httpx.Response:
    payload = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], **body}
    return httpx.post(fake.chat_url, json=payload, timeout=5)


def _stream_payloads(fake: FakeUpstream, **body: Any) -> list[Any]:
    response = _chat(fake, stream=True, **body)
    assert response.headers["content-type"].startswith("text/event-stream")
    return [p if p == "[DONE]" else json.loads(p) for p in iter_sse_data(response.content)]


def _deltas(payloads: list[Any]) -> list[dict[str, Any]]:
    return [p["choices"][0]["delta"] for p in payloads if p != "[DONE]" and p["choices"]]


def test_default_reply_is_a_json_completion_with_usage(fake: FakeUpstream) -> None:
    response = _chat(fake)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "Hello from fake."
    assert body["usage"]["total_tokens"] == (
        body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )


def test_requests_are_recorded_with_lower_case_headers_and_parsed_body(
    fake: FakeUpstream,
) -> None:
    httpx.post(fake.chat_url, json={"model": "m", "messages": []},
               headers={"Authorization": "Bearer sk-x"}, timeout=5)
    (recorded,) = fake.requests
    assert (recorded.method, recorded.path) == ("POST", "/v1/chat/completions")
    assert recorded.headers["authorization"] == "Bearer sk-x"
    assert recorded.body == {"model": "m", "messages": []}
    assert json.loads(recorded.raw) == recorded.body


def test_text_streams_word_by_word_and_ends_with_done(fake: FakeUpstream) -> None:
    fake.enqueue(text("one two three"))
    payloads = _stream_payloads(fake)
    deltas = _deltas(payloads)
    assert deltas[0]["role"] == "assistant"
    assert [d.get("content") for d in deltas[:3]] == ["one", " two", " three"]
    assert payloads[-2]["choices"][0]["finish_reason"] == "stop"
    assert payloads[-1] == "[DONE]"


def test_text_pieces_split_the_text_into_that_many_deltas(fake: FakeUpstream) -> None:
    fake.enqueue(text("abcdefg", pieces=3))
    contents = [d["content"] for d in _deltas(_stream_payloads(fake)) if d.get("content")]
    assert contents == ["abc", "de", "fg"]


def test_usage_chunk_only_when_the_request_asks_for_it(fake: FakeUpstream) -> None:
    fake.enqueue(text("x", usage=Usage(prompt=7, completion=2, cached=3)), text("x"))
    with_usage = _stream_payloads(fake, stream_options={"include_usage": True})
    without = _stream_payloads(fake)
    usage_chunk = with_usage[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["prompt_tokens_details"]["cached_tokens"] == 3
    assert not any("usage" in p for p in without if p != "[DONE]")


def test_usage_in_finish_chunk_is_sent_without_being_asked(fake: FakeUpstream) -> None:
    fake.enqueue(text("x", usage=Usage(prompt=5, completion=1), usage_in_finish_chunk=True))
    finish = _stream_payloads(fake)[-2]
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["usage"]["prompt_tokens"] == 5


def test_reasoning_comes_before_text_in_the_chosen_field(fake: FakeUpstream) -> None:
    fake.enqueue(reasoning("think hard", "answer", field="reasoning"),
                 reasoning("think hard", "answer"))
    deltas = _deltas(_stream_payloads(fake))
    kinds = [key for d in deltas for key in ("reasoning", "content") if d.get(key)]
    assert kinds == ["reasoning", "reasoning", "content"]
    message = _chat(fake).json()["choices"][0]["message"]
    assert message["reasoning_content"] == "think hard"
    assert message["content"] == "answer"


def _assembled_calls(deltas: list[dict[str, Any]]) -> dict[int, dict[str, str]]:
    calls: dict[int, dict[str, str]] = {}
    for delta in deltas:
        for fragment in delta.get("tool_calls", []):
            call = calls.setdefault(fragment["index"], {"id": "", "name": "", "arguments": ""})
            call["id"] += fragment.get("id", "")
            call["name"] += fragment.get("function", {}).get("name", "")
            call["arguments"] += fragment.get("function", {}).get("arguments", "")
    return calls


@pytest.mark.parametrize("mode", ["fragments", "whole_at_end", "interleaved"])
def test_tool_call_streams_reassemble_to_the_scripted_calls(
    fake: FakeUpstream, mode: str
) -> None:
    calls = [Call("Bash", {"command": "ls -la"}, id="call_a"), Call("Read", '{"path": "x"}')]
    reply = tool_calls(calls, mode=mode)  # type: ignore[arg-type]
    fake.enqueue(reply)
    payloads = _stream_payloads(fake)
    assembled = _assembled_calls(_deltas(payloads))
    assert assembled == {
        0: {"id": "call_a", "name": "Bash", "arguments": '{"command": "ls -la"}'},
        1: {"id": reply.tool_call_ids[1], "name": "Read", "arguments": '{"path": "x"}'},
    }
    assert payloads[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_interleaved_tool_calls_alternate_between_calls(fake: FakeUpstream) -> None:
    fake.enqueue(tool_calls([Call("A", {"a": 1}), Call("B", {"b": 2})], mode="interleaved"))
    indexes = [d["tool_calls"][0]["index"] for d in _deltas(_stream_payloads(fake))
               if "tool_calls" in d]
    assert indexes[:4] == [0, 1, 0, 1]


def test_tool_calls_json_answer_carries_text_and_calls(fake: FakeUpstream) -> None:
    fake.enqueue(tool_calls([Call("Bash", {"command": "pwd"}, id="c1")], text="Let me look."))
    message = _chat(fake).json()["choices"][0]["message"]
    assert message["content"] == "Let me look."
    assert message["tool_calls"][0]["id"] == "c1"
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"command": "pwd"}


def test_raw_chunks_are_sent_as_given_even_without_stream(fake: FakeUpstream) -> None:
    fake.enqueue(raw_chunks([{"a": 1}, "not json", Verbatim(": keep-alive\n\n")],
                            include_done=False))
    response = _chat(fake)
    assert response.text == 'data: {"a": 1}\n\ndata: not json\n\n: keep-alive\n\n'


def test_error_replies_keep_status_content_type_and_body(fake: FakeUpstream) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    fake.enqueue(error(429, {"error": {"message": "Rate limit reached"}},
                       headers={"Retry-After": "3"}),
                 error(502, html, content_type="text/html"))
    limited = _chat(fake, stream=True)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "3"
    assert limited.json()["error"]["message"] == "Rate limit reached"
    bad_gateway = _chat(fake)
    assert (bad_gateway.status_code, bad_gateway.text) == (502, html)
    assert bad_gateway.headers["content-type"] == "text/html"


def test_queue_is_fifo_then_falls_back_to_default(fake: FakeUpstream) -> None:
    fake.enqueue(text("first"), text("second"))
    contents = [_chat(fake).json()["choices"][0]["message"]["content"] for _ in range(3)]
    assert contents == ["first", "second", "Hello from fake."]


def test_handler_is_asked_before_the_queue_and_may_pass(fake: FakeUpstream) -> None:
    fake.enqueue(text("queued"))
    fake.handler = lambda r: text("handled") if r.body and r.body["model"] == "special" else None
    special = _chat(fake, model="special").json()["choices"][0]["message"]["content"]
    other = _chat(fake).json()["choices"][0]["message"]["content"]
    assert (special, other) == ("handled", "queued")


def test_a_failing_handler_answers_500_and_is_kept_in_errors(fake: FakeUpstream) -> None:
    def broken(_request: object) -> None:
        raise RuntimeError("boom")

    fake.handler = broken
    assert _chat(fake).status_code == 500
    assert isinstance(fake.errors[0], RuntimeError)


def test_drop_after_cuts_the_stream_without_terminating_it(fake: FakeUpstream) -> None:
    fake.enqueue(text("one two three four", drop_after=2))
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream(
        "POST", fake.chat_url, json={"stream": True, "messages": []}, timeout=5
    ) as response:
        for line in response.iter_lines():
            received.append(line)
    assert len([line for line in received if line.startswith("data:")]) == 2


def test_drop_after_zero_on_json_closes_without_answering(fake: FakeUpstream) -> None:
    fake.enqueue(text("never", drop_after=0))
    with pytest.raises(httpx.RemoteProtocolError):
        _chat(fake)


def test_first_byte_delay_holds_back_the_headers(fake: FakeUpstream) -> None:
    fake.enqueue(text("slow", first_byte_delay_s=0.3))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(fake.chat_url, json={}, timeout=httpx.Timeout(5, read=0.1))
    fake.enqueue(text("slow", first_byte_delay_s=0.2))
    started = time.monotonic()
    _chat(fake)
    assert time.monotonic() - started >= 0.2


def test_chunk_delay_spaces_out_the_events(fake: FakeUpstream) -> None:
    fake.enqueue(text("a b c", chunk_delay_s=0.05))
    arrivals: list[float] = []
    with httpx.stream("POST", fake.chat_url, json={"stream": True}, timeout=5) as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                arrivals.append(time.monotonic())
    assert arrivals[-1] - arrivals[0] >= 0.05 * (len(arrivals) - 1) * 0.8


def test_keep_alive_reuses_one_connection_for_json_and_streams(fake: FakeUpstream) -> None:
    with httpx.Client(timeout=5) as client:
        for stream in (False, True, False, True):
            client.post(fake.chat_url, json={"stream": stream, "messages": []})
    assert len(fake.requests) == 4
    assert fake.connections_accepted == 1


def test_models_lists_models_and_unknown_paths_are_404(fake: FakeUpstream) -> None:
    models = httpx.get(fake.base_url + "/v1/models", timeout=5).json()
    assert "fake-model" in [m["id"] for m in models["data"]]
    missing = httpx.get(fake.base_url + "/nope", timeout=5)
    assert missing.status_code == 404
    assert "error" in missing.json()


def test_client_disconnect_mid_stream_does_not_break_the_server(fake: FakeUpstream) -> None:
    fake.enqueue(text("word " * 50, chunk_delay_s=0.01))
    with socket.create_connection(("127.0.0.1", fake.port)) as sock:
        body = b'{"stream": true}'
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body)
        sock.recv(100)
    assert _chat(fake).status_code == 200


def test_stop_closes_the_listener(fake: FakeUpstream) -> None:
    url = fake.chat_url
    fake.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.post(url, json={}, timeout=2)
