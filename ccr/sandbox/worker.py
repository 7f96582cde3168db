"""The sandbox worker: a clean child process that runs a user's script, one call at a time.

The server starts it with ``python -I`` and an empty environment and talks JSON lines over
stdin/stdout (never pickle). Before serving, the worker closes its way to the file system
(RLIMIT_NOFILE), caps its memory (RLIMIT_AS) and CPU (RLIMIT_CPU); each call runs under a
SIGALRM deadline, and the server SIGKILLs a worker that overruns even that. Once a reply is
out, the worker frees what the call made (see :meth:`Worker.tidy`) before it reads the next
message.

Messages in: ``{"op": "load", "v": version, "src": source, "name": file name, "t": timeout_ms}``
(compile, run the module code once, keep the code) and ``{"op": "call", "v": version,
"t": timeout_ms, "req": {...}, "lazy": [body keys], "config": {...}}``. While a call runs, the
worker may ask for a pending body field with ``{"need": key}`` and reads back
``{"key": key, "value": ...}``. A call with ``"fn": "on_error"`` and ``"error": {...}`` runs
the script's optional ``on_error(req, error, config)`` instead (``missing`` in the reply when it
has none). Each message in gets exactly one reply line.

Transformer files use the same worker: ``load`` with ``"kind": "transformer"`` and
``"options": "<JSON text>"`` checks the file's transformer class (the reply names it and its
hooks), and ``{"op": "hook", "v": version, "t": timeout_ms, "hook": "request" | "response" |
"chunks", "data": ..., "end": bool, "ctx": {"provider", "model", "stream"}, "state": {...},
"options": "<JSON text>"}`` runs one round of hooks (see :mod:`ccr.sandbox.hooks`); the reply
carries ``value`` and ``state`` as JSON.
"""

from __future__ import annotations

import gc
import json
import math
import os
import resource
import signal
import sys
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any, BinaryIO

from ccr.sandbox.facades import CacheKeeper, reseed_random
from ccr.sandbox.hooks import describe_class, find_class, run_hooks
from ccr.sandbox.policy import (
    OutputCollector,
    ScriptError,
    compile_script,
    describe_exception,
    new_globals,
    plain_decision,
    script_line,
    transformer_globals,
)
from ccr.sandbox.request_api import Request
from ccr.sandbox.views import PENDING, ReadOnlyDict

#: Exit status of a worker whose script swallowed the deadline exception (bare ``except:``).
EXIT_DEADLINE = 75
#: After the first deadline signal, how soon a second one ends the process.
REFIRE_S = 0.025
#: RLIMIT_CPU headroom per call, in whole seconds (the limit's own granularity).
CPU_HEADROOM_S = 2


class Deadline(BaseException):
    """Raised by SIGALRM inside a running script; not an ``Exception``, so less easily eaten."""


class _ProtocolError(Exception):
    """The conversation with the server is out of step: the worker must not go on."""


#: What runs on the fresh module globals (and the classes the module built, if recorded).
_Act = Callable[[dict[str, Any], Any], dict[str, Any]]


class Worker:
    """The compiled script (one version at a time) and the request/response loop."""

    def __init__(self, inp: BinaryIO, out: BinaryIO) -> None:
        self._in = inp
        self._out = out
        self._version: int | None = None
        self._code: CodeType | None = None
        self._filename = "custom_router.py"
        #: What the loaded file is: a ``router`` script or a ``transformer`` class.
        self._kind = "router"
        self._alarms = 0
        self._in_fetch = False
        self._desynced = False
        self._caches = CacheKeeper()
        #: The last call's module globals, emptied once its reply is out.
        self._leftovers: dict[str, Any] = {}
        #: The oldest generation a garbage collection since the last tidy-up may have moved the
        #: call's objects to; without :meth:`watch_gc`, always assume the oldest.
        self._gc_reach = 2
        self._gc_watched = False

    # -- process-wide deadline -------------------------------------------------------------

    def on_alarm(self, _signum: int, _frame: FrameType | None) -> None:
        self._alarms += 1
        if self._alarms > 1 or self._in_fetch:
            # The script ate the first Deadline (or we are mid-message): start over clean.
            os._exit(EXIT_DEADLINE)
        raise Deadline

    def _arm(self, timeout_ms: float) -> None:
        self._alarms = 0
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu = math.ceil(used.ru_utime + used.ru_stime + timeout_ms / 1000) + CPU_HEADROOM_S
        _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard == resource.RLIM_INFINITY or cpu < hard:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, hard))
        signal.setitimer(signal.ITIMER_REAL, max(timeout_ms, 1) / 1000, REFIRE_S)

    @staticmethod
    def _disarm() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)

    # -- between calls -----------------------------------------------------------------------

    def watch_gc(self) -> None:
        """Note every garbage collection, so that :meth:`tidy` need only collect the
        generations a call's objects can be in (usually the youngest: about a microsecond)."""
        gc.callbacks.append(self._on_gc)
        self._gc_watched = True

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            self._gc_reach = max(self._gc_reach, min(info["generation"] + 1, 2))

    def tidy(self) -> None:
        """Free what the last call made, off the reply's path, so none of it is left for the
        next call: its globals (which its functions refer to, a cycle that would keep the
        module's data alive until the garbage collector happens to run, and a few calls in a row
        could fill the worker's memory that way), the cycles it made (classes always are), and
        module caches it filled (:class:`CacheKeeper`). No script code runs here: the compiler
        refuses the one construct that runs code when collected (see ``policy._Policy``)."""
        self._leftovers.clear()
        self._leftovers = {}
        self._caches.tidy()
        gc.collect(self._gc_reach if self._gc_watched else 2)
        self._gc_reach = 0

    # -- messages ----------------------------------------------------------------------------

    def serve(self) -> None:
        while True:
            line = self._in.readline()
            if not line:
                return
            try:
                msg = json.loads(line)
                op = msg.get("op")
                if op == "load":
                    reply = self.load(msg)
                elif op == "call":
                    reply = self.call(msg)
                elif op == "hook":
                    reply = self.hook(msg)
                else:
                    raise _ProtocolError(f"unknown op {op!r}")
            except _ProtocolError as exc:
                self._send({"error": f"sandbox protocol error: {exc}", "recycle": True})
                return
            self._send(reply)
            if reply.get("recycle"):
                return
            del msg, reply  # the call's data goes now, not while the next call waits
            self.tidy()

    def _send(self, reply: dict[str, Any]) -> None:
        """One reply line; ``raw`` fields are JSON texts already encoded under the deadline."""
        raw: dict[str, bytes] = reply.pop("raw", None) or {}
        line = json.dumps(reply).encode()
        if raw:
            fields = b"".join(b',"' + key.encode() + b'":' + text for key, text in raw.items())
            line = line[:-1] + fields + b"}"
        self._out.write(line + b"\n")
        self._out.flush()

    def _fetch(self, key: str) -> Any:
        """A pending body field, asked of the server while the script waits for it."""
        if self._desynced:
            raise RuntimeError("request data is no longer available")
        self._in_fetch = True
        try:
            self._out.write(json.dumps({"need": key}).encode() + b"\n")
            self._out.flush()
            line = self._in.readline()
        finally:
            self._in_fetch = False
        try:
            answer = json.loads(line)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or answer.get("key") != key:
            self._desynced = True
            raise RuntimeError("request data is no longer available")
        if "error" in answer:
            raise ValueError(f"req.body[{key!r}]: {answer['error']}")
        return answer.get("value")

    # -- script versions ---------------------------------------------------------------------

    def _code_for(self, msg: dict[str, Any], kind: str) -> CodeType:
        version = msg.get("v")
        if "src" in msg:
            self._filename = str(msg.get("name") or self._filename)
            self._version, self._code, self._kind = None, None, kind
            self._code = compile_script(str(msg["src"]), self._filename)
            self._version = version
        if self._code is None or self._version != version or self._kind != kind:
            raise _ProtocolError(f"{kind} version {version} was never sent")
        return self._code

    def load(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Compile a new version and run its module code once, to report problems early."""
        kind = "transformer" if msg.get("kind") == "transformer" else "router"
        try:
            code = self._code_for(msg, kind)
        except ScriptError as exc:
            return {"ok": False, "error": str(exc), "v": None}
        except MemoryError:
            return {"ok": False, "error": f"{self._filename}: MemoryError while compiling",
                    "recycle": True}
        if kind == "transformer":
            options = str(msg.get("options") or "{}")
            act = self._transformer_act(lambda cls: describe_class(cls, self._filename, options))
            outcome = self._run(code, float(msg.get("t", 100)), act, loading=True,
                                make_globals=transformer_globals)
        else:
            outcome = self._run(code, float(msg.get("t", 100)), self._router_act(None),
                                loading=True)
        return {"ok": not outcome.get("error"), "v": self._version, **outcome}

    def hook(self, msg: dict[str, Any]) -> dict[str, Any]:
        """One round of a transformer's hooks on plain JSON data."""
        try:
            code = self._code_for(msg, "transformer")
        except ScriptError as exc:
            return {"error": str(exc), "v": None}
        except MemoryError:
            return {"error": f"{self._filename}: MemoryError while compiling", "recycle": True}
        act = self._transformer_act(lambda cls: run_hooks(cls, self._filename, msg))
        reply = self._run(code, float(msg.get("t", 100)), act, loading=False,
                          make_globals=transformer_globals)
        reply["v"] = self._version
        return reply

    def call(self, msg: dict[str, Any]) -> dict[str, Any]:
        try:
            code = self._code_for(msg, "router")
        except ScriptError as exc:
            return {"error": str(exc), "v": None}
        except MemoryError:
            return {"error": f"{self._filename}: MemoryError while compiling", "recycle": True}
        req_data = msg.get("req") or {}
        body = req_data.get("body")
        if isinstance(body, dict):
            for key in msg.get("lazy") or ():
                body[key] = PENDING
            req_data["body"] = ReadOnlyDict(body, self._fetch)
        config = msg.get("config")
        config_view = ReadOnlyDict(config if isinstance(config, dict) else {})
        if msg.get("fn") == "on_error":
            failure = msg.get("error")
            act = self._on_error_act((Request(req_data), ReadOnlyDict(
                failure if isinstance(failure, dict) else {}), config_view))
        else:
            act = self._router_act((Request(req_data), config_view))
        reply = self._run(code, float(msg.get("t", 100)), act, loading=False)
        reply["v"] = self._version
        return reply

    # -- what runs after the module code ---------------------------------------------------------

    def _router_act(self, args: tuple[Any, Any] | None) -> _Act:
        """``router(*args)`` and its route checked (just that ``router`` exists when no args)."""

        def act(namespace: dict[str, Any], _classes: Any) -> dict[str, Any]:
            router = namespace.get("router")
            if not callable(router):
                return {"error": f"{self._filename}: no router function: "
                        "define def router(req, config)"}
            if args is None:
                return {}
            value, problem = plain_decision(router(*args), self._filename)
            if problem is not None:
                return {"error": problem}
            return {"value": value}

        return act

    def _on_error_act(self, args: tuple[Any, Any, Any]) -> _Act:
        """``on_error(req, error, config)`` when the script defines it (else ``missing``)."""

        def act(namespace: dict[str, Any], _classes: Any) -> dict[str, Any]:
            hook = namespace.get("on_error")
            if not callable(hook):
                return {"missing": True}
            value, problem = plain_decision(hook(*args), self._filename, "on_error")
            if problem is None and isinstance(value, dict):
                value = value.get("route")
            if problem is not None:
                return {"error": problem}
            return {"value": value}

        return act

    def _transformer_act(self, then: Callable[[type], dict[str, Any]]) -> _Act:
        """Find the file's transformer class, then ``then(cls)``; contract problems are
        reported as phrased, not as exceptions."""

        def act(namespace: dict[str, Any], classes: Any) -> dict[str, Any]:
            try:
                return then(find_class(namespace, classes, self._filename))
            except ScriptError as exc:
                return {"error": str(exc)}

        return act

    # -- running -----------------------------------------------------------------------------

    def _run(
        self, code: CodeType, timeout_ms: float, act: _Act, *, loading: bool,
        make_globals: Callable[[OutputCollector], Any] | None = None,
    ) -> dict[str, Any]:
        """Module code into fresh globals, then ``act`` on them, all under the deadline; the
        globals are kept for :meth:`tidy`."""
        output = OutputCollector()
        self._desynced = False
        reseed_random()
        result: dict[str, Any]
        namespace: dict[str, Any] = {}
        try:
            self._arm(timeout_ms)
            try:
                if make_globals is None:
                    namespace, classes = new_globals(output), None
                else:
                    namespace, classes = make_globals(output)
                result = self._attempt(code, namespace, classes, act)
            finally:
                self._disarm()
        except Deadline as exc:
            result = {"line": script_line(exc.__traceback__, self._filename)}
        self._leftovers = namespace
        line = result.pop("line", None)
        if self._alarms:
            what = "module code timed out" if loading else "timed out"
            at = f":{line}" if line else ""
            result = {
                "error": f"{self._filename}{at}: {what} after {timeout_ms:g} ms",
                "timed_out": True,
                "recycle": self._desynced,
            }
        try:
            result["output"] = output.text()
        except MemoryError:
            result["output"] = ""
        return result

    def _attempt(
        self, code: CodeType, namespace: dict[str, Any], classes: Any, act: _Act
    ) -> dict[str, Any]:
        try:
            exec(code, namespace)
            return act(namespace, classes)
        except Deadline:
            raise
        except BaseException as exc:  # the script may raise anything; the worker carries on
            return {
                "error": describe_exception(exc, self._filename),
                "line": script_line(exc.__traceback__, self._filename),
                "recycle": isinstance(exc, MemoryError) or self._desynced,
            }


def _warm_up() -> None:
    """Touch everything that loads lazily (modules, time zone data) before files are closed."""
    import _strptime  # type: ignore[import-not-found]  # noqa: F401 - strptime loads it lazily
    import datetime
    import re
    import time

    time.localtime()
    datetime.datetime.now().astimezone()
    datetime.datetime.strptime("2024-01-02 03:04", "%Y-%m-%d %H:%M")
    re.compile(r"(?i)warm\s+up").search("Warm up")
    json.dumps(json.loads('{"a": [1, 2.5, "x", null, true]}'), indent=1, sort_keys=True)
    compile_script("def router(req, config):\n    return None\n", "warmup.py")


def _seal_process(memory_mb: int) -> BinaryIO:
    """Keep stdin and a private copy of stdout; then no new files, processes or big memory."""
    out_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    # Dispositions and the blocked-signal mask survive exec: undo whatever the server had.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM, signal.SIGXCPU})
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limits = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, 0),
        (resource.RLIMIT_NPROC, 0),
        (resource.RLIMIT_NOFILE, out_fd + 1),
        (resource.RLIMIT_AS, memory_mb * 1024 * 1024),
    ]
    for which, value in limits:
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass
    return os.fdopen(out_fd, "wb")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    memory_mb = int(args[0]) if args else 256
    _warm_up()
    out = _seal_process(memory_mb)
    # What start-up made lives as long as the process: collections between calls skip it.
    gc.freeze()
    worker = Worker(sys.stdin.buffer, out)
    worker.watch_gc()
    signal.signal(signal.SIGALRM, worker.on_alarm)
    out.write(json.dumps({"ready": True, "pid": os.getpid()}).encode() + b"\n")
    out.flush()
    try:
        worker.serve()
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    finally:
        os._exit(0)
