"""A fake OpenAI upstream in its own process that fails a share of requests (mixed 429, 500
and connection resets before the first byte; seeded, so runs repeat).

``python -m bench.flaky_server 0.3`` prints its port on one stdout line, then serves until stdin
closes, SIGTERM or SIGINT; on exit it prints what it did as one JSON line.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from types import FrameType

from bench.fake_server import _stop_on_stdin_eof, _use_uvloop
from tests.support.fake_upstream import FakeUpstream
from tests.support.fault_upstream import FlakyHandler


def main() -> None:
    rate = float(sys.argv[1]) if len(sys.argv) > 1 else 0.3
    _use_uvloop()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fake = FakeUpstream(record=False)
    flaky = FlakyHandler(rate)
    fake.handler = flaky
    fake.start()
    try:
        print(fake.port, flush=True)
        _stop_on_stdin_eof(stop)
        while not stop.wait(0.5):
            pass
    finally:
        fake.stop()
        print(json.dumps(flaky.counts), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
