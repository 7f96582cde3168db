"""ccr as a background service: the PID file, starting and stopping ``ccr serve``, liveness.

Everything here is plain logic over files, processes and one HTTP probe, so the CLI commands
(``ccr start/stop/status/code``) stay thin and the rules are testable on their own:

* a PID file that does not describe a live ``ccr serve`` (dead pid, or a pid reused by another
  program) is stale and never blocks anything;
* a server is started detached (new session, stdin from /dev/null, output appended to a file),
  never tied to pipes that could fill up;
* a server started by ``ccr code`` is stopped by the last ``ccr code`` still using it, and a
  server started by ``ccr start`` (or run in the foreground) is never stopped by ``ccr code``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeGuard

from ccr.errors import CcrError
from ccr.service.localhttp import http_get

PID_FILE_NAME = "ccr.pid"
LOCK_FILE_NAME = "ccr.lock"
SERVE_OUTPUT = Path("logs") / "serve.out"
SESSIONS_DIR_NAME = "code-sessions"

DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000  # as ccr.config.model (not imported: kept light)
#: How long ``ccr start`` waits for ``/health`` to answer.
START_TIMEOUT_S = 15.0
#: Extra time ``ccr stop`` gives the server past its own shutdown deadline before SIGKILL.
STOP_MARGIN_S = 5.0
#: ``serve.out`` is rotated (one old copy kept) when a start finds it larger than this.
SERVE_OUTPUT_MAX_BYTES = 5 * 1024 * 1024

#: Who started the server: ``ccr start`` (stays until ``ccr stop``) or ``ccr code``.
OWNER_START = "start"
OWNER_CODE = "code"

Progress = Callable[[str], AbstractContextManager[Any]]


class DaemonError(CcrError):
    """A failure the user can act on: what went wrong and a hint what to do."""

    def __init__(self, message: str, hint: str, *, output: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        #: The last lines the server printed, when it died or never answered.
        self.output = output


class PortInUse(DaemonError):
    pass


# --------------------------------------------------------------------------------------------
# Addresses and settings


def connect_host(host: str) -> str:
    """The address a client uses to reach a server listening on ``host``."""
    if host in ("", "0.0.0.0", "*"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def base_url(host: str, port: int) -> str:
    """``http://host:port`` for clients (wildcard addresses become loopback, IPv6 bracketed)."""
    target = connect_host(host)
    if ":" in target and not target.startswith("["):
        target = f"[{target}]"
    return f"http://{target}:{port}"


def _config_shutdown_timeout_ms(config_path: str | None) -> int:
    """How long the server was told to let streams finish, from its config file (the default
    when the file cannot be loaded now: a stop must not fail over it)."""
    if not config_path:
        return DEFAULT_SHUTDOWN_TIMEOUT_MS
    from ccr.config import load_config
    from ccr.errors import ConfigError

    try:
        return load_config(config_path).shutdown_timeout_ms
    except ConfigError:
        return DEFAULT_SHUTDOWN_TIMEOUT_MS


# --------------------------------------------------------------------------------------------
# The PID file


@dataclass(frozen=True)
class ServerRecord:
    """What ``<CCR_HOME>/ccr.pid`` says about the background server."""

    pid: int
    port: int
    host: str
    started_at: float
    config: str | None
    owner: str = OWNER_START

    @property
    def url(self) -> str:
        return base_url(self.host, self.port)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ServerRecord | None:
        """The record, or None for anything that is not one (a legacy bare pid, junk)."""
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        pid, port = data.get("pid"), data.get("port")
        if not _positive_int(pid) or not _positive_int(port):
            return None
        started = data.get("started_at")
        config = data.get("config")
        owner = data.get("owner")
        return cls(
            pid=pid, port=port, host=str(data.get("host") or "127.0.0.1"),
            started_at=float(started) if isinstance(started, int | float) else 0.0,
            config=config if isinstance(config, str) and config else None,
            owner=OWNER_CODE if owner == OWNER_CODE else OWNER_START,
        )


def _positive_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def pid_file(home: Path) -> Path:
    return home / PID_FILE_NAME


def read_record(home: Path) -> ServerRecord | None:
    try:
        text = pid_file(home).read_text(encoding="utf-8")
    except OSError:
        return None
    return ServerRecord.from_json(text)


def write_record(home: Path, record: ServerRecord) -> None:
    _write_atomic(pid_file(home), record.to_json())


def remove_record(home: Path, *, pid: int | None = None) -> bool:
    """Delete the PID file; with ``pid``, only when it still names that process."""
    path = pid_file(home)
    if pid is not None:
        current = read_record(home)
        if current is None or current.pid != pid:
            return False
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        return True
    return False


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def lock(home: Path, timeout_s: float = 60.0) -> Iterator[None]:
    """Serialise start/stop decisions across ccr processes (two ``ccr code`` at once)."""
    home.mkdir(parents=True, exist_ok=True)
    fd = os.open(home / LOCK_FILE_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DaemonError(
                        f"another ccr command has held {home / LOCK_FILE_NAME} for "
                        f"{timeout_s:.0f} s", "wait for it to finish, or end it",
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------------
# Processes

#: Servers this process started, so it can reap them (a dead child is a zombie until reaped).
_children: dict[int, subprocess.Popen[bytes]] = {}


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (zombies count as dead; our own children are reaped)."""
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _proc_state(pid) != "Z"


def _proc_stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` after the command name (which may contain spaces), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _proc_state(pid: int) -> str | None:
    fields = _proc_stat_fields(pid)
    return fields[0] if fields else None


def process_start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot): tells a process from a later one that
    reused its pid. None where /proc is not available."""
    fields = _proc_stat_fields(pid)
    try:
        return int(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def process_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_serve_command(argv: list[str]) -> bool:
    """Whether a command line runs ``ccr serve`` (``ccr serve``, ``python -m ccr serve``)."""
    return "serve" in argv and any("ccr" in Path(arg).name for arg in argv)


def fetch_health(host: str, port: int, timeout_s: float = 1.0, *,
                 apikey: str | None = None) -> dict[str, Any] | None:
    """``GET /health`` of a ccr server (no proxies involved), or None when nothing answers.

    A server with an ``APIKEY`` shows its details (pid, version, config) only to a client that
    sends the key, so pass ``apikey`` from the config it runs on.
    """
    headers = {"x-api-key": apikey} if apikey else {}
    try:
        status, body = http_get(connect_host(host), port, "/health", headers, timeout_s)
        if status != 200:
            return None
        data = json.loads(body)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "pid" in data and "version" in data else None


def is_our_server(record: ServerRecord) -> bool:
    """Whether the recorded pid is still that ccr server, not a dead or reused pid."""
    if not pid_alive(record.pid):
        return False
    argv = process_cmdline(record.pid)
    if argv is not None:
        return is_serve_command(argv)
    health = fetch_health(record.host, record.port)
    return health is not None and health.get("pid") == record.pid


def running_server(home: Path) -> ServerRecord | None:
    """The background server the PID file describes, if it is really running."""
    record = read_record(home)
    if record is not None and is_our_server(record):
        return record
    return None


def wait_exit(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


# --------------------------------------------------------------------------------------------
# Starting


def check_port_free(host: str, port: int, apikey: str | None = None) -> None:
    """Raise :class:`PortInUse` when another program listens on ``host:port``."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise DaemonError(f"cannot resolve the listen address {host!r}: {exc.strerror}",
                          "set HOST in the config (or --host) to an address of this machine",
                          ) from None
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise _port_in_use(host, port, apikey) from None
                if exc.errno == errno.EADDRNOTAVAIL:
                    raise DaemonError(
                        f"cannot listen on {host}: not an address of this machine",
                        "set HOST in the config (or --host) to 127.0.0.1 or an address of "
                        "this machine") from None
                raise


def _answers_as_ccr(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """Whether a ccr server answers there (``GET /`` is open even when a key is required)."""
    try:
        status, body = http_get(connect_host(host), port, "/", {}, timeout_s)
        data = json.loads(body) if status == 200 else None
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("name") == "ccr"


def _port_in_use(host: str, port: int, apikey: str | None = None) -> PortInUse:
    health = fetch_health(host, port, apikey=apikey)
    if health is not None or _answers_as_ccr(host, port):
        pid = f"pid {health.get('pid')}, " if health is not None else ""
        who = f"another ccr server ({pid}not started by `ccr start`)"
        hint = (f"stop that server, or choose another port with --port (or PORT in the config); "
                f"it answers at {base_url(host, port)}")
    else:
        who = "another program"
        hint = (f"stop the program using port {port} (`ss -ltnp 'sport = :{port}'` shows it), "
                "or choose another port with --port (or PORT in the config)")
    return PortInUse(f"port {port} on {host} is already in use by {who}", hint)


@dataclass(frozen=True)
class StartResult:
    record: ServerRecord
    #: False when a server was already running (nothing was started).
    started: bool


def start_server(
    home: Path,
    *,
    host: str,
    port: int,
    config_path: Path | None,
    owner: str = OWNER_START,
    timeout_s: float = START_TIMEOUT_S,
    progress: Progress | None = None,
    apikey: str | None = None,
) -> StartResult:
    """Start ``ccr serve`` in the background unless one is running; wait for ``/health``.

    Call it under :func:`lock`. A stale PID file is replaced. ``ccr start`` on a server that
    ``ccr code`` started takes it over (it then stays until ``ccr stop``).
    """
    current = read_record(home)
    if current is not None and is_our_server(current):
        if owner == OWNER_START and current.owner != OWNER_START:
            current = ServerRecord(**{**asdict(current), "owner": OWNER_START})
            write_record(home, current)
        return StartResult(current, started=False)
    if current is not None:
        remove_record(home)
    check_port_free(host, port, apikey)
    output = home / SERVE_OUTPUT
    offset = _prepare_output(output)
    process = _spawn(home, host=host, port=port, config_path=config_path, output=output)
    record = ServerRecord(
        pid=process.pid, port=port, host=host, started_at=round(time.time(), 3),
        config=str(config_path) if config_path else None, owner=owner,
    )
    try:
        write_record(home, record)
        waiting = progress(f"Starting ccr on {record.url}") if progress else (
            contextlib.nullcontext())
        with waiting:
            _wait_ready(process, record, output, offset, timeout_s, apikey)
    except BaseException:
        _kill(process)
        remove_record(home, pid=process.pid)
        raise
    return StartResult(record, started=True)


def _prepare_output(path: Path) -> int:
    """Rotate an oversized ``serve.out``; the offset where this start's output begins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if path.stat().st_size > SERVE_OUTPUT_MAX_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _spawn(home: Path, *, host: str, port: int, config_path: Path | None,
           output: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "ccr", "serve", "--host", host, "--port", str(port)]
    if config_path is not None:
        command += ["--config", str(config_path)]
    env = {**os.environ, "CCR_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    with open(output, "ab") as out:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        out.write(f"--- {stamp} ccr start: ccr {' '.join(command[3:])}\n".encode())
        out.flush()
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, env=env,
        )
    _children[process.pid] = process
    return process


def _wait_ready(process: subprocess.Popen[bytes], record: ServerRecord, output: Path,
                offset: int, timeout_s: float, apikey: str | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        code = process.poll()
        if code is not None:
            raise DaemonError(
                f"the server exited during startup (exit code {code})",
                f"fix the problem above and run the command again (full output: {output})",
                output=tail(output, offset),
            )
        health = fetch_health(record.host, record.port, timeout_s=0.5, apikey=apikey)
        if health is not None and health.get("pid") == process.pid:
            return
        if time.monotonic() >= deadline:
            raise DaemonError(
                f"the server did not answer on {record.url}/health within {timeout_s:.0f} s",
                f"see its output above (full output: {output}); try `ccr serve` to run it in "
                "the foreground", output=tail(output, offset),
            )
        time.sleep(0.1)


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(3)


def tail(path: Path, offset: int = 0, lines: int = 20) -> str:
    """The last ``lines`` lines written to ``path`` after ``offset``."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# Stopping


@dataclass(frozen=True)
class StopResult:
    #: ``not-running``, ``stale`` (a PID file was removed), ``stopped`` or ``killed``.
    outcome: str
    record: ServerRecord | None = None


def stop_timeout_s(record: ServerRecord) -> float:
    """How long to wait after SIGTERM: the server's own shutdown deadline plus a margin."""
    return _config_shutdown_timeout_ms(record.config) / 1000 + STOP_MARGIN_S


def stop_server(home: Path, *, timeout_s: float | None = None,
                progress: Progress | None = None) -> StopResult:
    """SIGTERM the recorded server (only if it is ours), SIGKILL it after the deadline.

    Call it under :func:`lock`.
    """
    record = read_record(home)
    if record is None:
        if pid_file(home).exists():
            remove_record(home)
            return StopResult("stale")
        return StopResult("not-running")
    if not is_our_server(record):
        remove_record(home)
        return StopResult("stale", record)
    wait_s = stop_timeout_s(record) if timeout_s is None else timeout_s
    outcome = "stopped"
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGTERM)
    waiting = progress(f"Stopping ccr (pid {record.pid})") if progress else (
        contextlib.nullcontext())
    with waiting:
        if not wait_exit(record.pid, wait_s):
            outcome = "killed"
            with contextlib.suppress(ProcessLookupError):
                os.kill(record.pid, signal.SIGKILL)
            wait_exit(record.pid, 5.0)
    _children.pop(record.pid, None)
    remove_record(home, pid=record.pid)
    return StopResult(outcome, record)


# --------------------------------------------------------------------------------------------
# ``ccr code`` sessions: who still uses a server


@dataclass(frozen=True)
class CodeSession:
    pid: int
    server_pid: int
    started_at: float
    #: :func:`process_start_ticks` of ``pid``, to ignore a later process reusing the pid.
    ticks: int | None = None


def sessions_dir(home: Path) -> Path:
    return home / SESSIONS_DIR_NAME


def register_session(home: Path, server_pid: int, pid: int | None = None) -> CodeSession:
    """Record that process ``pid`` (default: this one) uses the server ``server_pid``."""
    pid = os.getpid() if pid is None else pid
    session = CodeSession(pid=pid, server_pid=server_pid, started_at=round(time.time(), 3),
                          ticks=process_start_ticks(pid))
    _write_atomic(sessions_dir(home) / f"{pid}.json", json.dumps(asdict(session)) + "\n")
    return session


def unregister_session(home: Path, pid: int | None = None) -> None:
    with contextlib.suppress(FileNotFoundError):
        (sessions_dir(home) / f"{os.getpid() if pid is None else pid}.json").unlink()


def live_sessions(home: Path, server_pid: int | None = None) -> list[CodeSession]:
    """Running ``ccr code`` processes (of ``server_pid`` if given); stale entries are removed."""
    found = []
    folder = sessions_dir(home)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        session = _read_session(path)
        if session is None or not _session_alive(session):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        if server_pid is None or session.server_pid == server_pid:
            found.append(session)
    return found


def _read_session(path: Path) -> CodeSession | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        session = CodeSession(
            pid=int(data["pid"]), server_pid=int(data["server_pid"]),
            started_at=float(data.get("started_at") or 0),
            ticks=data["ticks"] if isinstance(data.get("ticks"), int) else None,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return session


def _session_alive(session: CodeSession) -> bool:
    if not pid_alive(session.pid):
        return False
    ticks = process_start_ticks(session.pid)
    return session.ticks is None or ticks is None or ticks == session.ticks


def release_server(home: Path, server_pid: int, *, pid: int | None = None,
                   progress: Progress | None = None) -> StopResult | None:
    """A ``ccr code`` is done with ``server_pid``: unregister it, and stop the server when
    ``ccr code`` started it and no other ``ccr code`` still uses it. Call it under :func:`lock`.

    Returns the stop result, or None when the server was left running.
    """
    unregister_session(home, pid)
    record = read_record(home)
    if record is None or record.pid != server_pid or record.owner != OWNER_CODE:
        return None
    if live_sessions(home, server_pid):
        return None
    return stop_server(home, progress=progress)
