"""``ccr code``: claude runs through ccr with every argument untouched, and the server it starts
is stopped only by the last ``ccr code`` using it.

A stand-in ``claude`` (a small Python script, set through ``CLAUDE_PATH``) records its argv,
environment and stdin, asks the server's ``/health`` while it runs, and can wait for a file so
that tests decide when each session ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli_helpers import CcrHome, alive, start, wait_dead

pytestmark = pytest.mark.e2e

FAKE_CLAUDE = r'''#!{python}
import json, os, signal, sys, time, urllib.request

record = os.environ["FAKE_CLAUDE_RECORD"]

def on_signal(signum, frame):
    with open(record + ".signal", "w") as f:
        f.write(signal.Signals(signum).name)
    sys.exit(128 + signum)

def count_sigint(signum, frame):  # like claude: Ctrl-C clears the prompt, claude goes on
    with open(record + ".sigints", "a") as f:
        f.write("SIGINT\n")

signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, count_sigint if os.environ.get("FAKE_CLAUDE_KEEP_ON_SIGINT")
              else on_signal)
health = None
try:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))
    with opener.open(os.environ["ANTHROPIC_BASE_URL"] + "/health", timeout=5) as answer:
        health = json.load(answer)
except Exception as exc:
    health = {{"error": repr(exc)}}
with open(record + ".tmp", "w") as f:
    json.dump({{"argv": sys.argv[1:], "env": dict(os.environ), "health": health,
               "stdin": os.readlink("/proc/self/fd/0")}}, f)
os.replace(record + ".tmp", record)
wait = os.environ.get("FAKE_CLAUDE_WAIT")
give_up = time.monotonic() + 60  # never outlive a test that failed to release it
while wait and not os.path.exists(wait) and time.monotonic() < give_up:
    time.sleep(0.02)
sys.exit(int(os.environ.get("FAKE_CLAUDE_EXIT", "0")))
'''


class Claude:
    """The stand-in claude executable and what each of its runs recorded."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "fake-claude"
        self.path.write_text(FAKE_CLAUDE.format(python=sys.executable))
        self.path.chmod(0o755)

    def env(self, name: str = "run", **extra: str) -> dict[str, str]:
        return {"CLAUDE_PATH": str(self.path), "FAKE_CLAUDE_RECORD": str(self.folder / name),
                **extra}

    def recorded(self, name: str = "run", timeout: float = 20) -> dict[str, Any]:
        path = self.folder / name
        deadline = time.monotonic() + timeout
        while not path.exists():
            if time.monotonic() > deadline:
                pytest.fail(f"the stand-in claude {name!r} never ran")
            time.sleep(0.02)
        return json.loads(path.read_text())

    def release(self, name: str) -> None:
        (self.folder / f"{name}.done").touch()

    def sigints(self, name: str = "run") -> int:
        path = self.folder / f"{name}.sigints"
        return len(path.read_text().splitlines()) if path.exists() else 0

    def signal_received(self, name: str = "run") -> str | None:
        path = self.folder / f"{name}.signal"
        return path.read_text() if path.exists() else None


@pytest.fixture
def ccr(tmp_path: Path) -> Iterator[CcrHome]:
    with CcrHome(tmp_path) as home:
        yield home


@pytest.fixture
def claude(tmp_path: Path) -> Claude:
    folder = tmp_path / "claude"
    folder.mkdir()
    return Claude(folder)


def code(ccr: CcrHome, claude: Claude, *args: str, name: str = "run",
         **env: str) -> subprocess.CompletedProcess[str]:
    return ccr.run("code", *args, env=claude.env(name, **env))


def code_in_background(ccr: CcrHome, claude: Claude, name: str,
                       **env: str) -> subprocess.Popen[str]:
    """A ``ccr code`` whose claude keeps running until ``claude.release(name)``."""
    wait = str(claude.folder / f"{name}.done")
    return ccr.popen(
        [sys.executable, "-m", "ccr", "code", "-p", name],
        env={**ccr.env, **claude.env(name, FAKE_CLAUDE_WAIT=wait)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def server_pid_seen_by(claude: Claude, name: str = "run") -> int:
    health = claude.recorded(name)["health"]
    assert "pid" in health, health
    return int(health["pid"])


# --------------------------------------------------------------------------------------------
# Arguments


def test_every_argument_reaches_claude_verbatim(ccr: CcrHome, claude: Claude) -> None:
    args = ["-p", "hello world", "--model", "deepseek,deepseek-chat", "--flag=a=b", "",
            "it's \"quoted\" $HOME \\n", "--debug", "--config", "x.json", "héllo"]
    result = code(ccr, claude, *args)
    assert result.returncode == 0, result.stderr
    assert passed_through(claude.recorded()["argv"]) == args


def passed_through(argv: list[str]) -> list[str]:
    """claude's argv without the ``--settings`` (status line) that ccr code puts first."""
    return argv[2:] if argv[:1] == ["--settings"] else argv


def test_a_double_dash_after_other_arguments_reaches_claude(ccr: CcrHome,
                                                           claude: Claude) -> None:
    args = ["fix it", "--", "--help", "-p"]
    result = code(ccr, claude, *args)
    assert result.returncode == 0, result.stderr
    assert passed_through(claude.recorded()["argv"]) == args


def test_a_leading_double_dash_passes_help_to_claude(ccr: CcrHome, claude: Claude) -> None:
    result = code(ccr, claude, "--", "--help")
    assert result.returncode == 0, result.stderr
    assert passed_through(claude.recorded()["argv"]) == ["--help"]


def test_ccr_code_help_shows_ccr_help_without_running_claude(ccr: CcrHome,
                                                            claude: Claude) -> None:
    result = code(ccr, claude, "--help")
    assert result.returncode == 0
    assert "ccr code -- --help" in result.stdout and "CLAUDE ARGS" in result.stdout
    assert not (claude.folder / "run").exists()
    assert not ccr.pid_path.exists()


# --------------------------------------------------------------------------------------------
# Environment


def test_claude_gets_an_environment_pointing_at_ccr(ccr: CcrHome, claude: Claude) -> None:
    ccr.write_config({"LOG": False, "PORT": ccr.port, "APIKEY": "secret-key",
                      "API_TIMEOUT_MS": 123456})
    result = code(ccr, claude, ANTHROPIC_API_KEY="sk-ant-real", NO_PROXY="corp.example")
    assert result.returncode == 0, result.stderr
    env = claude.recorded()["env"]
    assert env["ANTHROPIC_BASE_URL"] == ccr.url
    assert env["ANTHROPIC_AUTH_TOKEN"] == "secret-key"
    assert env["ANTHROPIC_API_KEY"] == ""
    assert env["API_TIMEOUT_MS"] == "123456"
    assert env["DISABLE_TELEMETRY"] == "1" and env["DISABLE_COST_WARNINGS"] == "1"
    assert env["NO_PROXY"].split(",") == ["corp.example", "127.0.0.1", "localhost"]


def test_without_apikey_the_auth_token_is_ccr(ccr: CcrHome, claude: Claude) -> None:
    result = code(ccr, claude)
    assert result.returncode == 0, result.stderr
    assert claude.recorded()["env"]["ANTHROPIC_AUTH_TOKEN"] == "ccr"


def test_non_interactive_mode_sets_ci_and_gives_claude_no_stdin(ccr: CcrHome,
                                                                claude: Claude) -> None:
    ccr.write_config({"LOG": False, "PORT": ccr.port, "NON_INTERACTIVE_MODE": True})
    stdin = claude.folder / "stdin.txt"
    stdin.write_text("typed input")
    with open(stdin) as typed:
        result = subprocess.run([sys.executable, "-m", "ccr", "code"], stdin=typed,
                                env={**ccr.env, **claude.env()}, capture_output=True,
                                text=True, timeout=40)
    ccr.record()
    assert result.returncode == 0, result.stderr
    recorded = claude.recorded()
    assert recorded["env"]["CI"] == "true" and recorded["env"]["FORCE_COLOR"] == "0"
    assert recorded["stdin"] == "/dev/null"


def test_interactive_mode_passes_stdin_through(ccr: CcrHome, claude: Claude) -> None:
    stdin = claude.folder / "stdin.txt"
    stdin.write_text("typed input")
    with open(stdin) as typed:
        result = subprocess.run([sys.executable, "-m", "ccr", "code"], stdin=typed,
                                env={**ccr.env, **claude.env()}, capture_output=True,
                                text=True, timeout=40)
    ccr.record()
    assert result.returncode == 0, result.stderr
    recorded = claude.recorded()
    assert recorded["stdin"] == str(stdin)
    assert "CI" not in recorded["env"] or recorded["env"]["CI"] == os.environ.get("CI")


# --------------------------------------------------------------------------------------------
# Exit status and signals


def test_ccr_code_exits_with_claudes_exit_code(ccr: CcrHome, claude: Claude) -> None:
    result = code(ccr, claude, FAKE_CLAUDE_EXIT="7")
    assert result.returncode == 7


def test_a_missing_claude_is_a_clear_error_and_starts_nothing(ccr: CcrHome) -> None:
    result = ccr.run("code", env={"CLAUDE_PATH": str(ccr.home / "no-such-claude")})
    assert result.returncode == 127
    assert "cannot find Claude Code" in result.stderr and "hint:" in result.stderr
    assert not ccr.pid_path.exists()


def test_sigterm_to_ccr_code_reaches_claude_and_ccr_code_waits_for_it(
    ccr: CcrHome, claude: Claude,
) -> None:
    session = code_in_background(ccr, claude, "a")
    server = server_pid_seen_by(claude, "a")
    session.send_signal(signal.SIGTERM)
    assert session.wait(20) == 128 + signal.SIGTERM
    assert claude.signal_received("a") == "SIGTERM"
    assert wait_dead(server)  # it started the server, and was the only user


def test_sigint_without_a_terminal_reaches_claude(ccr: CcrHome, claude: Claude) -> None:
    session = code_in_background(ccr, claude, "a")
    claude.recorded("a")
    session.send_signal(signal.SIGINT)
    assert session.wait(20) == 128 + signal.SIGINT
    assert claude.signal_received("a") == "SIGINT"


def test_ctrl_c_in_a_terminal_reaches_claude_once_and_ccr_code_keeps_waiting(
    ccr: CcrHome, claude: Claude,
) -> None:
    pexpect = pytest.importorskip("pexpect")
    wait = claude.folder / "a.done"
    env = {**ccr.env, **claude.env("a", FAKE_CLAUDE_WAIT=str(wait),
                                   FAKE_CLAUDE_KEEP_ON_SIGINT="1")}
    session = pexpect.spawn(sys.executable, ["-m", "ccr", "code"], env=env, timeout=20)
    try:
        server = server_pid_seen_by(claude, "a")
        session.sendintr()  # Ctrl-C: the terminal signals the whole foreground group
        deadline = time.monotonic() + 5
        while claude.sigints("a") == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        assert claude.sigints("a") == 1  # from the terminal only, not forwarded a second time
        assert session.isalive()
        claude.release("a")
        session.expect(pexpect.EOF)
        session.close()
        assert session.exitstatus == 0
        assert wait_dead(server, 5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(session.pid, signal.SIGKILL)  # ccr code and its claude
        session.close(force=True)


# --------------------------------------------------------------------------------------------
# Who starts and who stops the server


def test_ccr_code_starts_the_server_and_stops_it_when_claude_exits(
    ccr: CcrHome, claude: Claude,
) -> None:
    result = code(ccr, claude)
    assert result.returncode == 0, result.stderr
    server = server_pid_seen_by(claude)
    assert wait_dead(server, 5)
    assert not ccr.pid_path.exists()
    assert ccr.health() is None


def test_a_server_started_by_ccr_start_is_never_stopped_by_ccr_code(
    ccr: CcrHome, claude: Claude,
) -> None:
    server = start(ccr)["pid"]
    result = code(ccr, claude)
    assert result.returncode == 0, result.stderr
    assert server_pid_seen_by(claude) == server
    time.sleep(0.2)
    assert alive(server) and ccr.health()["pid"] == server


def test_a_foreground_server_is_used_and_never_stopped(ccr: CcrHome, claude: Claude) -> None:
    server = ccr.popen([sys.executable, "-m", "ccr", "serve"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while ccr.health() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    result = code(ccr, claude)
    assert result.returncode == 0, result.stderr
    assert server_pid_seen_by(claude) == server.pid
    assert server.poll() is None and not ccr.pid_path.exists()


def test_a_second_ccr_code_exiting_does_not_stop_the_server_the_first_uses(
    ccr: CcrHome, claude: Claude,
) -> None:
    first = code_in_background(ccr, claude, "first")
    server = server_pid_seen_by(claude, "first")
    second = code_in_background(ccr, claude, "second")
    assert server_pid_seen_by(claude, "second") == server
    claude.release("second")
    assert second.wait(20) == 0
    time.sleep(0.2)
    assert alive(server) and ccr.health()["pid"] == server
    claude.release("first")
    assert first.wait(20) == 0
    assert wait_dead(server, 5)  # the first started it and was the last to leave
    assert not ccr.pid_path.exists()


def test_when_the_starter_exits_first_the_last_ccr_code_stops_the_server(
    ccr: CcrHome, claude: Claude,
) -> None:
    first = code_in_background(ccr, claude, "first")
    server = server_pid_seen_by(claude, "first")
    second = code_in_background(ccr, claude, "second")
    claude.recorded("second")
    claude.release("first")
    assert first.wait(20) == 0
    time.sleep(0.2)
    assert alive(server)  # still used by the second
    claude.release("second")
    assert second.wait(20) == 0
    assert wait_dead(server, 5)


def test_a_session_entry_of_a_dead_process_does_not_keep_the_server_running(
    ccr: CcrHome, claude: Claude,
) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    session = code_in_background(ccr, claude, "a")
    server = server_pid_seen_by(claude, "a")
    sessions = ccr.home / "code-sessions"
    (sessions / f"{gone.pid}.json").write_text(json.dumps(
        {"pid": gone.pid, "server_pid": server, "started_at": time.time()}))
    claude.release("a")
    assert session.wait(20) == 0
    assert wait_dead(server, 5)
    assert not (sessions / f"{gone.pid}.json").exists()


def test_ccr_start_takes_over_a_server_ccr_code_started(ccr: CcrHome, claude: Claude) -> None:
    session = code_in_background(ccr, claude, "a")
    server = server_pid_seen_by(claude, "a")
    result = ccr.run("start")
    assert result.returncode == 0 and "already running" in result.stdout
    claude.release("a")
    assert session.wait(20) == 0
    time.sleep(0.2)
    assert alive(server) and ccr.health()["pid"] == server


def test_a_running_server_is_used_even_when_this_shell_lacks_a_provider_key_variable(
    ccr: CcrHome, claude: Claude,
) -> None:
    ccr.write_config({"LOG": False, "PORT": ccr.port, "Providers": [{
        "name": "p", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
        "api_key": "$CCR_TEST_PROVIDER_KEY", "models": ["m"]}]})
    started = ccr.run("start", env={"CCR_TEST_PROVIDER_KEY": "sk-test"})
    assert started.returncode == 0, started.stderr
    result = code(ccr, claude)
    assert result.returncode == 0, result.stderr
    assert claude.recorded()["env"]["ANTHROPIC_BASE_URL"] == ccr.url
