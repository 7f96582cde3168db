"""Small shared pieces of test setup: a config pointing at the fake upstream, recorded requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import FakeUpstream
from tests.support.recorded import recorded, recorded_names

#: Names of the recorded Claude Code requests (recordings where present, else stand-ins).
CLAUDE_CODE_FIXTURES: list[str] = recorded_names()

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
    """One recorded Claude Code request, or its stand-in where the recordings are absent."""
    return recorded(name)
