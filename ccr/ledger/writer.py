"""Ledger writes that never hold up a response.

The request path calls :meth:`LedgerWriter.record`, which only puts the row on a bounded
queue (dropping it, counted, when the queue is full). One background task takes rows in
batches and writes each batch in one transaction. While the ledger is unreachable the task
keeps its batch and retries with backoff; rows that no longer fit are dropped, counted, and
the health says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from ccr.config.redact import redact_text
from ccr.ledger.row import UsageRow
from ccr.ledger.store import LedgerStore

log = logging.getLogger("ccr.ledger")


@dataclass
class LedgerHealth:
    backend: str
    written: int = 0
    dropped: int = 0
    pending: int = 0
    down: bool = False
    error: str | None = None
    failed_writes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "status": "degraded" if self.down else "ok",
                "written": self.written, "dropped": self.dropped, "pending": self.pending,
                "error": self.error, "failed_writes": self.failed_writes}


class LedgerWriter:
    def __init__(self, store: LedgerStore, *, max_queue: int = 10_000, batch: int = 500,
                 flush_s: float = 0.2, retry_s: float = 0.5, max_retry_s: float = 10.0) -> None:
        self.store = store
        self._queue: asyncio.Queue[UsageRow] = asyncio.Queue(maxsize=max_queue)
        self._batch = batch
        self._flush_s = flush_s
        self._retry_s = retry_s
        self._max_retry_s = max_retry_s
        self._health = LedgerHealth(backend=store.backend)
        self._held: list[UsageRow] = []
        self._task: asyncio.Task[None] | None = None
        self._last_drop_log = 0.0

    # -- the request path ------------------------------------------------------------------------

    def record(self, row: UsageRow) -> bool:
        """Queue a row; False (and counted) when the queue is full. Never blocks, never raises."""
        try:
            self._queue.put_nowait(row)
        except asyncio.QueueFull:
            self._dropped(1)
            return False
        return True

    def _dropped(self, n: int) -> None:
        self._health.dropped += n
        now = time.monotonic()
        if now - self._last_drop_log > 10:
            self._last_drop_log = now
            log.warning("ledger %s: %d usage rows dropped so far (queue full%s)",
                        self.store.backend, self._health.dropped,
                        ", ledger unreachable" if self._health.down else "")

    def health(self) -> LedgerHealth:
        h = self._health
        return LedgerHealth(backend=h.backend, written=h.written, dropped=h.dropped,
                            pending=self._queue.qsize() + len(self._held), down=h.down,
                            error=h.error, failed_writes=h.failed_writes)

    # -- the background task ---------------------------------------------------------------------

    async def start(self) -> None:
        """Open the ledger (a ledger that is down is retried, not fatal) and start writing."""
        try:
            await self.store.open()
        except Exception as exc:
            self._went_down(exc)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _take(self) -> None:
        """Fill ``_held`` with the next batch (waiting up to ``flush_s`` for it to fill)."""
        rows = self._held
        rows.append(await self._queue.get())
        deadline = asyncio.get_running_loop().time() + self._flush_s
        while len(rows) < self._batch:
            try:
                rows.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            try:
                rows.append(await asyncio.wait_for(self._queue.get(), left))
            except TimeoutError:
                break

    async def _run(self) -> None:
        delay = self._retry_s
        while True:
            if not self._held:
                await self._take()
            try:
                await self.store.write(self._held)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._health.failed_writes += 1
                self._went_down(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_retry_s)
                continue
            self._health.written += len(self._held)
            self._held = []
            delay = self._retry_s
            if self._health.down:
                self._health.down = False
                self._health.error = None
                log.warning("ledger %s is back: writing usage rows again", self.store.backend)

    def _went_down(self, exc: BaseException) -> None:
        reason = redact_text(f"{type(exc).__name__}: {exc}")[:300]
        if not self._health.down:
            log.warning("ledger %s unavailable (%s): rows wait in memory (up to the queue "
                        "size) and are retried", self.store.backend, reason)
        self._health.down = True
        self._health.error = reason

    async def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until every queued row is written (True) or ``timeout_s`` passes (False)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.qsize() or self._held:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Write what is queued (up to ``timeout_s``), then stop; what is left counts as
        dropped."""
        if self._task is not None:
            # a ledger that is down gets one short last chance, not the whole timeout
            await self.flush(min(timeout_s, 0.5) if self._health.down else timeout_s)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        left = self._queue.qsize() + len(self._held)
        if left:
            self._dropped(left)
        await self.store.aclose()
