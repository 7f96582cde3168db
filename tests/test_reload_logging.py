"""A reload applies ``LOG`` and ``LOG_LEVEL`` at once (the log says so), and a change that needs
a restart (``PORT``, ``HOST``) is named as such instead of being silently ignored."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import fake_config
from tests.support.serve_process import ServeProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


def reload_with(serve: ServeProcess, path: Path, config: dict[str, Any]) -> None:
    reloads = serve.health()["reloads"]
    path.write_text(json.dumps(config))
    os.kill(serve.proc.pid, signal.SIGHUP)
    serve.wait_for(lambda h: h["reloads"] > reloads)


def ask(serve: ServeProcess) -> None:
    response = httpx.post(f"{serve.url}/v1/messages", timeout=10, json={
        "model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200


def request_lines(home: Path) -> list[str]:
    log = home / "logs" / "ccr.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [line for line in lines if "status=200" in line or '"status": 200' in line]


def test_turning_log_on_takes_effect_on_reload(tmp_path: Path, fake: FakeUpstream) -> None:
    path = tmp_path / "config.json"
    config = fake_config(fake, LOG=False)
    path.write_text(json.dumps(config))
    home = tmp_path / "home"
    serve = ServeProcess(home=home, config_path=path)
    try:
        ask(serve)
        assert request_lines(home) == []
        reload_with(serve, path, {**config, "LOG": True, "LOG_LEVEL": "debug"})
        ask(serve)
        deadline = time.monotonic() + 5
        while not request_lines(home) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(request_lines(home)) == 1
    finally:
        output = serve.stop()
    assert "logging now LOG=true LOG_LEVEL=debug" in output


def test_a_port_change_is_said_to_need_a_restart(tmp_path: Path, fake: FakeUpstream) -> None:
    path = tmp_path / "config.json"
    config = fake_config(fake)
    path.write_text(json.dumps(config))
    serve = ServeProcess(home=tmp_path / "home", config_path=path)
    try:
        reload_with(serve, path, {**config, "PORT": 1})
        ask(serve)  # still on the port it started on
    finally:
        output = serve.stop()
    assert "PORT changed; it takes effect when ccr restarts" in output
