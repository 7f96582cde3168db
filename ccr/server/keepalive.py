"""Keeping a streamed answer's connection alive while nothing else is sent."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from typing import Any


class KeepAlive:
    """Sends ``beat`` whenever nothing was sent for ``interval_s``: while the upstream thinks,
    or while ccr runs an agent's tool, the client's connection stays alive. One timer per
    stream instead of a timeout on every upstream read; a task only while a beat is sent."""

    def __init__(self, response: Any, interval_s: float, beat: bytes) -> None:
        self.response = response
        self.interval_s = interval_s
        self.beat = beat
        self.last = time.monotonic()
        self._loop = asyncio.get_running_loop()
        self._stopped = False
        self._sending: asyncio.Task[None] | None = None
        self._timer = self._loop.call_later(interval_s, self._due)

    async def send(self, data: bytes) -> None:
        self.last = time.monotonic()
        await self.response.send(data)

    def _due(self) -> None:
        if self._stopped:
            return
        now = time.monotonic()
        if now - self.last >= self.interval_s and self._sending is None:
            self.last = now
            self._sending = self._loop.create_task(self._send_beat())
        self._timer = self._loop.call_later(max(0.0, self.last + self.interval_s - now),
                                            self._due)

    async def _send_beat(self) -> None:
        with suppress(Exception):
            await self.send(self.beat)
        self._sending = None

    def stop(self) -> None:
        self._stopped = True
        self._timer.cancel()
        if self._sending is not None:
            self._sending.cancel()
