"""The fake OpenAI upstream alone in its own process, so it never shares a GIL with the load
client or the router under test.

Prints its port on one stdout line, then serves until stdin closes (the parent went away),
SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from types import FrameType

from tests.support.fake_upstream import FakeUpstream


def _use_uvloop() -> bool:
    """Serve on uvloop when installed: a faster baseline leaves less noise in the difference."""
    try:
        import uvloop
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def _stop_on_stdin_eof(stop: threading.Event) -> None:
    def watch() -> None:
        sys.stdin.buffer.read()
        stop.set()

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def main() -> None:
    uvloop_used = _use_uvloop()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fake = FakeUpstream(record=False).start()
    try:
        print(f"{fake.port} {'uvloop' if uvloop_used else 'asyncio'}", flush=True)
        _stop_on_stdin_eof(stop)
        while not stop.wait(0.5):
            pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
