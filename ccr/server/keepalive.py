"""Keeping a streamed answer's connection alive while nothing else is sent."""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from typing import Any


class KeepAlive:
    """Sends ``beat`` whenever nothing was sent for ``interval_s``: while the upstream thinks,
    or while ccr runs an agent's tool, the client's connection stays alive. One timer per
    stream instead of a timeout on every upstream read."""

    def __init__(self, response: Any, interval_s: float, beat: bytes) -> None:
        self.response = response
        self.interval_s = interval_s
        self.beat = beat
        self.last = time.monotonic()
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def send(self, data: bytes) -> None:
        self.last = time.monotonic()
        await self.response.send(data)

    async def _run(self) -> None:
        with suppress(Exception):
            while True:
                await asyncio.sleep(max(0.0, self.last + self.interval_s - time.monotonic()))
                if time.monotonic() - self.last >= self.interval_s:
                    await self.send(self.beat)

    def stop(self) -> None:
        self.task.cancel()
