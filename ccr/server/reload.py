"""Live config reload: on a file change or SIGHUP the new config is validated and swapped in.

A valid config takes effect for new requests (a request in flight keeps the engine it started
with); an invalid one leaves the running config in place and the error is logged and kept for
``/health`` (and so ``ccr status``) to show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

from ccr.config import load_config
from ccr.engine.engine import Engine
from ccr.errors import ConfigError
from ccr.logs import apply_reload
from ccr.server.state import AppState

log = logging.getLogger("ccr")

#: How often the config file's mtime and size are checked.
POLL_INTERVAL_S = 1.0


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


class ConfigWatcher:
    """Polls the config file (cheap: one stat a second) and reloads it when it changes."""

    def __init__(self, state: AppState, path: Path, *, interval_s: float = POLL_INTERVAL_S) -> None:
        self.state = state
        self.path = path
        self.interval_s = interval_s
        self._seen = _signature(path)
        self._task: asyncio.Task[None] | None = None
        self._retiring: set[asyncio.Future[None]] = set()
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._poll())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            current = _signature(self.path)
            if current != self._seen:
                self._seen = current
                await self.reload("file changed")

    async def reload(self, why: str) -> bool:
        """Load, validate and swap in the config; False (old config kept) when it is invalid."""
        async with self._lock:
            try:
                # file I/O and checking user transformer files in a sandbox worker: off the loop
                old = self.state.engine
                engine = await asyncio.to_thread(
                    lambda: Engine.build(load_config(self.path), stores=old.stores)
                )
                config = engine.config
            except ConfigError as exc:
                self.state.reload_error = str(exc)
                log.error("config reload (%s) failed, still running the previous config:\n%s",
                          why, exc)
                return False
            await engine.start(previous=old)
            self.state.engine = engine
            self.state.reload_error = None
            self.state.reloads += 1
            apply_reload(old.config, config, self.state.home)
            # the old engine closes (its upstream pool too, unless handed over) once the
            # requests that started on it, open streams included, are done
            self._retiring.add(asyncio.ensure_future(old.retire()))
            self._retiring = {t for t in self._retiring if not t.done()}
            log.info("config reloaded (%s): %d providers", why, len(config.providers))
            return True
