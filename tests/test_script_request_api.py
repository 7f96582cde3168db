"""The helpers a router script reads on ``req``, run in a real sandbox worker on Claude Code's
requests: each is read-only, computed only when read, and right on the recorded shapes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ccr.sandbox import RouterScript
from ccr.sandbox.request_api import HELPERS
from ccr.sandbox.router import with_clock
from tests.support.claude_code_requests import SHARED_PROMPTS, later_turn, local, shared

#: Prints every helper as JSON, then falls through.
SHOW_ALL = """
import json

def router(req, config):
    print(json.dumps({
        "prompt": req.prompt, "first_prompt": req.first_prompt,
        "is_tool_result": req.is_tool_result, "is_subagent": req.is_subagent,
        "subagent_type": req.subagent_type, "is_background": req.is_background,
        "requested_model": req.requested_model, "explicit_route": req.explicit_route,
        "thinking": req.thinking, "thinking_budget": req.thinking_budget,
        "has_images": req.has_images, "tool_names": list(req.tool_names),
        "has_web_search": req.has_web_search, "message_count": req.message_count,
        "cwd": req.cwd, "now": req.now.isoformat(), "providers": dict(req.providers),
    }))
    return None
"""


@pytest.fixture
async def show_all(tmp_path: Path) -> AsyncIterator[RouterScript]:
    path = tmp_path / "custom_router.py"
    path.write_text(SHOW_ALL)
    async with RouterScript(path, timeout_ms=1000, workers=1) as script:
        yield script


async def helpers_of(script: RouterScript, recorded: dict[str, Any], **extra: Any
                     ) -> dict[str, Any]:
    req = {"body": recorded["body"], "headers": {k.lower(): v for k, v in
                                                  recorded.get("headers", {}).items()}, **extra}
    result = await script.call(req, {})
    assert result.error is None, result.error
    shown: dict[str, Any] = json.loads(result.output)
    return shown


async def test_every_documented_helper_is_readable(show_all: RouterScript) -> None:
    shown = await helpers_of(show_all, local("plain"))
    assert set(HELPERS) <= set(shown)


async def test_helpers_read_a_first_claude_code_turn(show_all: RouterScript) -> None:
    shown = await helpers_of(show_all, local("plain"))
    assert shown["prompt"] == shown["first_prompt"] == "say hello"
    assert (shown["is_tool_result"], shown["is_subagent"], shown["is_background"]) == (
        False, False, False)
    assert (shown["requested_model"], shown["explicit_route"]) == ("claude-opus-4-8", None)
    assert (shown["thinking"], shown["thinking_budget"]) == ("adaptive", None)
    assert (shown["has_images"], shown["has_web_search"], shown["message_count"]) == (
        False, False, 2)
    assert shown["tool_names"][:2] == ["Agent", "Bash"]
    assert shown["cwd"] == "/home/dev/project"
    assert shown["providers"] == {}


async def test_helpers_read_a_subagent_request(show_all: RouterScript) -> None:
    shown = await helpers_of(show_all, local("subagent"))
    assert (shown["is_subagent"], shown["subagent_type"]) == (True, "general-purpose")
    assert shown["prompt"] == "SUBAGENT: reply with the word hi"


async def test_helpers_read_a_tool_result_turn(show_all: RouterScript) -> None:
    shown = await helpers_of(show_all, local("tool-result"))
    assert shown["is_tool_result"] is True
    assert shown["prompt"] == "TOOLTEST please run echo"


async def test_helpers_read_a_haiku_turn(show_all: RouterScript) -> None:
    shown = await helpers_of(show_all, local("haiku-thinking-enabled"))
    assert shown["is_background"] is True
    assert (shown["thinking"], shown["thinking_budget"]) == ("enabled", 31999)


@pytest.mark.parametrize("name", sorted(SHARED_PROMPTS))
async def test_prompt_is_the_typed_text_on_every_recorded_request(
    show_all: RouterScript, name: str
) -> None:
    shown = await helpers_of(show_all, shared(name))
    assert shown["prompt"] == SHARED_PROMPTS[name]


async def test_now_is_the_time_the_caller_set_with_its_offset(show_all: RouterScript) -> None:
    shown = await helpers_of(show_all, local("plain"), now="2026-12-06T23:30:00+01:00")
    assert shown["now"] == "2026-12-06T23:30:00+01:00"


async def test_now_defaults_to_the_servers_local_time_with_an_offset(
    show_all: RouterScript
) -> None:
    import datetime

    before = datetime.datetime.now().astimezone()
    shown = await helpers_of(show_all, local("plain"))
    now = datetime.datetime.fromisoformat(shown["now"])
    assert now.tzinfo is not None and 0 <= (now - before).total_seconds() < 5


def test_the_host_fills_now_and_providers_only_where_the_caller_did_not() -> None:
    assert with_clock({"body": {}, "now": "2026-01-01T00:00:00+00:00"})["now"] == (
        "2026-01-01T00:00:00+00:00")
    import datetime

    filled = with_clock({"body": {}})
    assert filled["providers"] == {}
    assert datetime.datetime.fromisoformat(filled["now"]).tzinfo is not None


async def test_helpers_are_read_only(tmp_path: Path) -> None:
    path = tmp_path / "custom_router.py"
    path.write_text("def router(req, config):\n    req.prompt = 'x'\n    return None\n")
    async with RouterScript(path, timeout_ms=1000, workers=1) as script:
        result = await script.call({"body": local("plain")["body"]}, {})
    assert result.value is None and result.error is not None
    assert "read-only" in result.error


async def test_an_unknown_field_names_the_helpers_too(tmp_path: Path) -> None:
    path = tmp_path / "custom_router.py"
    path.write_text("def router(req, config):\n    return req.promt\n")
    async with RouterScript(path, timeout_ms=1000, workers=1) as script:
        result = await script.call({"body": local("plain")["body"]}, {})
    assert result.error is not None and "'promt'" in result.error
    assert "prompt" in result.error


async def test_a_script_that_reads_no_helper_never_fetches_the_messages(tmp_path: Path) -> None:
    path = tmp_path / "custom_router.py"
    path.write_text("def router(req, config):\n    return None\n")
    body = local("plain")["body"]
    async with RouterScript(path, timeout_ms=1000, workers=1) as script:
        await script.call({"body": body}, {})
        assert "messages" not in script._hot


async def test_reading_the_prompt_in_a_slash_command_turn(show_all: RouterScript) -> None:
    typed = "<command-name>/review</command-name>\n<command-args>42</command-args>"
    shown = await helpers_of(show_all, later_turn(typed))
    assert (shown["prompt"], shown["first_prompt"]) == ("/review 42", "say hello")
