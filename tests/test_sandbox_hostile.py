"""Every hostile router script ends in a fall-through: no route, a readable error, nothing
leaked, nothing changed, nothing hung, and the same RouterScript serves normally afterwards.

The shared corpus (``../shared/hostile``) is used when present; ``tests/hostile`` always is.
A script there says what its error must contain (``# EXPECT: text``) and whether it must time
out (``# EXPECT-TIMEOUT``).
"""

from __future__ import annotations

import copy
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from ccr.sandbox import RouterScript

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
SHARED_HOSTILE = HERE.parents[1] / "shared" / "hostile"
OWN_HOSTILE = HERE / "hostile"

GOOD_SCRIPT = 'def router(req, config):\n    return "openrouter,x"\n'


def _cases() -> list[Any]:
    shared = sorted(SHARED_HOSTILE.glob("*.py")) if SHARED_HOSTILE.is_dir() else []
    own = sorted(OWN_HOSTILE.glob("*.py"))
    cases = [pytest.param(p, id=f"shared/{p.stem}") for p in shared]
    cases += [pytest.param(p, id=f"own/{p.stem}") for p in own]
    return cases


def _expectations(source: str) -> tuple[list[str], bool | None]:
    """The texts the error must contain, and whether it must time out (None: not said)."""
    lines = source.splitlines()
    expected = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("# EXPECT:")]
    if not expected:
        return [], None
    return expected, "# EXPECT-TIMEOUT" in lines


def _request() -> dict[str, Any]:
    return {
        "body": {
            "model": "claude-sonnet-4",
            "max_tokens": 1024,
            "messages": [{"role": "user", "content": "hello"}],
            "system": [{"type": "text", "text": "You are Claude Code."}],
            "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
            "stream": True,
        },
        "headers": {"user-agent": "claude-cli/2.1", "anthropic-version": "2023-06-01"},
        "token_count": 1234,
        "session_id": "session-1",
        "session_usage": None,
        "project": None,
    }


def _config() -> dict[str, Any]:
    return {
        "Providers": [{"name": "openrouter", "models": ["x", "y"]}],
        "Router": {"default": "openrouter,x"},
        "CUSTOM_ROUTER_OPTIONS": {},
    }


@pytest.mark.parametrize("hostile", _cases())
async def test_hostile_script_falls_through_without_leaking_or_hanging(
    hostile: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary_env = "canary-env-" + secrets.token_hex(8)
    canary_key = "sk-canary-" + secrets.token_hex(8)
    monkeypatch.setenv("CCR_CANARY_SECRET", canary_env)
    monkeypatch.setenv("OPENROUTER_API_KEY", canary_key)
    # Where a real server keeps its keys: next to the script.
    (tmp_path / "config.json").write_text(f'{{"APIKEY": "{canary_key}"}}')
    source = hostile.read_text()
    expected, must_time_out = _expectations(source)
    if hostile.parent == OWN_HOSTILE:
        assert expected, "scripts in tests/hostile must say what they expect"
    path = tmp_path / "custom_router.py"
    path.write_text(source)
    req, config = _request(), _config()
    req_before, config_before = copy.deepcopy(req), copy.deepcopy(config)

    script = RouterScript(path, timeout_ms=100, memory_mb=96, check_interval_s=0)
    try:
        await script.start()
        began = time.monotonic()
        result = await script.call(req, config)
        took = time.monotonic() - began

        assert result.value is None
        assert isinstance(result.error, str) and result.error.startswith("custom_router.py")
        for text in expected:
            assert text in result.error
        if must_time_out is not None:
            assert result.timed_out is must_time_out
        assert took < 2.0
        for leaked in (canary_env, canary_key, str(tmp_path)):
            assert leaked not in result.error
            assert leaked not in result.output
        assert (req, config) == (req_before, config_before)

        path.write_text(GOOD_SCRIPT)
        after = await script.call(req, config)
        assert (after.value, after.error) == ("openrouter,x", None)
    finally:
        await script.aclose()


async def test_module_level_state_does_not_survive_between_calls(tmp_path: Path) -> None:
    path = tmp_path / "custom_router.py"
    path.write_text((OWN_HOSTILE / "module_state.py").read_text())
    async with RouterScript(path, timeout_ms=200, workers=1) as script:
        errors = [(await script.call(_request(), _config())).error for _ in range(3)]
    assert errors == ["custom_router.py:9: ValueError: seen 1 call(s)"] * 3


async def test_facade_changes_cannot_reach_the_next_call(tmp_path: Path) -> None:
    path = tmp_path / "custom_router.py"
    path.write_text(
        "import json\n\ndef router(req, config):\n"
        "    if req.token_count == 1:\n"
        "        json.loads = None\n"
        '    return "openrouter," + json.loads(\'"x"\')\n'
    )
    async with RouterScript(path, timeout_ms=200, workers=1, check_interval_s=60) as script:
        first = await script.call({**_request(), "token_count": 1}, _config())
        second = await script.call(_request(), _config())
    assert first.error is not None and "read-only" in first.error
    assert second.value == "openrouter,x"

