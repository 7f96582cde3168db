"""Recorded Claude Code requests, one resolver for every test that reads them.

The full recordings in ``../shared/fixtures/claude-code`` are the stronger check and are used
when present; a clone without them gets small stand-ins of the same shape (the committed
copies in ``tests/fixtures/claude-code``, and a few built from them here), so no test skips
for want of data. Each stand-in carries the facts tests assert about it (``facts``)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

SHARED_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "claude-code"
LOCAL_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "claude-code"

Request = dict[str, Any]


def _local(name: str) -> Request:
    data: Request = json.loads((LOCAL_DIR / f"{name}.json").read_text())
    return data


def _head() -> Request:
    """The connectivity check Claude Code sends before its first call: a bodiless ``HEAD /``."""
    return {"method": "HEAD", "path": "/", "headers": {
        "Connection": "keep-alive", "User-Agent": "Bun/1.4.0", "Accept": "*/*",
        "Accept-Encoding": "gzip, deflate, br, zstd"}, "body": ""}


def _bash_turn1() -> Request:
    """The first turn of the tool conversation: ``tool-result`` before the tool ran."""
    request = _local("tool-result")
    request["body"]["messages"] = request["body"]["messages"][:2]
    return request


def _x_api_key() -> Request:
    """``plain`` as sent with ``ANTHROPIC_API_KEY``: an ``x-api-key`` header, no bearer token."""
    request = _local("plain")
    headers = {k: v for k, v in request["headers"].items() if k.lower() != "authorization"}
    request["headers"] = {**headers, "x-api-key": "sk-test"}
    return request


#: Recorded name -> how its stand-in is made.
_STAND_INS: dict[str, Callable[[], Request]] = {
    "00-HEAD-root-connectivity-check": _head,
    "01-plain": lambda: _local("plain"),
    "02-bash-turn1": _bash_turn1,
    "03-bash-turn2-tool-result": lambda: _local("tool-result"),
    "06-haiku-thinking-enabled": lambda: _local("haiku-thinking-enabled"),
    "08-sonnet-thinking-disabled": lambda: _local("sonnet-thinking-disabled"),
    "10-task-subagent-request": lambda: _local("subagent"),
    "13-x-api-key-auth": _x_api_key,
}

#: What the person typed in each recorded POST (the same in a recording and its stand-in).
PROMPTS: dict[str, str] = {
    "01-plain": "say hello",
    "02-bash-turn1": "TOOLTEST please run echo",
    "03-bash-turn2-tool-result": "TOOLTEST please run echo",
    "06-haiku-thinking-enabled": "say hello",
    "08-sonnet-thinking-disabled": "say hello",
    "10-task-subagent-request": "SUBAGENT: reply with the word hi",
    "13-x-api-key-auth": "say hello",
}


#: Exact facts of the full recordings, and the same facts of their stand-ins: ``tokens`` is what
#: ``ccr route`` counts, ``token_range`` the band a sound counter must land in.
_SHARED_FACTS: dict[str, dict[str, Any]] = {
    "01-plain": {"tokens": 17_413, "token_range": (15_000, 25_000)},
}
_STAND_IN_FACTS: dict[str, dict[str, Any]] = {
    "01-plain": {"tokens": 1_106, "token_range": (800, 1_500)},
}


def facts(name: str) -> dict[str, Any]:
    """What tests may assert exactly about ``recorded(name)``, whichever of the two it is."""
    known = _SHARED_FACTS if using_shared() else _STAND_IN_FACTS
    prompt = {"prompt": PROMPTS[name]} if name in PROMPTS else {}
    return {**prompt, **known.get(name, {})}


def using_shared() -> bool:
    """Whether the full recordings are here (exact facts of them can be asserted)."""
    return SHARED_DIR.is_dir() and any(SHARED_DIR.glob("*.json"))


def recorded_names() -> list[str]:
    """Every recorded name, sorted: the shared files' stems, else the stand-ins'."""
    if using_shared():
        return sorted(path.stem for path in SHARED_DIR.glob("*.json"))
    return sorted(_STAND_INS)


def recorded(name: str) -> Request:
    """One request, ``{"method", "path", "headers", "body"}``: recorded, else its stand-in."""
    path = SHARED_DIR / f"{name}.json"
    if using_shared():
        data: Request = json.loads(path.read_text())
        return data
    return copy.deepcopy(_STAND_INS[name]())


def recorded_dir(tmp_path: Path) -> Path:
    """A folder of every request as ``<name>.json``: the shared one, else stand-ins written
    into ``tmp_path`` (for commands that read a folder, as ``ccr route`` does)."""
    if using_shared():
        return SHARED_DIR
    folder = tmp_path / "claude-code"
    folder.mkdir(parents=True, exist_ok=True)
    for name in recorded_names():
        (folder / f"{name}.json").write_text(json.dumps(recorded(name), indent=1))
    return folder
