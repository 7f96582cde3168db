"""Run ``ccr route --dry-run`` as a user does (a subprocess on request files, with a router
script) and read its rows; shared by the route command, router script and sandbox tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.recorded import recorded

PROJECT = Path(__file__).resolve().parents[2]

#: Providers a typical user config has; a dry run never calls them.
PROVIDERS: list[dict[str, Any]] = [
    {"name": "openrouter", "api_base_url": "http://127.0.0.1:9/api/v1/chat/completions",
     "api_key": "sk-or-test", "models": ["anthropic/claude-sonnet-4", "google/gemini-2.5-pro"]},
    {"name": "deepseek", "api_base_url": "http://127.0.0.1:9/chat/completions",
     "api_key": "sk-ds-test", "models": ["deepseek-chat", "deepseek-reasoner"]},
    {"name": "ollama", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
     "api_key": "ollama", "models": ["qwen2.5-coder:latest"]},
    {"name": "gemini", "api_base_url": "http://127.0.0.1:9/v1beta/models/",
     "api_key": "gm-test", "models": ["gemini-2.5-pro"]},
]
DEFAULT_ROUTE = "openrouter,anthropic/claude-sonnet-4"

def write_config(folder: Path, script: Path | None, *, options: dict[str, Any] | None = None,
                 **extra: Any) -> Path:
    """A config.json in ``folder`` using ``script`` as the router script."""
    config: dict[str, Any] = {
        "Providers": PROVIDERS,
        "Router": {"default": DEFAULT_ROUTE},
        "LOG": False,
    }
    if script is not None:
        config["CUSTOM_ROUTER_PATH"] = str(script)
    if options is not None:
        config["CUSTOM_ROUTER_OPTIONS"] = options
    config.update(extra)
    path = folder / "config.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def write_script(folder: Path, source: str) -> Path:
    """``source`` as ``custom_router.py`` in ``folder``."""
    path = folder / "custom_router.py"
    path.write_text(source)
    return path


def message(text: str | list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A small Anthropic Messages body with one user message."""
    return {"model": "claude-sonnet-4", "max_tokens": 1024,
            "messages": [{"role": "user", "content": text}], **extra}


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def run_route(config: Path, *requests: Path, args: tuple[str, ...] = (),
              env: dict[str, str] | None = None, home: Path | None = None,
              dry_run: str = "--dry-run") -> subprocess.CompletedProcess[str]:
    """``python -m ccr route --dry-run REQUESTS --config CONFIG ARGS`` with HOME/CCR_HOME in a
    private folder (so ``~/.claude/projects`` is the test's own)."""
    home = home or config.parent / "home"
    home.mkdir(parents=True, exist_ok=True)
    environ = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "TZ"}
    environ.update(HOME=str(home), CCR_HOME=str(home / ".claude-code-router"))
    environ.update(env or {})
    command = [sys.executable, "-m", "ccr", "route", dry_run, *map(str, requests),
               "--config", str(config), *args]
    return subprocess.run(command, cwd=PROJECT, env=environ, capture_output=True, text=True,
                          timeout=60)


def route_rows(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The objects ``--json`` printed: one indented object, or one object per line."""
    out = result.stdout.strip()
    assert out, f"no output (status {result.returncode}): {result.stderr}"
    if out.startswith("{\n"):
        return [json.loads(out)]
    return [json.loads(line) for line in out.splitlines()]


def route_one(config: Path, request: Path, *args: str, **kwargs: Any) -> dict[str, Any]:
    result = run_route(config, request, args=("--json", *args), **kwargs)
    rows = route_rows(result)
    assert len(rows) == 1
    return rows[0]


def shared_fixture(name: str) -> dict[str, Any]:
    """A recorded Claude Code request, or its stand-in where the recordings are absent."""
    return recorded(name)
