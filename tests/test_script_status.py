"""``ccr status`` (plain and ``--json``) and ``/health`` show the router script and each user
transformer: file, loaded version, calls, errors, timeouts, the last error with its line, and
whether it is switched off. A script that breaks at run time is visible without the log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cli_helpers import CcrHome, start
from tests.support.fake_upstream import FakeUpstream

pytestmark = pytest.mark.e2e

BREAKS_ON_DIVIDE = """\
def router(req, config):
    if "divide" in req.prompt:
        return 1 / 0
    return None
"""
LOOPS = """\
def router(req, config):
    while True:
        pass
"""


@pytest.fixture
def ccr(tmp_path: Path) -> Iterator[CcrHome]:
    with CcrHome(tmp_path) as home:
        yield home


def serve_with_script(ccr: CcrHome, fake: FakeUpstream, source: str, **extra: Any) -> Path:
    script = ccr.home / "custom_router.py"
    script.write_text(source)
    ccr.write_config({
        "LOG": False, "PORT": ccr.port,
        "Providers": [{"name": "fake", "api_base_url": fake.chat_url, "api_key": "sk-fake",
                       "models": ["fake-model"]}],
        "Router": {"default": "fake,fake-model"},
        "CUSTOM_ROUTER_PATH": str(script), **extra,
    })
    start(ccr)
    return script


def ask(ccr: CcrHome, text: str) -> None:
    response = httpx.post(f"{ccr.url}/v1/messages", trust_env=False, timeout=20, json={
        "model": "claude-sonnet-4", "max_tokens": 10,
        "messages": [{"role": "user", "content": text}]})
    assert response.status_code == 200, response.text


def test_a_runtime_error_in_the_script_shows_in_status(ccr: CcrHome, fake: FakeUpstream) -> None:
    script = serve_with_script(ccr, fake, BREAKS_ON_DIVIDE)
    ask(ccr, "hello")
    ask(ccr, "please divide the work")

    info = json.loads(ccr.run("status", "--json").stdout)
    [router] = info["scripts"]
    assert router["kind"] == "router" and router["path"] == str(script)
    assert router["version"] == 1 and router["load_error"] is None
    assert (router["calls"], router["errors"], router["timeouts"]) == (2, 1, 0)
    assert router["last_error"] == "custom_router.py:3: ZeroDivisionError: division by zero"
    assert router["switched_off"] is False

    plain = ccr.run("status").stdout
    assert "router script:" in plain
    assert "2 calls, 1 errors, 0 timeouts" in plain
    assert "last error: custom_router.py:3: ZeroDivisionError: division by zero" in plain


def test_a_script_switched_off_after_timeouts_says_so(ccr: CcrHome, fake: FakeUpstream) -> None:
    serve_with_script(ccr, fake, LOOPS, CUSTOM_ROUTER_TIMEOUT_MS=50)
    for _ in range(4):
        ask(ccr, "hello")

    [router] = json.loads(ccr.run("status", "--json").stdout)["scripts"]
    assert router["timeouts"] == 3 and router["refused"] == 1
    assert router["switched_off"] is True and router["switched_off_for_s"] > 0
    assert "timed out" in router["last_error"]
    assert "SWITCHED OFF" in ccr.run("status").stdout


def test_health_lists_user_transformers_too(ccr: CcrHome, fake: FakeUpstream) -> None:
    transformer = ccr.home / "shout.py"
    transformer.write_text(
        "class Shout:\n"
        "    name = 'shout'\n"
        "    def transform_request(self, request, ctx):\n"
        "        return request\n")
    serve_with_script(ccr, fake, "def router(req, config):\n    return None\n",
                      transformers=[{"path": str(transformer)}])
    ask(ccr, "hello")
    health = ccr.health()
    assert health is not None
    kinds = {s["kind"]: s for s in health["scripts"]}
    assert set(kinds) == {"router", "transformer"}
    assert kinds["transformer"]["path"] == str(transformer)
    assert kinds["transformer"]["version"] == 1
