"""Live config reload of a real ``ccr serve`` process: valid edits take effect for new requests,
invalid ones keep the running config and are reported, open streams finish undisturbed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccr.config import parse_config
from ccr.engine.engine import Engine
from ccr.protocol.sse import SSEDecoder
from tests.support.fake_upstream import FakeUpstream, text
from tests.support.fixtures import fake_config
from tests.support.serve_process import ServeProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def config_path(tmp_path: Path, fake: FakeUpstream) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(fake_config(fake)))
    return path


@pytest.fixture
def serve(config_path: Path, tmp_path: Path) -> Iterator[ServeProcess]:
    process = ServeProcess(home=tmp_path / "home", config_path=config_path)
    yield process
    process.stop()


def _ask(serve: ServeProcess, **extra: Any) -> httpx.Response:
    body = {"model": "claude-sonnet-5", "max_tokens": 50,
            "messages": [{"role": "user", "content": "hi"}], **extra}
    return httpx.post(f"{serve.url}/v1/messages", json=body, timeout=10)


def _edit(path: Path, config: dict[str, Any] | str) -> None:
    text_ = config if isinstance(config, str) else json.dumps(config)
    path.write_text(text_)
    # make sure the mtime moves even on coarse-grained file systems
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_a_valid_edit_takes_effect_for_new_requests(
    serve: ServeProcess, config_path: Path, fake: FakeUpstream
) -> None:
    _ask(serve)
    assert fake.chat_requests[-1].body["model"] == "fake-model"
    _edit(config_path, fake_config(fake, Router={"default": "fake,fake-model-large"}))
    health = serve.wait_for(lambda h: h["reloads"] >= 1)
    assert health["reloads"] == 1 and health["reload_error"] is None
    _ask(serve)
    assert fake.chat_requests[-1].body["model"] == "fake-model-large"


def test_an_invalid_edit_keeps_the_running_config_and_is_reported(
    serve: ServeProcess, config_path: Path, fake: FakeUpstream
) -> None:
    _edit(config_path, fake_config(fake, Router={"default": "nowhere,model"}))
    health = serve.wait_for(lambda h: h["reload_error"])
    assert "Router.default" in health["reload_error"]
    assert _ask(serve).status_code == 200
    assert fake.chat_requests[-1].body["model"] == "fake-model"


def test_a_broken_json_edit_is_reported_and_a_later_fix_recovers(
    serve: ServeProcess, config_path: Path, fake: FakeUpstream
) -> None:
    _edit(config_path, '{"Providers": [')
    assert serve.wait_for(lambda h: h["reload_error"])["reload_error"]
    _edit(config_path, fake_config(fake, Router={"default": "fake,fake-model-large"}))
    health = serve.wait_for(lambda h: h["reload_error"] is None)
    assert health["reload_error"] is None
    _ask(serve)
    assert fake.chat_requests[-1].body["model"] == "fake-model-large"


def test_sighup_reloads_at_once(serve: ServeProcess, config_path: Path,
                                fake: FakeUpstream) -> None:
    new = fake_config(fake, Router={"default": "fake,fake-model-large"})
    config_path.write_text(json.dumps(new))
    serve.proc.send_signal(signal.SIGHUP)
    assert serve.wait_for(lambda h: h["reloads"] >= 1, timeout=3)["reloads"] >= 1


def test_an_open_stream_finishes_across_valid_and_invalid_reloads(
    serve: ServeProcess, config_path: Path, fake: FakeUpstream
) -> None:
    fake.enqueue(text("one two three four five six", chunk_delay_s=0.4))
    body = {"model": "claude-sonnet-5", "max_tokens": 50, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}
    with httpx.stream("POST", f"{serve.url}/v1/messages", json=body, timeout=20) as response:
        chunks = response.iter_bytes()
        first = next(chunks)
        _edit(config_path, fake_config(fake, Router={"default": "fake,fake-model-large"}))
        serve.wait_for(lambda h: h["reloads"] >= 1)
        _edit(config_path, fake_config(fake, Router={"default": "nowhere,model"}))
        serve.wait_for(lambda h: h["reload_error"])
        raw = first + b"".join(chunks)
    events = SSEDecoder().feed(raw)
    assert [e.event for e in events][-1] == "message_stop"
    assert "error" not in [e.event for e in events]
    texts = [json.loads(e.data)["delta"].get("text", "") for e in events
             if e.event == "content_block_delta"]
    assert "".join(texts) == "one two three four five six"


class _Closable:
    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


def test_a_replaced_engine_closes_only_after_its_last_request() -> None:
    engine = Engine.build(parse_config({}, env={}))
    script = engine.script = _Closable()  # type: ignore[assignment]
    engine.in_flight = 1

    async def scenario() -> list[bool]:
        retiring = asyncio.ensure_future(engine.retire(poll_s=0.01))
        await asyncio.sleep(0.05)
        seen = [script.closed]
        engine.in_flight = 0
        await asyncio.wait_for(retiring, 1)
        return [*seen, script.closed]

    assert asyncio.run(scenario()) == [False, True]
