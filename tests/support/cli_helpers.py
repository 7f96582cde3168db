"""Run ccr as a user does (``python -m ccr ...`` with a private ``CCR_HOME``) and kill every
process a test leaves behind; shared by the ``start``/``stop``, ``code`` and ``activate`` tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import httpx
import pytest

from tests.support.ccr_server import free_port


class CcrHome:
    """A temporary ``CCR_HOME`` with a config on a free port, and ccr run as a user runs it."""

    def __init__(self, root: Path) -> None:
        self.home = root / "ccr-home"
        self.home.mkdir()
        self.port = free_port()
        self.config = self.home / "config.json"
        self.write_config({"LOG": False, "PORT": self.port})
        # HOME too: ``ccr code`` writes Claude Code's onboarding flag into ~/.claude.json
        self.env = {**os.environ, "CCR_HOME": str(self.home), "NO_COLOR": "1",
                    "HOME": str(root)}
        self.env.pop("CCR_DEBUG", None)
        self._processes: list[subprocess.Popen[Any]] = []
        self._pids: set[int] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid_path(self) -> Path:
        return self.home / "ccr.pid"

    def write_config(self, config: dict[str, Any]) -> None:
        self.config.write_text(json.dumps(config))

    def run(self, *args: str, timeout: float = 40, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [sys.executable, "-m", "ccr", *args], env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
            )
        finally:
            self.record()  # remember the server pid for cleanup

    def popen(self, command: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start a process in its own group, so cleanup also ends what it started."""
        kwargs.setdefault("env", self.env)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        process = subprocess.Popen(command, process_group=0, **kwargs)
        self._processes.append(process)
        return process

    def record(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.pid_path.read_text())
        except (OSError, ValueError):
            return None
        if isinstance(data, dict) and isinstance(data.get("pid"), int):
            self._pids.add(data["pid"])
        return data

    def write_record(self, pid: int, port: int | None = None) -> None:
        self.pid_path.write_text(json.dumps({
            "pid": pid, "port": port or self.port, "host": "127.0.0.1",
            "started_at": time.time(), "config": str(self.config),
        }))

    def health(self, port: int | None = None) -> dict[str, Any] | None:
        try:
            response = httpx.get(f"http://127.0.0.1:{port or self.port}/health", timeout=1,
                                 trust_env=False)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        for process in self._processes:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
        for pid in self._pids | set(_serve_processes_of(self.home)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _serve_processes_of(home: Path) -> Iterator[int]:
    """Every ``ccr serve`` running with this ``CCR_HOME`` (a safety net for cleanup)."""
    marker = f"CCR_HOME={home}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0") and b"serve" in cmdline.split(b"\0"):
            yield int(entry.name)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_dead(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def start(ccr: CcrHome, *args: str) -> dict[str, Any]:
    """``ccr start``, which must succeed; the PID file's record."""
    result = ccr.run("start", "--config", str(ccr.config), *args)
    assert result.returncode == 0, result.stderr
    record = ccr.record()
    assert record is not None
    return record


#: The Claude Code release the end-to-end tests run (``.ci/run`` installs it).
CLI_VERSION = "2.1.197"


def find_claude() -> str:
    """Path of the Claude Code CLI, or skip (fail when ``CCR_REQUIRE_CLI=1``) without one."""
    configured = os.environ.get("CCR_CLAUDE_BIN")
    found = configured if configured and os.access(configured, os.X_OK) else None
    if configured is None:
        found = shutil.which("claude")
    if found:
        return found
    where = f"CCR_CLAUDE_BIN={configured!r} is not an executable" if configured else (
        "no CCR_CLAUDE_BIN and no `claude` on PATH")
    message = f"Claude Code CLI not available: {where}"
    if os.environ.get("CCR_REQUIRE_CLI") == "1":
        pytest.fail(f"{message} (CCR_REQUIRE_CLI=1 requires it)", pytrace=False)
    pytest.skip(message)
