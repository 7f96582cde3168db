"""A user's script as the server sees it: a small pool of sandbox workers in front of it.

The server's event loop never runs script code: every call goes to an idle worker process with
a deadline, a worker that overruns is SIGKILLed and replaced, a script that keeps timing out or
crashing its worker (each costing a fresh process) is switched off for a while, and edits to the
file are picked up (or, if broken, reported while the last good version keeps serving).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from ccr.sandbox.policy import MAX_ERROR_CHARS, truncate
from ccr.sandbox.process import LINE_LIMIT, Serve, WorkerDied, WorkerProcess, WorkerTimedOut
from ccr.sandbox.stats import ScriptStats
from ccr.sandbox.text import clean_error

log = logging.getLogger(__name__)

#: Extra time the server gives a worker past the script's own deadline before killing it.
_GRACE_S = 0.05
#: Extra time for a worker that must compile the script before running it.
_COMPILE_ALLOWANCE_S = 5.0
_RESPAWN_BACKOFF_S = (0.1, 0.5, 1.0, 2.0, 5.0)
#: Extra time a big message buys (the worker parses it before its own deadline starts).
_TRANSFER_BYTES_PER_S = 50_000_000
#: After the sandbox failed to start at all, how long calls report that before trying again.
_RETRY_START_S = 5.0
#: A script whose calls time out or cost a worker process this often within the window (or
#: ``disable_after`` times, if more) is switched off even when good calls come in between: each
#: lost worker is a process to spawn.
_STRIKES_PER_WINDOW = 10
_STRIKE_WINDOW_S = 60.0
JSON_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


@dataclass(frozen=True)
class ScriptVersion:
    """One loaded source text of the script, numbered so workers can tell versions apart."""

    number: int
    source: str


@dataclass
class Trip:
    """One message's round trip through a worker: the reply, or why there is none."""

    reply: dict[str, Any] | None = None
    error: str | None = None
    timed_out: bool = False
    disabled: bool = False


#: Builds a call's message for a script version: the line to send and the ``need`` server.
Build = Callable[[int], tuple[bytes, Serve | None]]


class ScriptPool:
    """A user's script file run in persistent sandbox worker processes: life cycle, loading,
    workers, deadlines and switching off; subclasses say what a call sends and means."""

    #: The longest reply line accepted from a worker.
    line_limit: int = LINE_LIMIT
    #: The least time a call waits for an idle worker before it is answered "busy".
    min_wait_s: float = 0.25
    #: The most JSON values a reply may hold (replies of small scripts are small anyway).
    max_values: int | None = None

    def __init__(
        self,
        path: str | Path,
        *,
        timeout_ms: float = 100,
        memory_mb: int = 256,
        workers: int = 2,
        max_source_bytes: int = 256_000,
        disable_after: int = 3,
        disable_for_s: float = 60.0,
        check_interval_s: float = 0.5,
    ) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self.timeout_ms = float(timeout_ms)
        self.memory_mb = int(memory_mb)
        self.workers = max(1, int(workers))
        self.max_source_bytes = int(max_source_bytes)
        self.disable_after = max(1, int(disable_after))
        self.disable_for_s = float(disable_for_s)
        self.check_interval_s = float(check_interval_s)
        #: The current compile/load problem, if any (the last good version may still serve).
        self.load_error: str | None = None
        self._good: ScriptVersion | None = None
        self._versions = 0
        self._signature: tuple[int, int] | None = None
        self._next_check = 0.0
        self._reloading = False
        self._idle: asyncio.Queue[WorkerProcess] | None = None
        self._workers: set[WorkerProcess] = set()
        #: Background work (reaping, respawning) and, of it, the respawns to cancel on close.
        self._tasks: set[asyncio.Task[None]] = set()
        self._respawns: set[asyncio.Task[None]] = set()
        self._start_task: asyncio.Task[None] | None = None
        self._retry_start_at = 0.0
        self._closed = False
        #: Calls in a row that timed out or cost a worker process (crash, out of memory).
        self._strikes = 0
        self._strikes_all_timeouts = True
        self._last_strike = ""
        #: When the recent strikes happened, good calls in between or not.
        self._strike_times: deque[float] = deque(
            maxlen=max(_STRIKES_PER_WINDOW, self.disable_after))
        self._disabled_until = 0.0
        self._disabled_why = ""
        #: Calls, errors and timeouts since start, and the last error (``status()``).
        self.stats = ScriptStats()

    def status(self) -> dict[str, Any]:
        """The script as ``/health`` and ``ccr status`` show it: file, loaded version, counts,
        the last error and whether it is switched off (and for how much longer)."""
        remaining = self._disabled_until - time.monotonic()
        return {
            "path": str(self.path),
            "version": self._good.number if self._good is not None else None,
            "load_error": self.load_error,
            **self.stats.as_json(),
            "switched_off": remaining > 0,
            "switched_off_for_s": round(remaining, 1) if remaining > 0 else None,
            "switched_off_why": self._disabled_why if remaining > 0 else None,
        }

    # -- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Spawn the workers and load the script; problems land in :attr:`load_error`."""
        if self._start_task is None:
            if time.monotonic() < self._retry_start_at:
                return
            self._closed = False
            self._start_task = asyncio.ensure_future(self._start())
        await asyncio.shield(self._start_task)

    async def _start(self) -> None:
        self._idle = asyncio.Queue()
        spawned = await asyncio.gather(
            *(self._spawn_worker() for _ in range(self.workers)),
            return_exceptions=True,
        )
        failures: list[BaseException] = []
        for item in spawned:
            if isinstance(item, WorkerProcess):
                self._workers.add(item)
                self._idle.put_nowait(item)
            else:
                failures.append(item)
        if not self._workers:
            self.load_error = f"{self.name}: the sandbox could not start ({failures[0]})"
            self._idle, self._start_task = None, None
            self._retry_start_at = time.monotonic() + _RETRY_START_S
            return
        for _ in failures:
            self._spawn_later()
        self._next_check = time.monotonic() + self.check_interval_s
        await self._reload()

    async def aclose(self) -> None:
        """Stop every worker; the object can be started again afterwards."""
        self._closed = True
        start_task, self._start_task = self._start_task, None
        if start_task is not None and not start_task.done():
            start_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await start_task
        for task in self._respawns:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        workers, self._workers = list(self._workers), set()
        await asyncio.gather(*(w.close() for w in workers), return_exceptions=True)
        self._idle = None
        self._signature = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def _round_trip(self, build: Build) -> Trip:
        """Send one message, built for the current version, to an idle worker; check the
        worker's fate (timed out, crashed, recycled) and count it towards switching off."""
        await self.start()
        if self._start_task is None:  # the sandbox could not start
            return Trip(error=self.load_error or f"{self.name}: not started")
        now = time.monotonic()
        if now >= self._next_check and not self._reloading:
            self._next_check = now + self.check_interval_s
            self._reloading = True
            try:
                await self._reload()
            finally:
                self._reloading = False
        if now < self._disabled_until:
            return Trip(error=self._disabled_message(), disabled=True)
        good = self._good
        if good is None:
            return Trip(error=self.load_error or f"{self.name}: not loaded")
        try:
            message, serve = build(good.number)
        except (TypeError, ValueError, RecursionError) as exc:
            return Trip(error=f"{self.name}: the request could not be passed to the script "
                        f"({truncate(str(exc), 120)})")
        worker = await self._acquire()
        if worker is None:
            return Trip(error=self._busy_message())
        if worker.version != good.number:
            error, usable = await self._load_into(worker, good)
            if error is not None:
                if usable:
                    self._release(worker)
                return Trip(error=error)
        deadline = self.timeout_ms / 1000 * 1.5 + _GRACE_S + len(message) / _TRANSFER_BYTES_PER_S
        try:
            reply = await worker.exchange(message, deadline, serve, max_values=self.max_values)
        except WorkerTimedOut:
            self._discard(worker)
            error = (f"{self.name}: timed out after {self.timeout_ms:g} ms "
                     "(the sandbox process was stopped)")
            self._strike(error, timeout=True)
            return Trip(error=error, timed_out=True)
        except WorkerDied as exc:
            self._discard(worker)
            if exc.deadline:
                error = f"{self.name}: timed out after {self.timeout_ms:g} ms"
                self._strike(error, timeout=True)
                return Trip(error=error, timed_out=True)
            error = f"{self.name}: {exc}"
            self._strike(error, timeout=False)
            return Trip(error=error)
        except Exception as exc:  # e.g. its pipe closed under a write: the worker is lost
            self._discard(worker)
            error = f"{self.name}: the sandbox process was lost ({type(exc).__name__}: " \
                f"{truncate(str(exc), 120)})"
            self._strike(error, timeout=False)
            return Trip(error=error)
        except BaseException:  # cancelled mid-exchange: the worker's state is unknown
            self._discard(worker)
            raise
        number = reply.get("v")
        worker.version = number if isinstance(number, int) else None
        recycled = bool(reply.get("recycle"))
        if recycled:
            self._discard(worker)
        else:
            self._release(worker)
        error = reply.get("error")
        error = clean_error(truncate(error, MAX_ERROR_CHARS)) if isinstance(error, str) else None
        if reply.get("timed_out") is True:
            self._strike(error or f"{self.name}: timed out", timeout=True)
        elif recycled:
            self._strike(error or f"{self.name}: the sandbox process had to be replaced",
                         timeout=False)
        else:
            self._strikes, self._strikes_all_timeouts = 0, True
        return Trip(reply=reply)

    def _busy_message(self) -> str:
        return f"{self.name}: router busy (all {self.workers} sandbox workers are in use)"

    def _disabled_message(self) -> str:
        return f"{self.name} disabled for {self.disable_for_s:g}s after {self._disabled_why}"

    def _strike(self, error: str, *, timeout: bool) -> None:
        """Count a call that timed out or cost a worker; enough in a row, or enough within
        :data:`_STRIKE_WINDOW_S` with good calls in between, switch the script off, so a script
        that fails every call (or every other one) does not keep the pool respawning."""
        now = time.monotonic()
        self._strikes += 1
        self._strikes_all_timeouts = self._strikes_all_timeouts and timeout
        self._last_strike = truncate(clean_error(error), 200)
        self._strike_times.append(now)
        if self._strikes >= self.disable_after:
            self._disabled_why = (
                f"{self._strikes} timeouts" if self._strikes_all_timeouts else
                f"{self._strikes} calls in a row crashed or timed out (last: {self._last_strike})"
            )
        elif (len(self._strike_times) == self._strike_times.maxlen
              and now - self._strike_times[0] <= _STRIKE_WINDOW_S):
            self._disabled_why = (
                f"{len(self._strike_times)} calls within {_STRIKE_WINDOW_S:g}s crashed or timed "
                f"out (last: {self._last_strike})"
            )
        else:
            return
        self._disabled_until = now + self.disable_for_s
        self._strike_times.clear()
        log.warning("%s", self._disabled_message())

    def _forgive(self) -> None:
        """A new version starts with a clean record."""
        self._strikes, self._strikes_all_timeouts, self._disabled_until = 0, True, 0.0
        self._strike_times.clear()

    # -- loading ---------------------------------------------------------------------------------

    async def _reload(self) -> None:
        """Load the file if it changed; a broken new version leaves the last good one serving."""
        try:
            changed = self._read_if_changed()
        except _LoadProblem as exc:
            self._set_load_error(str(exc))
            self._signature = None
            return
        if changed is None:
            return
        signature, source = changed
        if self._good is not None and source == self._good.source:
            self._signature, self.load_error = signature, None
            return
        self._versions += 1
        version = ScriptVersion(self._versions, source)
        error = await self._load(version)
        if error is None:
            self._signature = signature
            self._good, self.load_error = version, None
            self._forgive()
        else:
            self._set_load_error(error)
            # A busy or dead sandbox is worth another try; a broken script is not.
            self._signature = signature if error.startswith(f"{self.name}:") else None

    def _set_load_error(self, error: str) -> None:
        """Record a load failure, logging each new one once (requests keep being served by the
        last good version, so nothing else would tell the user)."""
        error = clean_error(error)
        if error != self.load_error:
            serving = "still serving the previous version" if self._good is not None else \
                "the built-in rules decide until it is fixed"
            log.warning("%s; %s", error, serving)
        self.load_error = error

    def _read_if_changed(self) -> tuple[tuple[int, int], str] | None:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            raise _LoadProblem(f"{self.name}: cannot read the script ({exc.strerror})") from None
        signature = (st.st_mtime_ns, st.st_size)
        if signature == self._signature:
            return None
        if st.st_size > self.max_source_bytes:
            raise _LoadProblem(self._too_big(st.st_size))
        try:
            with open(self.path, "rb") as f:
                raw = f.read(self.max_source_bytes + 1)
        except OSError as exc:
            raise _LoadProblem(f"{self.name}: cannot read the script ({exc.strerror})") from None
        if len(raw) > self.max_source_bytes:
            raise _LoadProblem(self._too_big(len(raw)))
        try:
            return signature, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _LoadProblem(
                f"{self.name}: the script is not valid UTF-8 (byte {exc.start})"
            ) from None

    def _too_big(self, size: int) -> str:
        return f"{self.name}: the script is too big ({size} bytes, at most {self.max_source_bytes})"

    async def _load(self, version: ScriptVersion) -> str | None:
        """Compile ``version`` and run its module code once in a worker; the error, or None."""
        worker = await self._acquire()
        if worker is None:
            return f"sandbox busy: {self.name} could not be loaded yet"
        error, usable = await self._load_into(worker, version)
        if usable:
            self._release(worker)
        return error

    def _load_message(self, version: ScriptVersion) -> dict[str, Any]:
        return {"op": "load", "v": version.number, "src": version.source, "name": self.name,
                "t": self.timeout_ms}

    def _loaded(self, reply: Mapping[str, Any]) -> str | None:
        """A successful load reply, checked; the problem with it, or None."""
        return None

    async def _load_into(
        self, worker: WorkerProcess, version: ScriptVersion
    ) -> tuple[str | None, bool]:
        """Load ``version`` into an acquired worker: the error or None, and whether the worker
        is still usable (if not, it has been discarded)."""
        message = self._load_message(version)
        deadline = self.timeout_ms / 1000 * 1.5 + _GRACE_S + _COMPILE_ALLOWANCE_S
        try:
            reply = await worker.exchange(encode_message(message), deadline)
        except WorkerTimedOut:
            self._discard(worker)
            return f"{self.name}: loading the script timed out", False
        except WorkerDied as exc:
            self._discard(worker)
            return f"{self.name}: loading the script failed: {exc}", False
        except BaseException:
            self._discard(worker)
            raise
        number = reply.get("v")
        worker.version = number if isinstance(number, int) else None
        if reply.get("recycle"):
            self._discard(worker)
        usable = not reply.get("recycle")
        if reply.get("ok") is True:
            return self._loaded(reply), usable
        error = reply.get("error")
        text = error if isinstance(error, str) else f"{self.name}: could not be loaded"
        return clean_error(truncate(text, MAX_ERROR_CHARS)), usable

    # -- workers ---------------------------------------------------------------------------------

    async def _spawn_worker(self) -> WorkerProcess:
        return await WorkerProcess.spawn(self.memory_mb, line_limit=self.line_limit)

    async def _acquire(self) -> WorkerProcess | None:
        """An idle live worker, waiting a bounded time when all are busy."""
        idle = self._idle
        if idle is None:
            return None
        wait_s = max(self.timeout_ms * 4 / 1000, self.min_wait_s)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                worker = idle.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                try:
                    async with asyncio.timeout(remaining):
                        worker = await idle.get()
                except TimeoutError:
                    return None
            if worker.alive:
                return worker
            self._discard(worker)

    def _release(self, worker: WorkerProcess) -> None:
        if self._closed or self._idle is None or worker not in self._workers:
            self._track(worker.close())
            return
        self._idle.put_nowait(worker)

    def _discard(self, worker: WorkerProcess) -> None:
        """Kill a worker and start its replacement in the background."""
        worker.kill()
        self._track(worker.reap())
        if worker in self._workers:
            self._workers.discard(worker)
            if not self._closed:
                self._spawn_later()

    def _spawn_later(self) -> None:
        task = self._track(self._respawn())
        self._respawns.add(task)
        task.add_done_callback(self._respawns.discard)

    async def _respawn(self) -> None:
        for attempt in range(1_000_000):
            try:
                worker = await self._spawn_worker()
            except Exception as exc:  # keep trying: a pool without workers serves nobody
                delay = _RESPAWN_BACKOFF_S[min(attempt, len(_RESPAWN_BACKOFF_S) - 1)]
                log.warning("sandbox worker for %s did not start (%s); retrying in %gs",
                            self.name, exc, delay)
                await asyncio.sleep(delay)
                continue
            if self._closed or self._idle is None:
                await worker.close()
                return
            self._workers.add(worker)
            self._idle.put_nowait(worker)
            return

    def _track(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


class _LoadProblem(Exception):
    """The script file cannot be read; the message is the load error."""


def encode_message(message: Mapping[str, Any]) -> bytes:
    return JSON_ENCODER.encode(message).encode() + b"\n"
