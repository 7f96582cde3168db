"""The ``Anthropic`` passthrough: body and stream forwarded untouched to Anthropic-compatible
upstreams, the provider's key sent, Claude Code's ``anthropic-*`` headers forwarded."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic
import httpx
import pytest

from ccr.errors import ConfigError
from ccr.protocol.sse import SSEDecoder
from ccr.transformers.builtin.anthropic import messages_url
from tests.support.anthropic_stream_check import check_stream
from tests.support.fixtures import MakeCcr

pytestmark = pytest.mark.e2e

MESSAGE = {
    "id": "msg_up_1", "type": "message", "role": "assistant", "model": "glm-4.6",
    "content": [{"type": "text", "text": "native hello"}],
    "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 21, "output_tokens": 3, "cache_read_input_tokens": 7},
}

STREAM = [
    ("message_start", {"type": "message_start", "message": {**MESSAGE, "content": [],
     "stop_reason": None, "usage": {"input_tokens": 21, "output_tokens": 1}}}),
    ("content_block_start", {"type": "content_block_start", "index": 0,
     "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
     "delta": {"type": "thinking_delta", "thinking": "hmm"}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
     "delta": {"type": "signature_delta", "signature": "upstream-sig"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("content_block_start", {"type": "content_block_start", "index": 1,
     "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1,
     "delta": {"type": "text_delta", "text": "native hello"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn",
     "stop_sequence": None}, "usage": {"output_tokens": 9}}),
    ("message_stop", {"type": "message_stop"}),
]


class FakeAnthropic:
    """A minimal Anthropic-compatible upstream on loopback that records what it receives."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.stream_events: list[tuple[str, dict[str, Any]]] = STREAM
        self.cut_after: int | None = None
        self.pause_after: int | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                fake.requests.append({"path": self.path, "headers": dict(self.headers.items()),
                                      "body": body})
                if not body.get("stream"):
                    data = json.dumps(MESSAGE).encode()
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                for i, (name, event) in enumerate(fake.stream_events):
                    if fake.pause_after is not None and i == fake.pause_after:
                        time.sleep(1.5)
                    if fake.cut_after is not None and i == fake.cut_after:
                        self.wfile.write(b"event: content_block_delta\ndata: {\"type\":")
                        self.wfile.flush()
                        return
                    self.wfile.write(f"event: {name}\ndata: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/anthropic"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def native() -> Iterator[FakeAnthropic]:
    upstream = FakeAnthropic()
    yield upstream
    upstream.stop()


def _config(native: FakeAnthropic, use: list[Any] | None = None) -> dict[str, Any]:
    return {
        "Providers": [{
            "name": "zhipu", "api_base_url": native.url, "api_key": "sk-native-provider-key",
            "models": ["glm-4.6"], "transformer": {"use": use or ["Anthropic"]},
        }],
        "Router": {"default": "zhipu,glm-4.6"},
        "LOG": False,
    }


REQUEST = {
    "model": "claude-sonnet-5",
    "max_tokens": 512,
    "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
    "messages": [{"role": "user", "content": [
        {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}],
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "metadata": {"user_id": "u1"},
}


def test_messages_url_appends_v1_messages_to_a_base() -> None:
    assert messages_url("https://api.deepseek.com/anthropic") == \
        "https://api.deepseek.com/anthropic/v1/messages"
    assert messages_url("https://x.example/v1/") == "https://x.example/v1/messages"
    assert messages_url("https://x.example/api/v1/messages") == \
        "https://x.example/api/v1/messages"


def test_body_reaches_upstream_untouched_except_model(make_ccr: MakeCcr,
                                                      native: FakeAnthropic) -> None:
    ccr = make_ccr(_config(native))
    client = anthropic.Anthropic(base_url=ccr.base_url, api_key="client-token", max_retries=0)
    client.messages.create(**REQUEST)
    sent = native.requests[0]
    assert sent["path"] == "/anthropic/v1/messages"
    assert sent["body"] == {**REQUEST, "model": "glm-4.6"}


def test_provider_key_is_sent_as_x_api_key_and_client_token_is_not(
    make_ccr: MakeCcr, native: FakeAnthropic
) -> None:
    ccr = make_ccr(_config(native))
    client = anthropic.Anthropic(base_url=ccr.base_url, api_key="client-token", max_retries=0)
    client.messages.create(**REQUEST)
    headers = {k.lower(): v for k, v in native.requests[0]["headers"].items()}
    assert headers["x-api-key"] == "sk-native-provider-key"
    assert "authorization" not in headers
    assert "client-token" not in json.dumps(headers)


def test_use_bearer_option_sends_the_key_as_bearer(make_ccr: MakeCcr,
                                                   native: FakeAnthropic) -> None:
    ccr = make_ccr(_config(native, [["Anthropic", {"useBearer": True}]]))
    client = anthropic.Anthropic(base_url=ccr.base_url, api_key="client-token", max_retries=0)
    client.messages.create(**REQUEST)
    headers = {k.lower(): v for k, v in native.requests[0]["headers"].items()}
    assert headers["authorization"] == "Bearer sk-native-provider-key"
    assert "x-api-key" not in headers


def test_claude_code_anthropic_headers_are_forwarded(make_ccr: MakeCcr,
                                                     native: FakeAnthropic) -> None:
    ccr = make_ccr(_config(native))
    httpx.post(f"{ccr.base_url}/v1/messages?beta=true", json=REQUEST, headers={
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
    })
    headers = {k.lower(): v for k, v in native.requests[0]["headers"].items()}
    assert headers["anthropic-beta"] == "claude-code-20250219,interleaved-thinking-2025-05-14"
    assert headers["anthropic-version"] == "2023-06-01"


def test_json_answer_is_returned_as_the_upstream_sent_it(make_ccr: MakeCcr,
                                                         native: FakeAnthropic) -> None:
    ccr = make_ccr(_config(native))
    answer = httpx.post(f"{ccr.base_url}/v1/messages", json=REQUEST).json()
    assert answer == MESSAGE


def test_stream_events_are_forwarded_in_order_and_accepted_by_the_sdk(
    make_ccr: MakeCcr, native: FakeAnthropic
) -> None:
    ccr = make_ccr(_config(native))
    raw = httpx.post(f"{ccr.base_url}/v1/messages", json={**REQUEST, "stream": True}).content
    events = [(e.event, json.loads(e.data)) for e in SSEDecoder().feed(raw)]
    assert events == STREAM
    check_stream(events)
    client = anthropic.Anthropic(base_url=ccr.base_url, api_key="x", max_retries=0)
    with client.messages.stream(**REQUEST) as stream:
        final = stream.get_final_message()
    assert final.content[0].signature == "upstream-sig"
    assert final.content[1].text == "native hello"
    assert final.usage.output_tokens == 9


def test_stream_cut_mid_event_ends_with_an_error_event_not_half_an_event(
    make_ccr: MakeCcr, native: FakeAnthropic
) -> None:
    native.cut_after = 6
    ccr = make_ccr(_config(native))
    raw = httpx.post(f"{ccr.base_url}/v1/messages", json={**REQUEST, "stream": True}).content
    events = SSEDecoder().feed(raw)
    assert [e.event for e in events[:-1]] == [name for name, _ in STREAM[:6]]
    last = json.loads(events[-1].data)
    assert events[-1].event == "error"
    assert last["error"]["type"] == "api_error"
    assert "zhipu" in last["error"]["message"]


def test_session_usage_is_recorded_from_a_passthrough_stream(make_ccr: MakeCcr,
                                                             native: FakeAnthropic) -> None:
    ccr = make_ccr(_config(native))
    httpx.post(f"{ccr.base_url}/v1/messages", json={**REQUEST, "stream": True},
               headers={"x-claude-code-session-id": "sess-native"})
    deadline = time.monotonic() + 2
    sessions = ccr.state.stores.sessions
    while (usage := sessions.get("sess-native")) is None and time.monotonic() < deadline:
        time.sleep(0.01)  # recorded just after the last byte is sent
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (21, 9)


def test_anthropic_cannot_be_combined_with_other_transformers(make_ccr: MakeCcr,
                                                              native: FakeAnthropic) -> None:
    with pytest.raises(ConfigError, match="cannot be combined with maxtoken"):
        make_ccr(_config(native, ["Anthropic", ["maxtoken", {"max_tokens": 100}]]))


def test_silence_inside_a_passthrough_stream_ends_it_with_an_error(
    make_ccr: MakeCcr, native: FakeAnthropic
) -> None:
    native.pause_after = 3
    config = {**_config(native), "STREAM_IDLE_TIMEOUT_MS": 300, "API_TIMEOUT_MS": 5000}
    ccr = make_ccr(config)
    raw = httpx.post(f"{ccr.base_url}/v1/messages", json={**REQUEST, "stream": True},
                     timeout=10).content
    events = SSEDecoder().feed(raw)
    assert [e.event for e in events[:-1]] == [name for name, _ in STREAM[:3]]
    assert events[-1].event == "error"
    assert "sent nothing for 0.3s" in json.loads(events[-1].data)["error"]["message"]
