"""Claude Code requests for tests: small committed copies (``tests/fixtures/claude-code``), the
full recordings in ``../shared`` where present (stand-ins otherwise, see ``recorded``), and
variants of the same shape built in code."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.support.recorded import PROMPTS, recorded

LOCAL = Path(__file__).resolve().parents[1] / "fixtures" / "claude-code"

#: Recorded Messages requests and the prompt the person typed in each.
SHARED_PROMPTS: dict[str, str] = PROMPTS
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
    """A full recorded request, or its stand-in where the recordings are absent."""
    return recorded(name)


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
