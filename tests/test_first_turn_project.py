"""A Claude Code session's first request is routed by its project's override: the project comes
from the working directory in the system prompt, before any transcript exists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import MakeCcr, fake_config
from tests.support.claude_code_requests import local
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway_client import last_chat

PROJECT_FOLDER = "-home-dev-project"  # /home/dev/project, as the recorded requests state it


def send(base_url: str, recorded: dict[str, Any]) -> httpx.Response:
    headers = {k: v for k, v in recorded["headers"].items()
               if k.lower() not in {"content-length", "host", "accept-encoding"}}
    body = {**recorded["body"], "stream": False}
    return httpx.post(f"{base_url}/v1/messages?beta=true", json=body, headers=headers,
                      timeout=20)


def test_first_request_of_a_new_session_is_routed_by_its_projects_override(
    fake: FakeUpstream, make_ccr: MakeCcr, tmp_path: Path
) -> None:
    claude_projects = tmp_path / "claude-projects"  # empty: no transcript of any session yet
    server = make_ccr(fake_config(fake), claude_projects=claude_projects)
    override = server.state.home / PROJECT_FOLDER / "config.json"
    override.parent.mkdir(parents=True)
    override.write_text(json.dumps({"Router": {"default": "fake,fake-model-large"}}))

    response = send(server.base_url, local("plain"))

    assert response.status_code == 200, response.text
    assert last_chat(fake).body["model"] == "fake-model-large"
    assert not any(claude_projects.glob("*/*.jsonl"))


def test_a_request_from_another_folder_keeps_the_global_router(
    fake: FakeUpstream, make_ccr: MakeCcr, tmp_path: Path
) -> None:
    server = make_ccr(fake_config(fake), claude_projects=tmp_path / "claude-projects")
    override = server.state.home / "-home-dev-other" / "config.json"
    override.parent.mkdir(parents=True)
    override.write_text(json.dumps({"Router": {"default": "fake,fake-model-large"}}))

    response = send(server.base_url, local("plain"))

    assert response.status_code == 200, response.text
    assert last_chat(fake).body["model"] == "fake-model"
