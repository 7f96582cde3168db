"""Feeding a chain that has a sandboxed stage: read the upstream ahead while a batch is in the
sandbox, so one round trip carries everything that arrived meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator

from ccr.transformers.chain import Chain

#: How far :func:`read_ahead` may run ahead of a busy chain.
READ_AHEAD_ITEMS = 256
READ_AHEAD_BYTES = 1 << 20

def read_ahead(reads: AsyncGenerator[bytes, None], chain: Chain) -> AsyncGenerator[bytes, None]:
    """``reads`` (upstream body reads, ``b""`` at the end) for ``chain``:
    unchanged for a synchronous chain; otherwise read ahead in a task, and each item is
    everything that arrived while the previous one was being transformed, joined.

    Upstreams flush every SSE event as its own read, so without this a sandboxed stage would
    cost one round trip per event; with it, batches grow exactly when events arrive faster
    than round trips complete. Close the result before ``reads`` (the task is reading it).
    """
    return _read_ahead(reads) if chain.is_async else reads


async def _read_ahead(reads: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    queue: asyncio.Queue[tuple[bytes, BaseException | None]] = asyncio.Queue(READ_AHEAD_ITEMS)
    finished = (b"", StopAsyncIteration())

    async def pump() -> None:
        try:
            async for item in reads:
                await queue.put((item, None))
            await queue.put(finished)
        except Exception as exc:  # an upstream failure surfaces after the data before it
            await queue.put((b"", exc))

    task = asyncio.ensure_future(pump())
    backlog: deque[tuple[bytes, BaseException | None]] = deque()
    try:
        while True:
            item, problem = backlog.popleft() if backlog else await queue.get()
            if problem is not None:
                if isinstance(problem, StopAsyncIteration):
                    return
                raise problem
            if not item:  # the end of the body
                yield item
                continue
            parts, size = [item], len(item)
            while size < READ_AHEAD_BYTES and not queue.empty():
                more, problem = queue.get_nowait()
                if problem is None and more:
                    parts.append(more)
                    size += len(more)
                else:
                    backlog.append((more, problem))
                    break
            yield b"".join(parts) if len(parts) > 1 else item
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
