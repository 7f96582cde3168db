"""Bad input through a real server: each is an Anthropic-shaped 4xx naming what is wrong, never a
500, and the server keeps serving; ``/health`` tells a client without the key only that ccr
is up (no config path, no counters)."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import MakeCcr, fake_config

CCR_KEY = "ccr-client-key-0123456789"
GOOD = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def keyed(make_ccr: MakeCcr, fake: FakeUpstream) -> CcrServer:
    return make_ccr(fake_config(fake, APIKEY=CCR_KEY))


def post(server: CcrServer, content: bytes | str, path: str = "/v1/messages",
         key: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if key:
        headers["x-api-key"] = key
    return httpx.post(server.base_url + path, content=content, headers=headers, timeout=10)


def assert_anthropic_error(response: httpx.Response, status: int, error_type: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert isinstance(body["error"]["message"], str)
    return body["error"]["message"]


def test_text_block_that_is_not_a_string_is_a_400_naming_the_field(ccr: CcrServer) -> None:
    body: dict[str, Any] = {**GOOD, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text",
                                                                          "text": 5}]},
    ]}
    message = assert_anthropic_error(post(ccr, httpx.Request("POST", "/", json=body).content),
                                     400, "invalid_request_error")
    assert message == "messages.1.content.1.text: must be a string"


@pytest.mark.parametrize("levels", [300, 100_000])
def test_json_nested_too_deep_is_a_400(ccr: CcrServer, levels: int) -> None:
    raw = '{"model": "m", "messages": ' + "[" * levels + "]" * levels + "}"
    message = assert_anthropic_error(post(ccr, raw), 400, "invalid_request_error")
    assert "deeper than" in message
    assert post(ccr, raw, path="/v1/messages/count_tokens").status_code == 400
    assert post(ccr, httpx.Request("POST", "/", json=GOOD).content).status_code == 200


def test_count_tokens_checks_the_shape_too(ccr: CcrServer) -> None:
    body = (b'{"model": "m", "messages": [{"role": "user", "content": '
            b'[{"type": "text", "text": 1}]}]}')
    message = assert_anthropic_error(post(ccr, body, path="/v1/messages/count_tokens"),
                                     400, "invalid_request_error")
    assert message == "messages.0.content.0.text: must be a string"


def raw_request(server: CcrServer, head: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < 12:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def test_api_key_header_with_non_utf8_bytes_is_a_401(keyed: CcrServer) -> None:
    body = b'{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
    head = (b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: \xff\xfe\xc3(\r\n"
            b"content-type: application/json\r\nconnection: close\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    status, data = raw_request(keyed, head)
    assert status == 401, data
    assert b"authentication_error" in data


def test_health_without_the_key_shows_no_details(keyed: CcrServer) -> None:
    """Up, version, uptime and the pid (``ccr start``/``status`` identify their server by it);
    the config path, counters and errors only with a key."""
    response = httpx.get(keyed.base_url + "/health", timeout=5)
    assert response.status_code == 200
    assert set(response.json()) == {"status", "version", "pid", "uptime_s"}
    wrong = httpx.get(keyed.base_url + "/health", headers={"x-api-key": "wrong"}, timeout=5)
    assert set(wrong.json()) == {"status", "version", "pid", "uptime_s"}


def test_health_with_the_key_shows_details(keyed: CcrServer) -> None:
    details = httpx.get(keyed.base_url + "/health", headers={"x-api-key": CCR_KEY},
                        timeout=5).json()
    assert details["status"] == "ok"
    assert isinstance(details["pid"], int)
    assert "version" in details
