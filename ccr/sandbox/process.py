"""One sandbox worker process as the server sees it: spawn it clean, exchange lines, kill it.

Workers are started fresh with ``python -I`` and an empty environment (never forked from the
server, so they hold no secrets, sockets or config), in their own session so a terminal's Ctrl-C
reaches only the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ccr.errors import CcrError
from ccr.sandbox.hooks import json_values_bound
from ccr.sandbox.worker import EXIT_DEADLINE

#: The directory that holds the ``ccr`` package, put first on the worker's ``sys.path``.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from ccr.sandbox.worker import main; main(sys.argv[2:])"
)
#: Longest line accepted from a router script's worker (replies are small: capped value, error
#: and output); transformer workers send whole requests back and are given more.
LINE_LIMIT = 1 << 20
#: Environment variables a worker may see: none of the server's, bar the time zone.
_PASSED_ENV = ("TZ",)

Serve = Callable[[str], bytes]


class WorkerDied(CcrError):
    """The worker exited or broke the protocol; ``deadline`` says it ran out of time doing so."""

    def __init__(self, message: str, *, deadline: bool = False) -> None:
        super().__init__(message)
        self.deadline = deadline


class WorkerTimedOut(CcrError):
    """The worker did not answer before the hard deadline and has been killed."""


def worker_env() -> dict[str, str]:
    return {name: os.environ[name] for name in _PASSED_ENV if name in os.environ}


def worker_command(memory_mb: int) -> list[str]:
    """The command line of a worker process (run it with :func:`worker_env` and ``cwd="/"``)."""
    return [sys.executable, "-I", "-c", _BOOT, _PACKAGE_ROOT, str(memory_mb)]


class WorkerProcess:
    """A live worker: one exchange at a time (the pool guarantees that)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self.pid = proc.pid
        #: The script version this worker has compiled, if any.
        self.version: int | None = None

    @classmethod
    async def spawn(cls, memory_mb: int, *, start_timeout_s: float = 15.0,
                    line_limit: int = LINE_LIMIT) -> WorkerProcess:
        proc = await asyncio.create_subprocess_exec(
            *worker_command(memory_mb),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            # Only start-up failures can reach it: a ready worker points fd 2 at /dev/null.
            stderr=asyncio.subprocess.PIPE,
            env=worker_env(),
            cwd="/",
            start_new_session=True,
            limit=line_limit,
        )
        worker = cls(proc)
        try:
            async with asyncio.timeout(start_timeout_s):
                line = await proc.stdout.readline()  # type: ignore[union-attr]
            ready = json.loads(line) if line else {}
        except (TimeoutError, ValueError):
            ready = {}
        if not ready.get("ready"):
            worker.kill()
            await worker.reap()
            why = await worker._startup_complaint()
            raise WorkerDied(
                f"the sandbox process did not start (exit status {proc.returncode}){why}"
            )
        return worker

    async def _startup_complaint(self) -> str:
        """The last line the worker wrote to stderr before dying, if any."""
        if self._proc.stderr is None:
            return ""
        try:
            async with asyncio.timeout(1.0):
                text = (await self._proc.stderr.read(8192)).decode("utf-8", "replace")
        except TimeoutError:
            return ""
        lines = [line for line in text.splitlines() if line.strip()]
        return f": {lines[-1][:200]}" if lines else ""

    @property
    def alive(self) -> bool:
        return self._proc.returncode is None

    async def exchange(self, line: bytes, timeout_s: float, serve: Serve | None = None, *,
                       max_values: int | None = None) -> dict[str, Any]:
        """Send one message and return its reply, answering the worker's ``need`` asks.

        The reply is untrusted: it may hold at most ``max_values`` JSON values (if given), and
        one nested too deeply to decode is a broken protocol, not an exception.
        """
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        try:
            async with asyncio.timeout(timeout_s):
                stdin.write(line)
                await stdin.drain()
                while True:
                    raw = await stdout.readline()
                    if not raw:
                        raise await self._died()
                    if (max_values is not None and len(raw) > max_values
                            and json_values_bound(raw) > max_values):
                        raise ValueError(f"a reply of more than {max_values} values")
                    msg = json.loads(raw)
                    if not isinstance(msg, dict):
                        raise ValueError("reply is not an object")
                    if "need" not in msg:
                        return msg
                    if serve is None:
                        raise ValueError("unexpected request for data")
                    stdin.write(serve(str(msg["need"])))
                    await stdin.drain()
        except TimeoutError:
            self.kill()
            raise WorkerTimedOut from None
        except ConnectionError:
            raise await self._died() from None
        except (ValueError, LookupError, RecursionError) as exc:
            # An over-long, malformed or too deeply nested line, or a key it may not ask for.
            self.kill()
            raise WorkerDied(f"the sandbox process broke the protocol ({exc})") from None

    async def _died(self) -> WorkerDied:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await self._proc.wait()
        if self._proc.returncode is None:
            self.kill()
            await self.reap()
        code = self._proc.returncode
        deadline = code in (EXIT_DEADLINE, -signal.SIGXCPU)
        if code is not None and code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with status {code}"
        return WorkerDied(f"the sandbox process {how}", deadline=deadline)

    def kill(self) -> None:
        """SIGKILL now (and let go of its input); :meth:`reap` collects the exit status later."""
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
        if self._proc.stdin is not None and not self._proc.stdin.is_closing():
            self._proc.stdin.close()

    async def reap(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await self._proc.wait()

    async def close(self) -> None:
        """Ask politely (end of input), then kill."""
        if self._proc.stdin is not None and not self._proc.stdin.is_closing():
            self._proc.stdin.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await self._proc.wait()
        self.kill()
        await self.reap()
