"""The server around the messages endpoint: health and discovery endpoints, the client API key,
running without providers, the per-request log line, session usage, and ``ccr serve`` itself."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from ccr.logs import LOGGER_NAME, REQUEST_LOG_FILE, setup_logging
from tests.support.ccr_server import CcrServer, free_port
from tests.support.fake_upstream import FakeUpstream, Usage, text
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.gateway_client import Sdk, provider_key
from tests.support.serve_process import ServeProcess

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CLIENT_KEY = "router-client-token-5f1c9a"
SESSION_HEADER = "X-Claude-Code-Session-Id"
REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}


def _wait_for(condition: Any, timeout: float = 2.0) -> Any:
    """Poll ``condition()`` until it returns something truthy (work done after the response)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


@pytest.fixture
def guarded(make_ccr: MakeCcr, fake: FakeUpstream) -> CcrServer:
    """A server that requires ``CLIENT_KEY`` from its clients."""
    return make_ccr(fake_config(fake, APIKEY=CLIENT_KEY))


@pytest.fixture
def no_env_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the SDK from picking up a key from the environment."""
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------------------------
# Endpoints


def test_health_answers_ok_as_json(ccr: CcrServer) -> None:
    response = httpx.get(f"{ccr.base_url}/health", timeout=5)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["status"] == "ok"


def test_models_lists_every_configured_route(ccr: CcrServer) -> None:
    client = anthropic.Anthropic(base_url=ccr.base_url, api_key="any", max_retries=0)

    ids = [model.id for model in client.models.list()]

    assert ids == ["fake,fake-model", "fake,fake-model-large"]


def test_count_tokens_answers_a_positive_count(ccr: CcrServer) -> None:
    client = anthropic.Anthropic(base_url=ccr.base_url, api_key="any", max_retries=0)

    short = client.messages.count_tokens(model="m", messages=[{"role": "user", "content": "hi"}])
    longer = client.messages.count_tokens(
        model="m", messages=[{"role": "user", "content": "hi " * 50}])

    assert 0 < short.input_tokens < longer.input_tokens


# --------------------------------------------------------------------------------------------
# Client API key


def test_request_without_a_key_is_refused_in_anthropic_format(
    fake: FakeUpstream, guarded: CcrServer
) -> None:
    response = httpx.post(f"{guarded.base_url}/v1/messages", json=REQUEST, timeout=5)

    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "authentication_error"
    assert body["error"]["message"]
    assert fake.chat_requests == []


def test_wrong_key_is_refused(
    fake: FakeUpstream, guarded: CcrServer, no_env_api_key: None
) -> None:
    client = anthropic.Anthropic(base_url=guarded.base_url, api_key="wrong-key", max_retries=0)

    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(**REQUEST)
    assert fake.chat_requests == []


def test_right_key_as_x_api_key_is_accepted(guarded: CcrServer, no_env_api_key: None) -> None:
    client = anthropic.Anthropic(base_url=guarded.base_url, api_key=CLIENT_KEY, max_retries=0)

    message = client.messages.create(**REQUEST)

    assert message.content[0].type == "text"


def test_right_key_as_bearer_token_is_accepted(
    fake: FakeUpstream, guarded: CcrServer, no_env_api_key: None
) -> None:
    client = anthropic.Anthropic(base_url=guarded.base_url, api_key=None, auth_token=CLIENT_KEY,
                                 max_retries=0)

    client.messages.create(**REQUEST)

    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {provider_key(fake)}"


def test_health_is_open_without_the_key(guarded: CcrServer) -> None:
    assert httpx.get(f"{guarded.base_url}/health", timeout=5).status_code == 200


def test_root_head_is_open_without_the_key(guarded: CcrServer) -> None:
    assert httpx.head(f"{guarded.base_url}/", timeout=5).status_code == 200


def test_models_needs_the_key(guarded: CcrServer) -> None:
    assert httpx.get(f"{guarded.base_url}/v1/models", timeout=5).status_code == 401


# --------------------------------------------------------------------------------------------
# No providers


def test_messages_without_providers_explains_how_to_add_one(make_ccr: MakeCcr) -> None:
    server = make_ccr({})
    client = anthropic.Anthropic(base_url=server.base_url, api_key="any", max_retries=0)

    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(**REQUEST)

    message = caught.value.body["error"]["message"]  # type: ignore[index]
    assert "ccr init" in message
    assert "Providers" in message


# --------------------------------------------------------------------------------------------
# Log line and session usage


@pytest.fixture
def log_file(guarded: CcrServer) -> Iterator[Path]:
    """File logging under the server's home, as ``ccr serve`` sets it up; restored after."""
    logger = logging.getLogger(LOGGER_NAME)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    for handler in saved[0]:
        logger.removeHandler(handler)
    setup_logging(home=guarded.state.home, enabled=True, level="info", console=False)
    yield guarded.state.home / "logs" / REQUEST_LOG_FILE
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    for handler in saved[0]:
        logger.addHandler(handler)
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


def test_request_log_line_names_session_rule_route_tokens_and_status(
    fake: FakeUpstream, guarded: CcrServer, log_file: Path, no_env_api_key: None
) -> None:
    sdk = Sdk.on(guarded, api_key=None, auth_token=CLIENT_KEY)
    sid = "0d9c3f0e-2b7a-4c55-9d1e-6a1f2e3b4c5d"
    count = sdk.client.messages.count_tokens(model=REQUEST["model"],
                                             messages=REQUEST["messages"]).input_tokens

    sdk.create(extra_headers={SESSION_HEADER: sid})

    def line() -> str | None:
        text_ = log_file.read_text() if log_file.exists() else ""
        return next((x for x in text_.splitlines() if f"session={sid}" in x), None)

    found = _wait_for(line)
    assert found, log_file.read_text() if log_file.exists() else "no log file"
    fields = dict(part.split("=", 1) for part in found.split() if "=" in part)
    assert fields["rule"] == "default"
    assert fields["route"] == "fake,fake-model"
    assert fields["tokens"] == str(count)
    assert fields["status"] == "200"
    whole = log_file.read_text()
    assert provider_key(fake) not in whole
    assert CLIENT_KEY not in whole


def test_streamed_turn_records_the_session_usage(fake: FakeUpstream, ccr: CcrServer) -> None:
    sid = "7a1e2c3d-0000-4b5c-8d9e-0f1a2b3c4d5e"
    fake.enqueue(text("done", usage=Usage(prompt=5000, completion=120, cached=3000)))

    Sdk.on(ccr).stream(extra_headers={SESSION_HEADER: sid})

    usage = _wait_for(lambda: ccr.state.stores.sessions.get(sid))
    assert usage is not None
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (
        2000, 3000, 120)
    assert usage.total_input == 5000
    assert usage.last_route == "fake,fake-model"


# --------------------------------------------------------------------------------------------
# ccr serve


def _env(home: Path) -> dict[str, str]:
    """This environment without proxies, with ``CCR_HOME`` pointing at ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.pop("CCR_TEST_UNSET_VARIABLE", None)
    env["CCR_HOME"] = str(home)
    return env


def _serve(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ccr", "serve", *args], cwd=PROJECT_ROOT, env=_env(home),
        capture_output=True, text=True, timeout=30,
    )


def _config_file(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "config.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_serve_with_an_invalid_config_exits_naming_the_key(tmp_path: Path) -> None:
    config = _config_file(tmp_path, {
        "Providers": [{"name": "p", "api_base_url": 5, "models": ["m"]}],
        "Router": {"default": "p,m"},
    })

    result = _serve(tmp_path, "--config", str(config), "--port", str(free_port()))

    assert result.returncode != 0
    assert "Providers[0].api_base_url" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_serve_with_an_unset_variable_names_it(tmp_path: Path) -> None:
    config = _config_file(tmp_path, {
        "Providers": [{"name": "p", "api_base_url": "https://api.example.com/v1/chat/completions",
                       "api_key": "$CCR_TEST_UNSET_VARIABLE", "models": ["m"]}],
    })

    result = _serve(tmp_path, "--config", str(config), "--port", str(free_port()))

    assert result.returncode != 0
    assert "CCR_TEST_UNSET_VARIABLE" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_serve_refuses_a_public_host_without_an_api_key(tmp_path: Path) -> None:
    config = _config_file(tmp_path, {"HOST": "0.0.0.0"})

    result = _serve(tmp_path, "--config", str(config), "--port", str(free_port()))

    assert result.returncode != 0
    assert "0.0.0.0" in result.stderr
    assert "APIKEY" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_serve_without_a_config_file_starts_and_answers_health(tmp_path: Path) -> None:
    with ServeProcess(home=tmp_path / "empty-home") as server:
        assert server.health()["providers"] == 0
