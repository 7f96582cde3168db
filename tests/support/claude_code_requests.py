"""Claude Code requests for tests: small committed copies (``tests/fixtures/claude-code``), the
full recordings in ``../shared`` where present, and variants of the same shape built in code."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

LOCAL = Path(__file__).resolve().parents[1] / "fixtures" / "claude-code"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "claude-code"

#: Recorded Messages requests (``../shared``) and the prompt the person typed in each.
SHARED_PROMPTS: dict[str, str] = {
    "01-plain": "say hello",
    "02-bash-turn1": "TOOLTEST please run echo",
    "03-bash-turn2-tool-result": "TOOLTEST please run echo",
    "06-haiku-thinking-enabled": "say hello",
    "08-sonnet-thinking-disabled": "say hello",
    "10-task-subagent-request": "SUBAGENT: reply with the word hi",
    "13-x-api-key-auth": "say hello",
}
#: The committed small copies and the prompt in each.
LOCAL_PROMPTS: dict[str, str] = {
    "plain": "say hello",
    "tool-result": "TOOLTEST please run echo",
    "haiku-thinking-enabled": "say hello",
    "sonnet-thinking-disabled": "say hello",
    "subagent": "SUBAGENT: reply with the word hi",
}


def local(name: str) -> dict[str, Any]:
    """A committed request, ``{"method", "path", "headers", "body"}``."""
    data: dict[str, Any] = json.loads((LOCAL / f"{name}.json").read_text())
    return data


def shared(name: str) -> dict[str, Any]:
    """A full recorded request; skips the test where the shared data is absent."""
    path = SHARED / f"{name}.json"
    if not path.exists():
        pytest.skip(f"shared fixture {name} not available")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def later_turn(typed: str | list[dict[str, Any]]) -> dict[str, Any]:
    """``plain`` continued as an interactive session does: an answer, a ``role: "system"``
    message, and a new user turn holding ``typed`` after a system reminder."""
    request = copy.deepcopy(local("plain"))
    content = typed if isinstance(typed, list) else [{"type": "text", "text": typed}]
    request["body"]["messages"] += [
        {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
        {"role": "system", "content": "- review: Review a GitHub pull request"},
        {"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>\nThe user opened review.py\n"
                                     "</system-reminder>"},
            *content,
        ]},
    ]
    return request
