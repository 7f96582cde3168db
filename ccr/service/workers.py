"""Several ``ccr serve`` processes on one port, so a server uses every core.

``ccr serve --workers N`` (or the ``WORKERS`` key) makes the foreground process a supervisor:
it checks the port is free, then starts N worker processes (``python -m ccr serve`` with the
same options) that each listen on the port with ``SO_REUSEPORT``; the kernel spreads new
connections over them. Each worker is a complete server with its own event loop, upstream
pool, token cache and sandbox pool, and reloads the config itself when the file changes.

The supervisor forwards SIGTERM/SIGINT (graceful shutdown: every worker stops accepting and
lets its open streams finish) and SIGHUP (reload), restarts a worker that dies while serving,
and exits once all workers have, with status 0 after a requested shutdown.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ccr.process import SUPERVISOR_ENV, WORKER_ENV, WORKERS_ENV

log = logging.getLogger("ccr")

#: A worker that dies within MIN_UPTIME_S of starting failed to start: it is restarted only after
#: RESTART_DELAY_S, and after three such failures per worker in a row the supervisor gives up.
MIN_UPTIME_S = 5.0
RESTART_DELAY_S = 1.0
_POLL_S = 0.05
BACKLOG = 1024


def resolve_workers(option: int | None, configured: object) -> int:
    """The worker count: the command-line option, else ``WORKERS``, else 1; 0 means one per
    CPU core. One is the default because session usage (the status line) and other counts are
    per process until state is shared between workers."""
    value = option if option is not None else configured
    if isinstance(value, str) and value.strip().isdigit():  # numbers may be written as strings
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 1
    return value or (os.cpu_count() or 1)


def listening_socket(host: str, port: int, *, reuse_port: bool,
                     listen: bool = True) -> socket.socket:
    """A TCP socket bound to ``host:port`` (listening unless ``listen`` is False). With
    ``reuse_port``, other sockets with the option may bind the same port (the workers)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        if listen:
            sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass
class _Worker:
    number: int
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)


class Supervisor:
    """Starts ``count`` workers running ``command`` and keeps them running until told to stop."""

    def __init__(self, command: Sequence[str], count: int, *,
                 restart_delay_s: float = RESTART_DELAY_S,
                 min_uptime_s: float = MIN_UPTIME_S) -> None:
        self.command = list(command)
        self.count = count
        self.restart_delay_s = restart_delay_s
        self.min_uptime_s = min_uptime_s
        self.workers: dict[int, _Worker] = {}
        self.stopping = False
        self._signals: list[int] = []

    def run(self) -> int:
        """Run the workers until a stop signal (then 0) or until they can no longer run."""
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        try:
            for number in range(1, self.count + 1):
                self._start(number)
            log.info("ccr: %d workers started (pids %s)", self.count,
                     ", ".join(str(w.process.pid) for w in self.workers.values()))
            return self._supervise()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._stop_all(signal.SIGKILL)

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signals.append(signum)

    def _start(self, number: int) -> None:
        env = dict(os.environ, **{WORKER_ENV: str(number), SUPERVISOR_ENV: str(os.getpid()),
                                  WORKERS_ENV: str(self.count)})
        # Its own process group: a terminal's Ctrl-C reaches the supervisor alone, which
        # forwards it once (twice would cut the open streams short).
        process = subprocess.Popen(self.command, env=env, process_group=0,
                                   preexec_fn=_die_with_parent)
        self.workers[number] = _Worker(number, process)

    def _supervise(self) -> int:
        quick_failures = 0  # workers that died within min_uptime_s, since one lasted longer
        waiting: dict[int, float] = {}  # worker number -> when to restart it
        while True:
            while self._signals:
                self._forward(self._signals.pop(0))
            for number, worker in list(self.workers.items()):
                code = worker.process.poll()
                if code is None:
                    continue
                del self.workers[number]
                if self.stopping:
                    continue
                quick = time.monotonic() - worker.started < self.min_uptime_s
                quick_failures = quick_failures + 1 if quick else 0
                if quick_failures >= 3 * self.count:
                    log.error("ccr: workers keep exiting at start (last status %s); giving up",
                              code)
                    self.stopping = True
                    waiting.clear()
                    self._stop_all(signal.SIGTERM)
                    return code or 1
                log.error("ccr: worker %d (pid %d) exited with status %s; restarting it",
                          number, worker.process.pid, code)
                waiting[number] = time.monotonic() + (self.restart_delay_s if quick else 0.0)
            for number, when in list(waiting.items()):
                if self.stopping:
                    waiting.clear()
                elif time.monotonic() >= when:
                    del waiting[number]
                    self._start(number)
            if self.stopping and not self.workers:
                return 0
            time.sleep(_POLL_S)

    def _forward(self, signum: int) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            if self.stopping:
                log.warning("%s again: workers stop without waiting for open requests",
                            signal.Signals(signum).name)
            self.stopping = True
        for worker in self.workers.values():
            if worker.process.poll() is None:
                worker.process.send_signal(signum)

    def _stop_all(self, signum: int) -> None:
        for worker in self.workers.values():
            if worker.process.poll() is None:
                worker.process.send_signal(signum)
        for worker in self.workers.values():
            worker.process.wait()


def _die_with_parent() -> None:
    """In the new worker, before ``exec``: SIGTERM it if the supervisor dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    except (OSError, AttributeError):
        pass


def worker_command(config: str | None, host: str, port: int) -> list[str]:
    """The command line of one worker: this ``ccr serve`` as a single process."""
    command = [sys.executable, "-m", "ccr", "serve", "--host", host, "--port", str(port),
               "--workers", "1"]
    if config:
        command += ["--config", config]
    return command
