"""Shared pieces for the resilience unit tests: a clock the test moves by hand."""

from __future__ import annotations


class FakeClock:
    """``time.monotonic`` stand-in: starts at 1000 s and moves only when told."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
