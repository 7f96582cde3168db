"""``ccr serve``: run the router in the foreground (containers, systemd, CI).

SIGTERM or SIGINT shut it down gracefully: the listening socket closes at once (new connections
are refused), requests already in flight, streams included, may finish until the deadline
``SHUTDOWN_TIMEOUT_MS`` (default 10 s), then whatever is still open is cut and the process exits
with status 0. A second signal cuts the wait short.

The server loop is driven here rather than by ``Sanic.run``: in single-process mode Sanic closes
idle connections once, then waits ``GRACEFUL_SHUTDOWN_TIMEOUT`` while *any* connection is open,
and a connection whose stream finished during that wait stays open as keep-alive, so every
shutdown with a stream in flight would take the whole deadline. Here connections are closed as
soon as they turn idle, and the process exits when the last stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from ccr.cli.options import ConfigOption, DebugOption, HostOption, PortOption
from ccr.config import ccr_home, is_loopback_host, load_config
from ccr.errors import ConfigError
from ccr.process import worker_count, worker_number
from ccr.service.workers import Supervisor, listening_socket, resolve_workers, worker_command

__all__ = ["ConfigOption", "register", "serve"]  # ConfigOption: still imported from here

log = logging.getLogger("ccr")

#: How long connections cut at the deadline get to run their cleanup before the process ends.
_ABORT_GRACE_S = 1.0
_DRAIN_POLL_S = 0.05


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    config: ConfigOption = None,
    host: HostOption = None,
    port: PortOption = None,
    debug: DebugOption = False,
    workers: Annotated[int | None, typer.Option(
        help="Server processes sharing the port (overrides WORKERS; 0 = one per core).",
        min=0)] = None,
) -> None:
    """Run ccr in the foreground (SIGTERM/Ctrl-C let open streams finish, then exit).

    Example: ccr serve --port 3456 --config ~/.claude-code-router/config.json
    """
    from ccr.context.stores import Stores
    from ccr.engine.engine import Engine, no_provider_message
    from ccr.logs import setup_logging
    from ccr.server.app import create_app
    from ccr.server.gateway import Gateway
    from ccr.server.state import AppState
    from ccr.service.daemon import DaemonError, check_port_free, remove_record

    debug = debug or os.environ.get("CCR_DEBUG", "").strip().lower() in ("1", "true", "yes")
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        _config_failed(exc, debug)
    bind_host = host or cfg.host
    bind_port = port or cfg.port
    if not cfg.apikey and not cfg.has_client_keys and not is_loopback_host(bind_host):
        typer.echo(
            f"ccr: refusing to listen on {bind_host} without APIKEY: anyone who can reach it "
            "could spend your provider credits. Set APIKEY in the config, or listen on 127.0.0.1.",
            err=True,
        )
        raise typer.Exit(2)
    try:  # before the sandboxes start: a busy port is named at once, as `ccr start` names it
        if worker_number() is None:  # a worker shares the port with its siblings
            check_port_free(bind_host, bind_port, cfg.apikey)
    except DaemonError as exc:
        typer.echo(f"ccr: {exc.message}\nhint: {exc.hint}", err=True)
        raise typer.Exit(1) from None
    try:
        engine = Engine.build(cfg, stores=Stores.for_home(ccr_home()))
    except ConfigError as exc:
        _config_failed(exc, debug)
    home = ccr_home()
    setup_logging(home=home, enabled=cfg.log, level=cfg.log_level)
    for key_path, message in cfg.warnings:
        log.warning("config: %s: %s", key_path, message)
    count = resolve_workers(workers, cfg.workers)
    if count > 1 and worker_number() is None:
        raise typer.Exit(_supervise(config, home, bind_host, bind_port, count))
    state = AppState(engine=engine, home=home)
    # workers sharing the port share state (SQLite under CCR_HOME unless STATE names one)
    app = create_app(state, name="ccr",
                     gateway=Gateway.for_config(cfg, home, workers=worker_count()))
    source = str(cfg.path) if cfg.path else "built-in defaults (no config file)"

    def ready() -> None:
        log.info("ccr listening on http://%s:%d (pid %d, config: %s)", bind_host, bind_port,
                 os.getpid(), source)
        if not cfg.has_providers:
            log.warning(no_provider_message(cfg))

    try:
        sock = (listening_socket(bind_host, bind_port, reuse_port=True)
                if worker_number() is not None else None)
        _run(_serve_until_signalled(app, state, bind_host, bind_port, ready, sock=sock))
    except OSError as exc:
        typer.echo(f"ccr: cannot listen on {bind_host}:{bind_port}: {exc.strerror or exc}",
                   err=True)
        sys.exit(1)
    finally:
        # A PID file ``ccr start`` wrote for this process is stale from now on.
        remove_record(home, pid=os.getpid())


def _supervise(config: Path | None, home: Path, host: str, port: int, count: int) -> int:
    """Run ``count`` worker processes on ``host:port`` (see :mod:`ccr.service.workers`)."""
    from ccr.service.daemon import remove_record

    try:  # held, bound but not listening, while the workers run: the port stays ours
        probe = listening_socket(host, port, reuse_port=True, listen=False)
    except OSError as exc:
        typer.echo(f"ccr: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        return 1
    try:
        port = probe.getsockname()[1]
        log.info("ccr listening on http://%s:%d with %d worker processes (pid %d)", host, port,
                 count, os.getpid())
        command = worker_command(str(config) if config else None, host, port)
        with _metrics_folder():
            return Supervisor(command, count).run()
    finally:
        probe.close()
        remove_record(home, pid=os.getpid())


@contextmanager
def _metrics_folder() -> Iterator[None]:
    """One empty folder for the workers' Prometheus files, so ``/metrics`` on any worker
    counts every worker's requests (unless ``PROMETHEUS_MULTIPROC_DIR`` is set already)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="ccr-metrics-") as folder:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        try:
            yield
        finally:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def _config_failed(exc: ConfigError, debug: bool) -> NoReturn:
    if debug:
        traceback.print_exc()
    typer.echo(f"ccr: invalid configuration\n{exc}", err=True)
    raise typer.Exit(2) from None


def _run(main: Any) -> None:
    """Run the server coroutine on uvloop when it is installed (as ``Sanic.run`` would)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a Sanic dependency on Linux/macOS
        factory = None
    else:
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


class _StopSignals:
    """SIGTERM/SIGINT: the first starts a graceful shutdown, a second one cuts it short."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.received = asyncio.Event()
        self.forced = asyncio.Event()
        self.name = ""
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.received.is_set():
            log.warning("%s again: not waiting for open requests any longer", sig.name)
            self.forced.set()
            return
        self.name = sig.name
        self.received.set()

    def close(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError, RuntimeError):
                self.loop.remove_signal_handler(sig)


async def _serve_until_signalled(app: Any, state: Any, host: str, port: int,
                                 ready: Callable[[], None], sock: Any = None) -> None:

    signals = _StopSignals(asyncio.get_running_loop())
    try:
        where: dict[str, Any] = {"sock": sock} if sock is not None else {"host": host,
                                                                          "port": port}
        server = await app.create_server(
            **where, return_asyncio_server=True, access_log=False,
            asyncio_server_kwargs={"start_serving": False},
        )
        assert server is not None
        await server.startup()
        await server.before_start()
        await server.start_serving()
        await server.after_start()
        ready()
        await signals.received.wait()
        # The config may have been reloaded since start: its current deadline applies.
        timeout_s = state.config.shutdown_timeout_ms / 1000
        server.server.close()  # no new connections from here on
        busy = sum(1 for conn in server.connections if _busy(conn))
        log.info("%s: shutting down; %d open request(s) may finish within %.1f s", signals.name,
                 busy, timeout_s)
        await server.before_stop()
        if not await _drain(server.connections, timeout_s, signals.forced):
            await _abort_all(server.connections)
        await server.after_stop()
        log.info("ccr stopped")
    finally:
        signals.close()


def _busy(conn: Any) -> bool:
    """Whether a connection is receiving a request or sending a response."""
    from sanic.http.constants import Stage

    if getattr(conn, "recv_buffer", None):
        return True
    http = getattr(conn, "http", None)
    return http is not None and http.stage is not Stage.IDLE


async def _drain(connections: set[Any], timeout_s: float, forced: asyncio.Event) -> bool:
    """Close connections as they become idle; True when all closed before the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        for conn in list(connections):
            if not _busy(conn):
                conn.close()
        if not connections:
            return True
        remaining = deadline - loop.time()
        if remaining <= 0 or forced.is_set():
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(forced.wait(), min(_DRAIN_POLL_S, remaining))


async def _abort_all(connections: set[Any]) -> None:
    """Cut the connections still open and give their handlers a moment to clean up."""
    still_open = list(connections)
    log.warning("shutdown deadline reached: closing %d request(s) still open", len(still_open))
    tasks = [task for conn in still_open if (task := getattr(conn, "_task", None)) is not None]
    for conn in still_open:
        conn.abort()
    if tasks:
        await asyncio.wait(tasks, timeout=_ABORT_GRACE_S)
