"""Small shared pieces of test setup: a config pointing at the fake upstream, recorded requests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import FakeUpstream

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
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
