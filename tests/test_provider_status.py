"""Provider health where users look: the authenticated /api/providers endpoint, ``ccr status``
(plain and --json), and the status line's fallback note."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccr.cli.status import provider_lines
from ccr.cli.statusline import Settings, render
from tests.support.cli_helpers import CcrHome, start
from tests.support.fake_upstream import FakeUpstream, text
from tests.support.fault_upstream import rate_limited, refuse_keys, refused_url, server_error
from tests.support.fixtures import MakeCcr

pytestmark = pytest.mark.e2e

KEY_ONE = "sk-status-key-one-00001111"
KEY_TWO = "sk-status-key-two-00002222"
APIKEY = "ccr-status-client-key"
REQUEST: dict[str, Any] = {"model": "m", "max_tokens": 8,
                           "messages": [{"role": "user", "content": "hi"}]}


def two_providers(primary_url: str, backup_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "Providers": [
            {"name": "deepseek", "api_base_url": primary_url, "api_key": [KEY_ONE, KEY_TWO],
             "models": ["deepseek-chat"]},
            {"name": "openrouter", "api_base_url": backup_url, "api_key": "sk-or-000033333",
             "models": ["x"]},
        ],
        "Router": {"default": "deepseek,deepseek-chat"},
        "fallback": {"default": ["openrouter,x"]},
        "RETRY": {"max_retries": 0},
        "COOLDOWN": {"failures": 1, "cooldown_s": 60},
        "LOG": False,
        **extra,
    }


@pytest.fixture
def backup() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


def test_the_providers_endpoint_shows_cooling_refused_keys_latency_and_no_secrets(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(two_providers(fake.chat_url, backup.chat_url, APIKEY=APIKEY))
    fake.handler = refuse_keys([KEY_ONE], then=lambda r: server_error(503))
    headers = {"x-api-key": APIKEY}
    httpx.post(f"{server.base_url}/v1/messages", json=REQUEST, headers=headers, timeout=10)

    response = httpx.get(f"{server.base_url}/api/providers", headers=headers, timeout=5)

    providers = {p["provider"]: p for p in response.json()["providers"]}
    deepseek, openrouter = providers["deepseek"], providers["openrouter"]
    assert deepseek["state"] == "cooling" and 59 <= deepseek["cooldown_s"] <= 60
    assert deepseek["error_rate"] == 1.0
    assert [(k["key"], k["state"]) for k in deepseek["keys"]] == [
        ("#1 …1111", "revoked"), ("#2 …2222", "ok")]
    assert openrouter["state"] == "ok" and openrouter["p50_ms"] > 0
    assert "sk-status" not in response.text and "sk-or" not in response.text


def test_the_providers_endpoint_needs_the_client_key(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(two_providers(fake.chat_url, backup.chat_url, APIKEY=APIKEY))
    assert httpx.get(f"{server.base_url}/api/providers", timeout=5).status_code == 401


def test_a_sessions_fallback_shows_in_its_usage_for_the_status_line(
        make_ccr: MakeCcr, fake: FakeUpstream, backup: FakeUpstream) -> None:
    server = make_ccr(two_providers(fake.chat_url, backup.chat_url))
    fake.handler = lambda request: rate_limited(30)  # both keys of the pool
    backup.enqueue(text("from openrouter"))
    session = {"x-claude-code-session-id": "5f1c2d3e-0000-4000-8000-000000000001"}
    httpx.post(f"{server.base_url}/v1/messages", json=REQUEST, headers=session, timeout=10)

    usage = httpx.get(f"{server.base_url}/api/sessions/{session['x-claude-code-session-id']}",
                      timeout=5).json()

    assert usage["route"] == "openrouter,x"
    assert usage["fallback"] == "deepseek 429 → openrouter"


def test_the_status_line_shows_a_fallback() -> None:
    usage = {"route": "openrouter,x", "total_input": 1000, "output_tokens": 10,
             "fallback": "deepseek 429 → openrouter"}
    line = render(usage, Settings(), color=False)
    assert line.endswith(" | deepseek 429 → openrouter")


def test_provider_lines_name_state_rates_and_masked_keys() -> None:
    lines = provider_lines([{
        "provider": "deepseek", "state": "cooling", "cooldown_s": 12.0, "error_rate": 0.4,
        "p50_ms": 820.0, "in_flight": 1, "reason": "3 failures in 60 s",
        "keys": [{"key": "#1 …abcd", "state": "ok"}, {"key": "#2 …ef01", "state": "revoked"}],
    }])
    assert lines[0].split() == ["deepseek", "cooling", "12", "s", "errors", "40%", "p50", "820",
                                "ms", "in", "flight", "1", "(3", "failures", "in", "60", "s)"]
    assert lines[1] == "  keys: #1 …abcd ok, #2 …ef01 revoked"


@pytest.mark.slow
def test_ccr_status_shows_provider_health_plain_and_json(tmp_path: Path) -> None:
    with FakeUpstream() as backup, CcrHome(tmp_path) as ccr:
        config = two_providers(refused_url(), backup.chat_url, PORT=ccr.port, APIKEY=APIKEY)
        ccr.write_config(config)
        start(ccr)
        httpx.post(f"{ccr.url}/v1/messages", json=REQUEST, headers={"x-api-key": APIKEY},
                   timeout=10, trust_env=False)

        plain = ccr.run("status")
        as_json = json.loads(ccr.run("status", "--json").stdout)

    assert "providers:" in plain.stdout
    assert "deepseek      cooling" in plain.stdout and "connection refused" in plain.stdout
    providers = {p["provider"]: p for p in as_json["provider_health"]}
    assert providers["deepseek"]["state"] == "cooling"
    assert providers["openrouter"]["state"] == "ok"
    assert KEY_ONE not in plain.stdout + json.dumps(as_json)
