"""A real server with ``RECORD`` on writes one line per ``/v1/messages`` request, streamed or
not, with its decision and outcome and without the client's or the provider's keys."""

from __future__ import annotations

import datetime
import json
from typing import Any

import httpx

from ccr.context.records import record_files
from tests.ccr_server import CcrServer
from tests.claude_code_requests import local
from tests.conftest import MakeCcr, fake_config
from tests.fake_upstream import FakeUpstream, Usage, text


def send(server: CcrServer, recorded: dict[str, Any], *, stream: bool) -> httpx.Response:
    headers = {k: v for k, v in recorded["headers"].items()
               if k.lower() not in {"content-length", "host", "accept-encoding"}}
    headers["x-api-key"] = "sk-client-secret"
    return httpx.post(f"{server.base_url}/v1/messages?beta=true", headers=headers,
                      json={**recorded["body"], "stream": stream}, timeout=20)


def records_of(server: CcrServer) -> list[dict[str, Any]]:
    engine = server.state.engine
    assert engine.records is not None
    assert engine.records.flush()
    folder = server.state.home / "records"
    return [json.loads(line) for path in record_files(folder)
            for line in path.read_text().splitlines()]


def test_each_request_is_recorded_with_its_decision_and_outcome(
    fake: FakeUpstream, make_ccr: MakeCcr
) -> None:
    fake.enqueue(text("Hello!", usage=Usage(prompt=17000, completion=5)))
    fake.enqueue(text("Hi!", usage=Usage(prompt=17100, completion=3)))
    server = make_ccr(fake_config(fake, RECORD={"enabled": True, "max_mb": 5}))
    assert send(server, local("plain"), stream=False).status_code == 200
    with_stream = send(server, local("tool-result"), stream=True)
    assert with_stream.status_code == 200 and "message_stop" in with_stream.text

    first, second = records_of(server)

    assert first["decision"]["rule"] == "default" and first["decision"]["route"] == (
        "fake,fake-model")
    assert first["decision"]["reason"] == "Router.default"
    assert first["outcome"]["status"] == 200
    assert first["outcome"]["usage"]["input_tokens"] == 17000
    assert first["outcome"]["latency_ms"] >= 0
    assert first["session_id"] == local("plain")["headers"]["X-Claude-Code-Session-Id"]
    assert datetime.datetime.fromisoformat(first["time"]).tzinfo is not None
    assert second["body"]["messages"][-1]["content"][0]["type"] == "tool_result"


def test_records_hold_no_credential(fake: FakeUpstream, make_ccr: MakeCcr) -> None:
    server = make_ccr(fake_config(fake, RECORD={"enabled": True}))
    send(server, local("plain"), stream=False)
    [line] = records_of(server)
    text_of_records = json.dumps(line)
    assert "sk-client-secret" not in text_of_records
    assert "sk-fake-upstream-key" not in text_of_records
    assert "authorization" not in line["headers"] and "x-api-key" not in line["headers"]


def test_nothing_is_recorded_unless_enabled(fake: FakeUpstream, make_ccr: MakeCcr) -> None:
    server = make_ccr(fake_config(fake))
    send(server, local("plain"), stream=False)
    assert server.state.engine.records is None
    assert not (server.state.home / "records").exists()
