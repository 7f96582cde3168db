"""Shared fixtures: a fake OpenAI-compatible upstream and a real ccr server in front of it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.ccr_server import CcrServer
from tests.fake_upstream import FakeUpstream

# Helper modules assert too; show their values on failure as pytest does for test modules.
pytest.register_assert_rewrite("tests.cli_helpers", "tests.route_helpers", "tests.gateway_client")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CLAUDE_CODE_FIXTURES = SHARED / "fixtures" / "claude-code"

MakeCcr = Callable[..., CcrServer]


def fake_config(fake: FakeUpstream, **extra: Any) -> dict[str, Any]:
    """A CCR-style config whose only provider is the fake upstream."""
    config: dict[str, Any] = {
        "Providers": [{
            "name": "fake",
            "api_base_url": fake.chat_url,
            "api_key": "sk-fake-upstream-key",
            "models": ["fake-model", "fake-model-large"],
        }],
        "Router": {"default": "fake,fake-model"},
        "LOG": False,
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def claude_code_fixture(name: str) -> dict[str, Any]:
    """One recorded Claude Code request; skips the test where the shared data is absent."""
    path = CLAUDE_CODE_FIXTURES / f"{name}.json"
    if not path.exists():
        pytest.skip(f"shared fixture {name} not available")
    return json.loads(path.read_text())


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def make_ccr(tmp_path: Path) -> Iterator[MakeCcr]:
    servers: list[CcrServer] = []

    def make(config: dict[str, Any], **kwargs: Any) -> CcrServer:
        server = CcrServer(config, tmp_path / "ccr-home", **kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def ccr(make_ccr: MakeCcr, fake: FakeUpstream) -> CcrServer:
    return make_ccr(fake_config(fake))


@pytest.fixture
def client(ccr: CcrServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=ccr.base_url, api_key="test", max_retries=0, timeout=20)
