"""A user's transformer file as the server sees it: checked once at config load, then run in
a pool of sandbox workers, one round trip per hook call (or per batch of stream chunks).

The check at load is synchronous on purpose: config loading is synchronous, and a broken
transformer file must reject the config (keeping the running one on a reload) rather than
fail requests later. It costs one short-lived worker process per file (~35 ms, in parallel).
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccr.sandbox.hooks import HOOKS, MAX_VALUE_BYTES, MAX_VALUES
from ccr.sandbox.policy import MAX_ERROR_CHARS, MAX_OUTPUT_CHARS, truncate
from ccr.sandbox.pool import ScriptPool, ScriptVersion, Serve, encode_message
from ccr.sandbox.process import worker_command, worker_env
from ccr.sandbox.text import clean_error, clean_output
from ccr.sandbox.worker import EXIT_DEADLINE

#: How long the load check may take on top of the module code's own deadline.
_CHECK_ALLOWANCE_S = 15.0
#: Hooks whose result is one dict (``chunks`` gives a list of them).
_DICT_HOOKS = frozenset({"request", "response"})


@dataclass(frozen=True)
class TransformerFile:
    """One ``transformers`` entry's file, read and ready to check."""

    path: Path
    source: str
    #: The entry's ``options`` as JSON text (every instance parses its own copy).
    options: str
    timeout_ms: float
    memory_mb: int

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class Described:
    """What a file's transformer class is called and which hooks it defines."""

    name: str
    hooks: frozenset[str]


@dataclass(frozen=True)
class HookResult:
    """One round trip's outcome: the new value and state, or ``error`` (file and line)."""

    value: Any = None
    state: dict[str, Any] | None = None
    error: str | None = None
    output: str = ""
    timed_out: bool = False
    disabled: bool = False


def check_files(files: Sequence[TransformerFile]) -> list[Described | str]:
    """Load each file once in its own fresh worker: its description, or the error naming file
    and line. The workers run in parallel and are gone when this returns."""
    started: list[tuple[TransformerFile, subprocess.Popen[bytes] | str]] = []
    for file in files:
        try:
            proc = subprocess.Popen(
                worker_command(file.memory_mb), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, env=worker_env(), cwd="/", start_new_session=True,
            )
        except OSError as exc:
            started.append((file, f"{file.name}: the sandbox could not start ({exc})"))
        else:
            started.append((file, proc))
    return [
        proc if isinstance(proc, str) else _finish_check(file, proc) for file, proc in started
    ]


def _finish_check(file: TransformerFile, proc: subprocess.Popen[bytes]) -> Described | str:
    message = encode_message(_load_message(file, 1, file.source))
    try:
        out, _ = proc.communicate(message, timeout=_CHECK_ALLOWANCE_S + file.timeout_ms / 1000)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return f"{file.name}: loading the transformer timed out"
    lines = out.splitlines()
    reply = _json_object(lines[1]) if len(lines) > 1 else None
    if reply is None:
        if proc.returncode in (EXIT_DEADLINE, -signal.SIGXCPU):
            return f"{file.name}: module code timed out after {file.timeout_ms:g} ms"
        return f"{file.name}: the sandbox process exited while loading (status {proc.returncode})"
    if reply.get("ok") is not True:
        error = reply.get("error")
        if not isinstance(error, str):
            return f"{file.name}: could not be loaded"
        return clean_error(truncate(error, MAX_ERROR_CHARS))
    return _describe(reply, file.name)


def _json_object(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _describe(reply: Mapping[str, Any], filename: str) -> Described | str:
    """A load reply's name and hooks, checked as untrusted data."""
    name, hooks = reply.get("name"), reply.get("hooks")
    if (type(name) is not str or not isinstance(hooks, list)
            or not all(isinstance(h, str) and h in HOOKS for h in hooks)):
        return f"{filename}: the sandbox sent back an invalid description"
    return Described(name, frozenset(hooks))


def _load_message(file: TransformerFile, version: int, source: str) -> dict[str, Any]:
    return {"op": "load", "kind": "transformer", "v": version, "src": source, "name": file.name,
            "t": file.timeout_ms, "options": file.options}


class TransformerScript(ScriptPool):
    """The worker pool of one checked transformer file; :meth:`run` never raises for anything
    the transformer does. The file is not re-read: a config reload loads it anew."""

    #: Hooks send whole requests and responses back.
    line_limit = MAX_VALUE_BYTES + (1 << 20)
    #: The value and the state (which is far smaller), and the reply's own few fields.
    max_values = 2 * MAX_VALUES
    #: A stream must not fail because other streams keep the workers busy for a moment.
    min_wait_s = 2.0

    def __init__(self, file: TransformerFile, described: Described, *, workers: int = 2,
                 disable_after: int = 3, disable_for_s: float = 60.0) -> None:
        super().__init__(file.path, timeout_ms=file.timeout_ms, memory_mb=file.memory_mb,
                         workers=workers, disable_after=disable_after,
                         disable_for_s=disable_for_s, check_interval_s=1.0)
        self.file = file
        self.described = described

    async def run(self, hook: str, data: Any, *, ctx: Mapping[str, Any],
                  state: Mapping[str, Any], options: str, end: bool = False) -> HookResult:
        """One round trip: ``hook`` is ``request`` or ``response`` (``data`` a dict) or
        ``chunks`` (``data`` a list of chunks; ``end`` also flushes ``end_stream``)."""
        result = await self._run_hook(hook, data, ctx=ctx, state=state, options=options,
                                      end=end)
        self.stats.note(result.error, timed_out=result.timed_out, disabled=result.disabled)
        return result

    async def _run_hook(self, hook: str, data: Any, *, ctx: Mapping[str, Any],
                        state: Mapping[str, Any], options: str, end: bool) -> HookResult:

        def build(version: int) -> tuple[bytes, Serve | None]:
            message = {"op": "hook", "v": version, "t": self.timeout_ms, "hook": hook,
                       "end": end, "ctx": ctx, "state": state, "options": options, "data": data}
            return encode_message(message), None

        trip = await self._round_trip(build)
        if trip.reply is None:
            return HookResult(error=trip.error, timed_out=trip.timed_out, disabled=trip.disabled)
        reply = trip.reply
        output = reply.get("output")
        output = clean_output(output[: MAX_OUTPUT_CHARS + 40]) if isinstance(output, str) else ""
        error = reply.get("error")
        if error is not None:
            text = (clean_error(truncate(error, MAX_ERROR_CHARS)) if isinstance(error, str)
                    else f"{self.name}: failed")
            return HookResult(error=text, output=output, timed_out=reply.get("timed_out") is True)
        value, state_out = reply.get("value"), reply.get("state")
        if not _valid(hook, value) or type(state_out) is not dict:
            return HookResult(error=f"{self.name}: the sandbox sent back an invalid result",
                              output=output)
        return HookResult(value=value, state=state_out, output=output)

    # -- the pool's hooks ------------------------------------------------------------------------

    def _read_if_changed(self) -> tuple[tuple[int, int], str] | None:
        """The source checked at load, once: the file on disk is not consulted again."""
        if self._signature is not None:
            return None
        return (0, len(self.file.source)), self.file.source

    def _load_message(self, version: ScriptVersion) -> dict[str, Any]:
        return _load_message(self.file, version.number, version.source)

    def _loaded(self, reply: Mapping[str, Any]) -> str | None:
        described = _describe(reply, self.name)
        if described != self.described:
            return (f"{self.name}: the transformer changed since the config was loaded "
                    "(its module code is not deterministic?)")
        return None

    def _busy_message(self) -> str:
        return f"{self.name}: transformer busy (all {self.workers} sandbox workers are in use)"


def _valid(hook: str, value: Any) -> bool:
    if hook in _DICT_HOOKS:
        return type(value) is dict
    return type(value) is list and all(type(c) is dict for c in value)
