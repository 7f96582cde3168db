"""Which ccr process this is: a single server, or one of the workers a ``ccr serve --workers N``
supervisor started (see :mod:`ccr.service.workers`). Read from the environment the supervisor
sets, so every layer may ask without importing the service layer."""

from __future__ import annotations

import os

#: Set in a worker's environment: its number (1..N). A worker listens with SO_REUSEPORT.
WORKER_ENV = "CCR_WORKER"
#: Set in a worker's environment: the supervisor's pid, the one to signal (and ``/health``'s).
SUPERVISOR_ENV = "CCR_SUPERVISOR_PID"


#: Set in a worker's environment: how many workers share the port (they share state).
WORKERS_ENV = "CCR_WORKERS"


def worker_count() -> int:
    """How many server processes share this one's port (1 when it runs alone)."""
    raw = os.environ.get(WORKERS_ENV, "")
    return int(raw) if raw.isdigit() and worker_number() is not None else 1


def worker_number() -> int | None:
    """This process's worker number when a supervisor started it, else None."""
    raw = os.environ.get(WORKER_ENV, "")
    return int(raw) if raw.isdigit() else None


def server_pid() -> int:
    """The pid that stands for the server: the supervisor's in a worker, else this one's."""
    raw = os.environ.get(SUPERVISOR_ENV, "")
    return int(raw) if worker_number() is not None and raw.isdigit() else os.getpid()
