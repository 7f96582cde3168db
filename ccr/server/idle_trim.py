"""Giving freed memory back to the system once the server is idle.

A burst of large requests (a 700 KB conversation parses into tens of MB of objects) leaves
the C allocator holding the pages it freed, so the process stays as large as its busiest
moment. glibc's ``malloc_trim`` returns them. It runs on a worker thread, only once no request
has been in flight for ``delay_s`` and at most every ``every_s``, so a busy server never pays
for it; where the C library has no ``malloc_trim`` (musl, macOS) nothing is done.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import time
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if trim is not None:
        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


class IdleTrim:
    """Call :meth:`started` and :meth:`ended` around each request."""

    def __init__(self, *, delay_s: float = 1.0, every_s: float = 5.0,
                 trim: Callable[[int], int] | None = None) -> None:
        self.delay_s = delay_s
        self.every_s = every_s
        self._trim = trim if trim is not None else _malloc_trim()
        self.busy = 0
        self.trims = 0
        self._dirty = False
        self._last = -every_s
        self._handle: asyncio.TimerHandle | None = None

    def started(self) -> None:
        self.busy += 1
        self._dirty = True

    def ended(self) -> None:
        self.busy -= 1
        if self.busy == 0 and self._trim is not None and self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(self.delay_s, self._check)

    def _check(self) -> None:
        self._handle = None
        if self.busy or not self._dirty or self._trim is None:
            return
        loop = asyncio.get_running_loop()
        wait = self._last + self.every_s - time.monotonic()
        if wait > 0:
            self._handle = loop.call_later(wait, self._check)
            return
        self._last = time.monotonic()
        self._dirty = False
        self.trims += 1
        loop.run_in_executor(None, self._trim, 0)
