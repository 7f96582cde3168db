"""Freed memory goes back to the system only while the server is idle."""

from __future__ import annotations

import asyncio

from ccr.server.idle_trim import IdleTrim, _malloc_trim


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, pad: int) -> int:
        self.calls += 1
        return 1


async def _settle(seconds: float) -> None:
    await asyncio.sleep(seconds)
    await asyncio.sleep(0.02)  # the executor call lands


def test_memory_is_trimmed_once_the_server_has_been_idle_a_moment() -> None:
    async def main() -> int:
        trim = Counting()
        idle = IdleTrim(delay_s=0.05, every_s=0.0, trim=trim)
        idle.started()
        idle.ended()
        await _settle(0.1)
        return trim.calls

    assert asyncio.run(main()) == 1


def test_nothing_is_trimmed_while_a_request_is_in_flight() -> None:
    async def main() -> int:
        trim = Counting()
        idle = IdleTrim(delay_s=0.05, every_s=0.0, trim=trim)
        idle.started()
        idle.started()
        idle.ended()
        await _settle(0.1)
        return trim.calls

    assert asyncio.run(main()) == 0


def test_trims_are_at_least_every_s_apart() -> None:
    async def main() -> tuple[int, int]:
        trim = Counting()
        idle = IdleTrim(delay_s=0.02, every_s=0.3, trim=trim)
        for _ in range(3):
            idle.started()
            idle.ended()
            await _settle(0.05)
        soon = trim.calls
        await _settle(0.3)
        return soon, trim.calls

    assert asyncio.run(main()) == (1, 2)


def test_an_idle_server_without_new_requests_is_not_trimmed_again() -> None:
    async def main() -> int:
        trim = Counting()
        idle = IdleTrim(delay_s=0.02, every_s=0.0, trim=trim)
        idle.started()
        idle.ended()
        await _settle(0.05)
        idle._check()  # a timer firing again with nothing new
        await _settle(0.05)
        return trim.calls

    assert asyncio.run(main()) == 1


def test_the_c_librarys_trim_is_found_on_glibc_and_harmless_to_call() -> None:
    trim = _malloc_trim()
    if trim is not None:
        assert trim(0) in (0, 1)
