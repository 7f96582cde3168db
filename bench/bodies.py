"""Request bodies for the benchmarks: the recorded Claude Code turn, and a long conversation
grown from it (deterministic, so every run and every router sees the same bytes)."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "claude-code"
PLAIN_FIXTURE = SHARED / "01-plain.json"
TOOL_TURN_FIXTURE = SHARED / "03-bash-turn2-tool-result.json"

_WORDS = ("the function returns a list of files in the project directory and their sizes when "
          "called with a path argument otherwise it raises an error that the caller must handle "
          "config router provider stream token model request response chunk event session "
          "def class import return await async yield lambda None True False self").split()


def load_fixture(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """A recorded request's body and headers (credentials dropped)."""
    recorded = json.loads(path.read_text())
    headers = {k: v for k, v in recorded["headers"].items()
               if k.lower() not in ("authorization", "x-api-key")}
    return recorded["body"], headers


def _prose(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def conversation(base: dict[str, Any], size: int, *, seed: int = 12) -> dict[str, Any]:
    """``base`` (a Claude Code request) with tool-using turns appended until its JSON is at
    least ``size`` bytes: assistant text + Bash call, user tool result, user follow-up."""
    rng = random.Random(seed)
    body = copy.deepcopy(base)
    messages = body["messages"]
    turn = 0
    while len(json.dumps(body)) < size:
        turn += 1
        call_id = f"toolu_bench{turn:05d}"
        messages.append({"role": "assistant", "content": [
            {"type": "text", "text": _prose(rng, 40)},
            {"type": "tool_use", "id": call_id, "name": "Bash",
             "input": {"command": f"grep -rn {rng.choice(_WORDS)} src/", "description": "Search"}},
        ]})
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call_id,
             "content": "\n".join(f"src/mod{rng.randrange(99)}.py:{rng.randrange(999)}: "
                                  + _prose(rng, 12) for _ in range(60))},
            {"type": "text", "text": _prose(rng, 25)},
        ]})
    return body
