"""The real Claude Code CLI, pointed at a real ``ccr serve``, runs a Bash tool round trip.

Claude Code asks ccr; ccr asks a fake OpenAI upstream, which first calls ``Bash`` and, once the
tool result comes back, answers with the command's output. Nothing is mocked between the CLI and
the upstream, so this is the proof that a conversion Claude Code cannot tell apart works end to
end. The CLI comes from ``CCR_CLAUDE_BIN`` or ``claude`` on PATH; without it the tests skip,
unless ``CCR_REQUIRE_CLI=1`` makes a missing CLI a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.cli_helpers import CLI_VERSION, find_claude
from tests.support.fake_upstream import Call, FakeUpstream, Recorded, Reply, text, tool_calls
from tests.support.serve_process import ServeProcess

pytestmark = [pytest.mark.cli, pytest.mark.e2e]

PROVIDER_KEY = "sk-fake-upstream"
TOOL_OUTPUT = "hi-from-tool"
GREETING = {"command": f"echo {TOOL_OUTPUT}", "description": "Print a greeting"}
SERVER_START_TIMEOUT_S = 15.0
CLI_TIMEOUT_S = 120.0


def _content_text(message: dict[str, Any]) -> str:
    """The text of an OpenAI message whose content is a string or a list of text parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _offers_tool(request: Recorded, name: str) -> bool:
    tools = request.body.get("tools") if isinstance(request.body, dict) else None
    return any(
        isinstance(t, dict) and t.get("function", {}).get("name") == name for t in tools or []
    )


class _GreetingModel:
    """Upstream script: call Bash once, then report what the tool printed.

    Side requests (title generation, quota checks) offer no Bash tool and get a short text.
    """

    def __init__(self) -> None:
        self.issued_call_ids: list[str] = []

    def __call__(self, request: Recorded) -> Reply:
        results = [m for m in request.messages if m.get("role") == "tool"]
        if results:
            return text(f"The command printed: {_content_text(results[-1]).strip()}")
        if not _offers_tool(request, "Bash"):
            return text("ok")
        reply = tool_calls([Call("Bash", GREETING)])
        self.issued_call_ids.extend(reply.tool_call_ids)
        return reply


@dataclass
class _Run:
    """Everything one CLI run left behind, for the tests to examine."""

    cli: subprocess.CompletedProcess[str]
    upstream: FakeUpstream
    model: _GreetingModel

    @property
    def output(self) -> dict[str, Any]:
        try:
            parsed = json.loads(self.cli.stdout)
        except ValueError:
            pytest.fail(f"claude printed no JSON:\n{self.transcript()}", pytrace=False)
        assert isinstance(parsed, dict)
        return parsed

    def transcript(self) -> str:
        return (f"exit code {self.cli.returncode}\n--- stdout\n{self.cli.stdout}\n"
                f"--- stderr\n{self.cli.stderr}")

    def request_with_tool_result(self) -> Recorded:
        for request in self.upstream.chat_requests:
            if any(m.get("role") == "tool" for m in request.messages):
                return request
        pytest.fail("no request to the upstream carried a tool result", pytrace=False)


@pytest.fixture(scope="module")
def ccr_url(tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream) -> Iterator[str]:
    """A ``ccr serve`` subprocess routing every request to the fake upstream."""
    home = tmp_path_factory.mktemp("ccr-home")
    config = {
        "Providers": [{"name": "fake", "api_base_url": upstream.chat_url,
                       "api_key": PROVIDER_KEY, "models": ["fake-model"]}],
        "Router": {"default": "fake,fake-model", "background": "fake,fake-model",
                   "think": "fake,fake-model"},
        "LOG": True,
    }
    config_path = home / "config.json"
    config_path.write_text(json.dumps(config))
    with ServeProcess(home=home, config_path=config_path,
                      start_timeout_s=SERVER_START_TIMEOUT_S) as server:
        yield server.url


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def claude_binary() -> str:
    return find_claude()


@pytest.fixture(scope="module")
def run(
    claude_binary: str,
    tmp_path_factory: pytest.TempPathFactory,
    upstream: FakeUpstream,
    ccr_url: str,
) -> _Run:
    """One ``claude -p`` run through ccr that needs a Bash call to answer."""
    model = _GreetingModel()
    upstream.handler = model
    home = tmp_path_factory.mktemp("claude-home")
    (home / ".claude.json").write_text(json.dumps(
        {"hasCompletedOnboarding": True, "lastOnboardingVersion": CLI_VERSION, "numStartups": 1}))
    workdir = tmp_path_factory.mktemp("claude-workdir")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": ccr_url,
        "ANTHROPIC_AUTH_TOKEN": "test",
        "ANTHROPIC_API_KEY": "",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    command = [claude_binary, "-p", "run the greeting command", "--output-format", "json",
               "--allowedTools", "Bash"]
    try:
        cli = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True,
                             timeout=CLI_TIMEOUT_S, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"claude did not finish within {CLI_TIMEOUT_S}s; stderr:\n{exc.stderr!r}",
                    pytrace=False)
    return _Run(cli=cli, upstream=upstream, model=model)


def test_claude_code_finishes_the_turn_with_the_tool_output(run: _Run) -> None:
    assert run.cli.returncode == 0, run.transcript()
    assert run.output.get("is_error") is not True, run.transcript()
    assert TOOL_OUTPUT in run.output["result"], run.transcript()


def test_upstream_is_asked_again_after_the_tool_ran(run: _Run) -> None:
    assert len(run.upstream.chat_requests) >= 2
    assert run.model.issued_call_ids, "the upstream was never offered the Bash tool"


def test_tool_result_reaches_upstream_under_the_call_id_it_issued(run: _Run) -> None:
    messages = run.request_with_tool_result().messages
    index, result = next((i, m) for i, m in enumerate(messages) if m.get("role") == "tool")
    assert TOOL_OUTPUT in _content_text(result)
    assert result.get("tool_call_id") in run.model.issued_call_ids
    calling = next(m for m in reversed(messages[:index]) if m.get("role") == "assistant")
    calls = {c["id"]: c["function"]["name"] for c in calling.get("tool_calls") or []}
    assert calls.get(result["tool_call_id"]) == "Bash"


def test_upstream_never_sees_billing_header_or_cache_control(run: _Run) -> None:
    for request in run.upstream.chat_requests:
        assert b"x-anthropic-billing-header" not in request.raw
        assert b"cc_entrypoint" not in request.raw
        assert b"cache_control" not in request.raw


def test_upstream_receives_the_provider_key_not_the_client_token(run: _Run) -> None:
    keys = {r.headers.get("authorization") for r in run.upstream.chat_requests}
    assert keys == {f"Bearer {PROVIDER_KEY}"}
