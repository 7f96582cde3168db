"""``ccr serve`` shuts down gracefully on SIGTERM/SIGINT, as a real process.

Open streams finish (up to ``SHUTDOWN_TIMEOUT_MS``), new connections are refused at once, idle
keep-alive connections do not hold the exit up, and the exit status is 0 either way.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.ccr_server import free_port
from tests.support.fake_upstream import FakeUpstream, text
from tests.support.fixtures import fake_config

pytestmark = pytest.mark.e2e

STREAM_BODY = {
    "model": "fake,fake-model",
    "max_tokens": 256,
    "stream": True,
    "messages": [{"role": "user", "content": "Count slowly."}],
}


@dataclass
class ServeProcess:
    process: subprocess.Popen[bytes]
    port: int
    output: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def signal(self, sig: signal.Signals) -> float:
        self.process.send_signal(sig)
        return time.monotonic()

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def log(self) -> str:
        return self.output.read_text(errors="replace")


StartServe = Callable[..., ServeProcess]


@pytest.fixture
def start_serve(tmp_path: Path, fake: FakeUpstream) -> Iterator[StartServe]:
    started: list[ServeProcess] = []

    def start(**config_extra: Any) -> ServeProcess:
        config = tmp_path / f"config{len(started)}.json"
        config.write_text(json.dumps(fake_config(fake, **config_extra)))
        port = free_port()
        output = tmp_path / f"serve{len(started)}.out"
        env = {**os.environ, "CCR_HOME": str(tmp_path / "home")}
        with open(output, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "ccr", "serve", "--config", str(config),
                 "--port", str(port)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
            )
        server = ServeProcess(process, port, output)
        started.append(server)
        _wait_healthy(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(5)


def _wait_healthy(server: ServeProcess, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"ccr serve exited early:\n{server.log()}")
        try:
            if httpx.get(server.url + "/health", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    pytest.fail(f"ccr serve did not answer /health:\n{server.log()}")


def _slow_words(count: int) -> str:
    return " ".join(f"w{i}" for i in range(count))


class _Stream:
    """An SSE stream read line by line, as Claude Code reads one."""

    def __init__(self, client: httpx.Client, url: str) -> None:
        self._context = client.stream("POST", url + "/v1/messages", json=STREAM_BODY,
                                      headers={"x-api-key": "test"})
        self.response = self._context.__enter__()
        self._lines = self.response.iter_lines()
        self.events: list[str] = []

    def read_until_first_event(self) -> None:
        for line in self._lines:
            if line.startswith("event:"):
                self.events.append(line[6:].strip())
                return

    def read_rest(self) -> None:
        try:
            for line in self._lines:
                if line.startswith("event:"):
                    self.events.append(line[6:].strip())
        except httpx.HTTPError:
            pass  # cut by the server
        finally:
            self._context.__exit__(None, None, None)


def _refuses_connections(port: int, within: float = 2.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except ConnectionRefusedError:
            return True
        time.sleep(0.02)
    return False


def test_sigterm_lets_an_open_stream_finish_with_message_stop_and_exits_0(
    start_serve: StartServe, fake: FakeUpstream,
) -> None:
    fake.enqueue(text(_slow_words(12), chunk_delay_s=0.1))
    server = start_serve()
    with httpx.Client(timeout=20) as client:
        stream = _Stream(client, server.url)
        stream.read_until_first_event()
        server.signal(signal.SIGTERM)
        stream.read_rest()
    assert stream.events[-1] == "message_stop"
    assert stream.events.count("content_block_delta") == 12
    assert server.wait(10) == 0


def test_new_connections_are_refused_while_a_stream_is_still_finishing(
    start_serve: StartServe, fake: FakeUpstream,
) -> None:
    fake.enqueue(text(_slow_words(20), chunk_delay_s=0.1))
    server = start_serve()
    with httpx.Client(timeout=20) as client:
        stream = _Stream(client, server.url)
        stream.read_until_first_event()
        server.signal(signal.SIGTERM)
        refused = _refuses_connections(server.port)
        still_streaming = server.process.poll() is None
        stream.read_rest()
    assert refused
    assert still_streaming
    assert stream.events[-1] == "message_stop"
    assert server.wait(10) == 0


def test_a_stream_longer_than_the_deadline_is_cut_and_the_process_exits_0_in_time(
    start_serve: StartServe, fake: FakeUpstream,
) -> None:
    fake.enqueue(text(_slow_words(60), chunk_delay_s=0.1))
    server = start_serve(SHUTDOWN_TIMEOUT_MS=500)
    with httpx.Client(timeout=20) as client:
        stream = _Stream(client, server.url)
        stream.read_until_first_event()
        sent = server.signal(signal.SIGTERM)
        stream.read_rest()
        code = server.wait(10)
        took = time.monotonic() - sent
    assert code == 0
    assert "message_stop" not in stream.events
    assert took < 0.5 + 2.0, f"exit took {took:.2f} s"
    assert "closing 1 request(s) still open" in server.log()


def test_an_idle_keep_alive_connection_does_not_hold_up_the_exit(
    start_serve: StartServe,
) -> None:
    server = start_serve()  # default deadline: 10 s
    with httpx.Client(timeout=5) as client:
        assert client.get(server.url + "/health").status_code == 200  # connection kept alive
        sent = server.signal(signal.SIGTERM)
        code = server.wait(10)
        took = time.monotonic() - sent
    assert code == 0
    assert took < 2.0, f"exit took {took:.2f} s"


def test_a_second_signal_cuts_the_wait_for_open_streams_short(
    start_serve: StartServe, fake: FakeUpstream,
) -> None:
    fake.enqueue(text(_slow_words(100), chunk_delay_s=0.1))
    server = start_serve()  # default deadline: 10 s, the stream would need 10 s
    with httpx.Client(timeout=20) as client:
        stream = _Stream(client, server.url)
        stream.read_until_first_event()
        sent = server.signal(signal.SIGTERM)
        time.sleep(0.3)
        server.signal(signal.SIGTERM)
        code = server.wait(10)
        took = time.monotonic() - sent
        stream.read_rest()
    assert code == 0
    assert took < 3.0, f"exit took {took:.2f} s"
    assert "message_stop" not in stream.events


def test_sigint_shuts_down_like_sigterm(start_serve: StartServe) -> None:
    server = start_serve()
    server.signal(signal.SIGINT)
    assert server.wait(10) == 0
    assert "SIGINT: shutting down" in server.log()


def test_the_process_exits_as_soon_as_the_last_stream_ends_not_at_the_deadline(
    start_serve: StartServe, fake: FakeUpstream,
) -> None:
    fake.enqueue(text(_slow_words(8), chunk_delay_s=0.1))
    server = start_serve()  # default deadline: 10 s
    with httpx.Client(timeout=20) as client:  # keeps the connection alive after the stream
        stream = _Stream(client, server.url)
        stream.read_until_first_event()
        server.signal(signal.SIGTERM)
        stream.read_rest()
        ended = time.monotonic()
        code = server.wait(10)
        after_stream = time.monotonic() - ended
    assert stream.events[-1] == "message_stop"
    assert code == 0
    assert after_stream < 1.5, f"exit came {after_stream:.2f} s after the stream ended"
