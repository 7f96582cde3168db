"""A real server with ``RECORD`` on writes one line per ``/v1/messages`` request, streamed or
not, with its decision and outcome and without the client's or the provider's keys."""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

import httpx

from ccr.context.records import record_files
from tests.conftest import MakeCcr, fake_config
from tests.support.ccr_server import CcrServer
from tests.support.claude_code_requests import local
from tests.support.fake_upstream import FakeUpstream, Usage, error, text
from tests.support.route_helpers import route_rows, run_route, write_json


def send(server: CcrServer, recorded: dict[str, Any], *, stream: bool) -> httpx.Response:
    headers = {k: v for k, v in recorded["headers"].items()
               if k.lower() not in {"content-length", "host", "accept-encoding"}}
    headers["x-api-key"] = "sk-client-secret"
    return httpx.post(f"{server.base_url}/v1/messages?beta=true", headers=headers,
                      json={**recorded["body"], "stream": stream}, timeout=20)


def records_of(server: CcrServer, count: int) -> list[dict[str, Any]]:
    """The ``count`` records the server wrote (a streamed answer can reach the client a moment
    before the server's after-step queues its record)."""
    engine = server.state.engine
    assert engine.records is not None
    folder = server.state.home / "records"
    deadline = time.monotonic() + 5
    while True:
        assert engine.records.flush()
        lines = [json.loads(line) for path in record_files(folder)
                 for line in path.read_text().splitlines()]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)


def test_each_request_is_recorded_with_its_decision_and_outcome(
    fake: FakeUpstream, make_ccr: MakeCcr
) -> None:
    fake.enqueue(text("Hello!", usage=Usage(prompt=17000, completion=5)))
    fake.enqueue(text("Hi!", usage=Usage(prompt=17100, completion=3)))
    server = make_ccr(fake_config(fake, RECORD={"enabled": True, "max_mb": 5}))
    assert send(server, local("plain"), stream=False).status_code == 200
    with_stream = send(server, local("tool-result"), stream=True)
    assert with_stream.status_code == 200 and "message_stop" in with_stream.text

    first, second = records_of(server, 2)

    assert first["decision"]["rule"] == "default" and first["decision"]["route"] == (
        "fake,fake-model")
    assert first["decision"]["reason"] == "Router.default"
    assert first["outcome"]["status"] == 200
    assert first["outcome"]["usage"]["input_tokens"] == 17000
    assert first["outcome"]["latency_ms"] >= 0
    assert first["session_id"] == local("plain")["headers"]["X-Claude-Code-Session-Id"]
    assert datetime.datetime.fromisoformat(first["time"]).tzinfo is not None
    assert first["body"] == {**local("plain")["body"], "stream": False}  # as the client sent it
    assert second["body"] == {**local("tool-result")["body"], "stream": True}


def test_a_request_the_upstream_refused_is_recorded_with_its_status(
    fake: FakeUpstream, make_ccr: MakeCcr
) -> None:
    fake.enqueue(error(429, {"error": {"message": "slow down"}}))
    server = make_ccr(fake_config(fake, RECORD={"enabled": True}, RETRY={"max_retries": 0}))
    assert send(server, local("plain"), stream=False).status_code == 429
    [line] = records_of(server, 1)
    assert line["decision"]["route"] == "fake,fake-model"
    assert line["outcome"]["status"] == 429
    assert "slow down" in line["outcome"]["error"]
    assert line["outcome"]["usage"] == {}


def test_records_hold_no_credential(fake: FakeUpstream, make_ccr: MakeCcr) -> None:
    server = make_ccr(fake_config(fake, RECORD={"enabled": True}))
    send(server, local("plain"), stream=False)
    [line] = records_of(server, 1)
    text_of_records = json.dumps(line)
    assert "sk-client-secret" not in text_of_records
    assert "sk-fake-upstream-key" not in text_of_records
    assert "authorization" not in line["headers"] and "x-api-key" not in line["headers"]


def test_nothing_is_recorded_unless_enabled(fake: FakeUpstream, make_ccr: MakeCcr) -> None:
    server = make_ccr(fake_config(fake))
    send(server, local("plain"), stream=False)
    assert server.state.engine.records is None
    assert not (server.state.home / "records").exists()


def test_traffic_recorded_by_the_server_replays_against_a_changed_config(
    fake: FakeUpstream, make_ccr: MakeCcr, tmp_path: Path
) -> None:
    """Only the requests whose rule now names another route are reported as changed."""
    providers = [{"name": "fake", "api_base_url": fake.chat_url, "api_key": "sk-fake",
                  "models": ["fake-model", "small-model", "other-small-model"]}]
    base = {"Providers": providers, "LOG": False, "RECORD": {"enabled": True},
            "Router": {"default": "fake,fake-model", "background": "fake,small-model"}}
    server = make_ccr(base)
    for name in ("plain", "haiku-thinking-enabled", "tool-result", "haiku-thinking-enabled"):
        assert send(server, local(name), stream=False).status_code == 200
    recorded = records_of(server, 4)
    assert [r["decision"]["route"] for r in recorded] == [
        "fake,fake-model", "fake,small-model", "fake,fake-model", "fake,small-model"]

    changed = {**base, "Router": {**base["Router"], "background": "fake,other-small-model"}}
    old_config = write_json(tmp_path / "old.json", base)
    new_config = write_json(tmp_path / "new.json", changed)
    result = run_route(old_config, server.state.home / "records",
                       args=("--json", "--against", str(new_config)))
    assert result.returncode == 0, result.stderr
    *rows, summary = route_rows(result)

    assert [row["changed"] for row in rows] == [False, True, False, True]
    assert [row["route"] for row in rows if row["changed"]] == ["fake,other-small-model"] * 2
    assert summary["summary"]["changed"] == 2
    assert summary["summary"]["before"] == {"fake,fake-model": 2, "fake,small-model": 2}
    assert summary["summary"]["after"] == {"fake,fake-model": 2, "fake,other-small-model": 2}
