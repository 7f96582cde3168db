"""``ccr serve --workers N``: several real server processes on one port, supervised.

The supervisor stands for the server (its pid is the one ``/health`` reports and the one to
signal); it forwards SIGTERM (open streams finish, exit 0) and SIGHUP (reload) to every
worker, and replaces a worker that dies.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccr.service.workers import Supervisor, resolve_workers
from tests.support.ccr_server import free_port
from tests.support.fake_upstream import FakeUpstream, text
from tests.support.fixtures import fake_config
from tests.support.serve_process import PROJECT, ServeProcess

pytestmark = pytest.mark.e2e

STREAM_BODY = {
    "model": "fake,fake-model", "max_tokens": 64, "stream": True,
    "messages": [{"role": "user", "content": "Count slowly."}],
}

# -- how many workers ------------------------------------------------------------------------


def test_the_option_wins_over_the_config_key() -> None:
    assert resolve_workers(3, 2) == 3


def test_the_config_key_applies_without_the_option() -> None:
    assert resolve_workers(None, 2) == 2
    assert resolve_workers(None, "4") == 4


def test_one_worker_by_default_and_for_nonsense() -> None:
    assert resolve_workers(None, None) == 1
    for value in (-1, "many", True, 2.5):
        assert resolve_workers(None, value) == 1


def test_zero_means_one_per_core() -> None:
    assert resolve_workers(0, None) == (os.cpu_count() or 1)


# -- real processes ----------------------------------------------------------------------------


@pytest.fixture
def serve_workers(tmp_path: Path, fake: FakeUpstream) -> Iterator[ServeProcess]:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(fake_config(fake)))
    server = ServeProcess(home=tmp_path / "home", config_path=config, args=["--workers", "2"])
    try:
        yield server
    finally:
        server.stop()


def worker_pids(server: ServeProcess, *, want: int = 2, tries: int = 200) -> set[int]:
    """Worker pids seen over new connections (the kernel spreads them over the workers)."""
    seen: set[int] = set()
    for _ in range(tries):
        health = httpx.get(f"{server.url}/health", timeout=5).json()
        assert health["pid"] == server.proc.pid
        seen.add(health["worker_pid"])
        if len(seen) >= want:
            break
    return seen


@pytest.mark.slow
def test_two_workers_answer_on_one_port_under_the_supervisor_pid(serve_workers):
    pids = worker_pids(serve_workers)
    assert len(pids) == 2
    assert serve_workers.proc.pid not in pids


@pytest.mark.slow
def test_sigterm_lets_a_stream_on_every_worker_finish_then_exits_0(serve_workers, fake):
    fake.default = text("one two three four five six", chunk_delay_s=0.15)
    results: list[tuple[int, bytes]] = []

    def stream() -> None:
        with httpx.Client(timeout=30) as client:  # one connection each: both workers get some
            response = client.post(f"{serve_workers.url}/v1/messages", json=STREAM_BODY)
            results.append((response.status_code, response.content))

    threads = [threading.Thread(target=stream) for _ in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(0.4)  # every stream is open
    serve_workers.proc.send_signal(signal.SIGTERM)
    assert serve_workers.proc.wait(timeout=15) == 0
    for thread in threads:
        thread.join(timeout=5)
    assert len(results) == 6
    for status, body in results:
        assert status == 200
        assert b"event: message_stop" in body
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{serve_workers.url}/health", timeout=2)


@pytest.mark.slow
def test_a_worker_that_dies_is_replaced(serve_workers):
    victim = min(worker_pids(serve_workers))
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        pids = worker_pids(serve_workers, tries=40)
        if victim not in pids and len(pids) == 2:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"worker {victim} was not replaced:\n{serve_workers.output()}")
    assert "exited with status" in serve_workers.output()


@pytest.mark.slow
def test_sighup_reloads_every_worker(serve_workers):
    worker_pids(serve_workers)  # both up
    serve_workers.proc.send_signal(signal.SIGHUP)
    reloaded: dict[int, int] = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(reloaded) < 2:
        health = httpx.get(f"{serve_workers.url}/health", timeout=5).json()
        if health["reloads"] >= 1:
            reloaded[health["worker_pid"]] = health["reloads"]
    assert len(reloaded) == 2


def test_a_busy_port_is_reported_and_no_worker_starts(tmp_path: Path, fake: FakeUpstream):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(fake_config(fake)))
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        env: dict[str, Any] = {**os.environ, "CCR_HOME": str(tmp_path / "home")}
        result = subprocess.run(
            [sys.executable, "-m", "ccr", "serve", "--config", str(config), "--port", str(port),
             "--workers", "2"],
            cwd=PROJECT, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "workers started" not in result.stderr


def test_workers_that_keep_failing_at_start_make_the_supervisor_give_up() -> None:
    failing = [sys.executable, "-c", "import sys; sys.exit(3)"]
    started = time.monotonic()
    assert Supervisor(failing, 2, restart_delay_s=0.05).run() == 3
    assert time.monotonic() - started < 10
