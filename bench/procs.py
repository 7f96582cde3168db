"""Child servers of the benchmark (fake upstream, ccr, Node.js CCR) and their clean shutdown.

Every child is started through :class:`Children`, which stops them all on exit, exceptions and
Ctrl-C included; on Linux each child is also told to die with the benchmark process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 30.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PR_SET_PDEATHSIG = 1


class ChildFailed(RuntimeError):
    """A child server did not start; the message carries the tail of its log."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the process has used so far (all its threads), or None."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Ask the child to exit with ``sig``; kill it if it is still there after ``timeout``."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


class Children:
    """Starts child processes and guarantees they are all stopped when the block ends."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._children: list[Child] = []

    def __enter__(self) -> Children:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()

    def spawn(
        self,
        name: str,
        command: list[str],
        *,
        env: dict[str, str],
        cwd: Path = PROJECT_ROOT,
        stdout_pipe: bool = False,
    ) -> Child:
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE if stdout_pipe else log,
                stderr=log,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        child = Child(name, process, log_path)
        self._children.append(child)
        return child

    @property
    def running(self) -> list[Child]:
        return [c for c in self._children if c.process.poll() is None]

    def stop_all(self) -> None:
        while self._children:
            child = self._children.pop()
            with contextlib.suppress(Exception):
                if child.process.stdin is not None:
                    child.process.stdin.close()
            child.stop()


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it if the benchmark process dies (Linux only)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hermetic_env(**extra: str) -> dict[str, str]:
    """This environment without proxy settings (loopback must stay loopback), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(extra)
    return env


def read_first_line(child: Child, timeout: float = START_TIMEOUT_S) -> str:
    """The first stdout line of a child started with ``stdout_pipe=True``."""
    stdout = child.process.stdout
    assert stdout is not None
    ready, _, _ = select.select([stdout], [], [], timeout)
    line = stdout.readline().decode().strip() if ready else ""
    if not line:
        raise ChildFailed(f"{child.name} printed nothing within {timeout:g}s:\n{child.log_tail()}")
    return line


def wait_until_healthy(child: Child, url: str, timeout: float = START_TIMEOUT_S) -> None:
    """Poll ``url`` until it answers 200; fail early if the child exits."""
    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise ChildFailed(
                    f"{child.name} exited with code {child.process.returncode}:\n"
                    f"{child.log_tail()}"
                )
            with contextlib.suppress(httpx.TransportError):
                if client.get(url).status_code == 200:
                    return
            time.sleep(0.1)
    raise ChildFailed(f"{child.name} did not answer {url} within {timeout:g}s:\n"
                      f"{child.log_tail()}")


def system_busy_seconds() -> float | None:
    """CPU seconds all processes of the machine have spent busy since boot (from /proc/stat)."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    ticks = [int(v) for v in first[1:9]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / _CLOCK_TICKS


def own_cpu_seconds(children: list[Child]) -> float:
    """CPU seconds of this process, its reaped children and the live ``children``."""
    times = os.times()
    live = sum(c.cpu_seconds() or 0.0 for c in children)
    return times.user + times.system + times.children_user + times.children_system + live
