"""Router scripts and failover: a returned dict with its own fallback list and reason,
``req.providers`` (each provider's health), and the optional ``on_error`` hook."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccr.sandbox.policy import plain_decision
from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import FakeUpstream, text
from tests.support.fault_upstream import server_error
from tests.support.fixtures import MakeCcr

REQUEST: dict[str, Any] = {"model": "claude-sonnet-5", "max_tokens": 16,
                           "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def backup() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        upstream.default = text("from the backup")
        yield upstream


@pytest.fixture
def third() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        upstream.default = text("from the third")
        yield upstream


def serve(make_ccr: MakeCcr, tmp_path: Path, source: str, fake: FakeUpstream,
          backup: FakeUpstream, third: FakeUpstream, **extra: Any) -> CcrServer:
    script = tmp_path / "custom_router.py"
    script.write_text(textwrap.dedent(source))
    providers = [{"name": name, "api_base_url": up.chat_url, "api_key": f"sk-{name}-0000",
                  "models": ["fake-model"]}
                 for name, up in (("primary", fake), ("backup", backup), ("third", third))]
    return make_ccr({"Providers": providers, "Router": {"default": "primary,fake-model"},
                     "CUSTOM_ROUTER_PATH": str(script), "CUSTOM_ROUTER_TIMEOUT_MS": 2000,
                     "RETRY": {"max_retries": 0}, "LOG": False, **extra})


def post(server: CcrServer) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/messages", json=REQUEST, timeout=20)


def said(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["content"][0]["text"]


def test_a_script_dict_names_its_own_fallback_and_reason(
        make_ccr: MakeCcr, tmp_path: Path, fake: FakeUpstream, backup: FakeUpstream,
        third: FakeUpstream) -> None:
    server = serve(make_ccr, tmp_path, """
        def router(req, config):
            return {"route": "primary,fake-model", "fallback": ["third,fake-model"],
                    "reason": "cheap first"}
    """, fake, backup, third, fallback={"default": ["backup,fake-model"]})
    fake.enqueue(server_error(503))

    response = post(server)

    assert said(response) == "from the third"
    assert response.headers["x-ccr-rule"] == "custom, fallback"
    assert response.headers["x-ccr-reason"] == "cheap first"
    assert backup.chat_requests == []


def test_req_providers_lets_a_script_avoid_a_cooling_provider(
        make_ccr: MakeCcr, tmp_path: Path, fake: FakeUpstream, backup: FakeUpstream,
        third: FakeUpstream) -> None:
    server = serve(make_ccr, tmp_path, """
        def router(req, config):
            health = req.providers["primary"]
            assert set(health) == {"healthy", "cooldown_s", "error_rate", "p50_ms", "in_flight"}
            if not health["healthy"]:
                return {"route": "third,fake-model", "reason": "primary cooling %ds"
                        % health["cooldown_s"]}
            return None
    """, fake, backup, third, fallback={"default": ["backup,fake-model"]},
        COOLDOWN={"failures": 1, "cooldown_s": 60})
    fake.enqueue(server_error(500))
    assert said(post(server)) == "from the backup"

    response = post(server)

    assert said(response) == "from the third"
    assert response.headers["x-ccr-reason"] in ("primary cooling 59s", "primary cooling 60s")
    assert len(fake.chat_requests) == 1


def test_on_error_sees_the_failure_and_chooses_the_next_route(
        make_ccr: MakeCcr, tmp_path: Path, fake: FakeUpstream, backup: FakeUpstream,
        third: FakeUpstream) -> None:
    server = serve(make_ccr, tmp_path, """
        def router(req, config):
            return None

        def on_error(req, error, config):
            if (error["status"] == 503 and error["kind"] == "http"
                    and error["provider"] == "primary" and error["attempt"] == 1):
                return "third,fake-model"
            return None
    """, fake, backup, third, fallback={"default": ["backup,fake-model"]})
    fake.enqueue(server_error(503))

    response = post(server)

    assert said(response) == "from the third"
    assert backup.chat_requests == []


def test_on_error_returning_none_takes_the_configured_fallback(
        make_ccr: MakeCcr, tmp_path: Path, fake: FakeUpstream, backup: FakeUpstream,
        third: FakeUpstream) -> None:
    server = serve(make_ccr, tmp_path, """
        def router(req, config):
            return None

        def on_error(req, error, config):
            return None
    """, fake, backup, third, fallback={"default": ["backup,fake-model"]})
    fake.enqueue(server_error(500))

    assert said(post(server)) == "from the backup"
    assert third.chat_requests == []


def test_a_script_without_on_error_fails_over_as_configured(
        make_ccr: MakeCcr, tmp_path: Path, fake: FakeUpstream, backup: FakeUpstream,
        third: FakeUpstream) -> None:
    server = serve(make_ccr, tmp_path, """
        def router(req, config):
            return None
    """, fake, backup, third, fallback={"default": ["backup,fake-model"]})
    fake.enqueue(server_error(500), server_error(500))

    assert said(post(server)) == "from the backup"
    assert said(post(server)) == "from the backup"
    assert server.state.engine.script is not None
    assert server.state.engine.script.has_on_error is False


@pytest.mark.parametrize(("value", "problem"), [
    ({"route": "a,b", "colour": "red"}, "unknown keys"),
    ({"route": 3}, 'must return "provider,model"'),
    ({"route": "a,b", "fallback": "c,d"}, '"fallback" must be a list'),
    ({"route": "a,b", "fallback": ["c,d"] * 11}, "at most 10"),
    ({"route": "a,b", "fallback": [4]}, "entries must be"),
    ({"route": "a,b", "reason": 4}, '"reason" must be a string'),
])
def test_a_malformed_script_dict_is_reported(value: dict[str, Any], problem: str) -> None:
    plain, error = plain_decision(value, "custom_router.py")
    assert plain is None and error is not None and problem in error


def test_a_script_dict_is_passed_back_as_plain_data() -> None:
    plain, error = plain_decision({"route": "a,b", "fallback": ("c,d",), "reason": "x" * 500},
                                  "custom_router.py")
    assert error is None
    assert plain == {"route": "a,b", "fallback": ["c,d"], "reason": "x" * 200}
