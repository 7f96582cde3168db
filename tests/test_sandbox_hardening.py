"""Sandbox soft spots closed: one call cannot predict the next call's random draws, a script's
``__eq__`` never receives the objects behind ``req``/``config``, and a sandbox worker lost in
the middle of a call is a fall-through with a reason, never an exception."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from ccr.sandbox import RouterScript
from ccr.sandbox.process import WorkerProcess
from ccr.sandbox.views import ReadOnlyDict

CONFIG: dict[str, Any] = {
    "Providers": [{"name": "p", "models": ["x", "y"]}],
    "Router": {"default": "p,x"},
}

#: Session "attacker" draws 624 raw 32-bit outputs, rebuilds the Mersenne Twister state from
#: them and prints its prediction of the next five; any other session prints its five draws.
PREDICT_NEXT_CALL = '''
import random

N, M = 624, 397

def untemper(y):
    y ^= y >> 18
    y ^= (y << 15) & 0xEFC60000
    r = y
    for _ in range(5):
        r = y ^ ((r << 7) & 0x9D2C5680)
    y = r & 0xFFFFFFFF
    r = y
    for _ in range(3):
        r = y ^ (r >> 11)
    return r

def temper(y):
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    return y ^ (y >> 18)

def router(req, config):
    if req["session_id"] == "attacker":
        x = [untemper(random.randrange(0xFFFFFFFF)) for _ in range(N)]
        guesses = []
        for k in range(5):
            y = (x[k] & 0x80000000) | (x[k + 1] & 0x7FFFFFFF)
            nxt = x[k + M] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
            x.append(nxt)
            guesses.append(temper(nxt))
        print("values", " ".join(str(g) for g in guesses))
    else:
        print("values", " ".join(str(random.randrange(0xFFFFFFFF)) for _ in range(5)))
    return None
'''

#: Compares req and config with an object whose __eq__ records what it was given.
EQ_SPY = '''
seen = []

class Spy:
    def __eq__(self, other):
        seen.append(other)
        return False

def router(req, config):
    spy = Spy()
    req == spy
    config == spy
    req["body"] == {"messages": spy}
    req["body"]["messages"] == [spy]
    config == {"Providers": [spy], "Router": {"default": "p,x"}}
    kinds = set()
    for got in seen:
        try:
            got["__probe__"] = 1
            kinds.add("writable")
        except TypeError:
            kinds.add("read-only")
        except Exception:
            kinds.add("other")
    print("seen", len(seen), "kinds", ",".join(sorted(kinds)))
    return "p,y" if "writable" in kinds else None
'''


def request(session: str) -> dict[str, Any]:
    return {"body": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            "headers": {}, "token_count": 1, "session_id": session}


async def run_calls(tmp_path: Path, source: str, sessions: list[str],
                    **options: Any) -> list[Any]:
    path = tmp_path / "custom_router.py"
    path.write_text(source)
    script = RouterScript(path, workers=1, **options)
    try:
        await script.start()
        return [await script.call(request(s), CONFIG) for s in sessions]
    finally:
        await script.aclose()


def printed_values(output: str) -> list[int]:
    match = re.search(r"values ([0-9 ]+)", output)
    assert match, output
    return [int(v) for v in match.group(1).split()]


async def test_one_call_cannot_predict_the_next_calls_random_draws(tmp_path: Path) -> None:
    attacker, victim = await run_calls(tmp_path, PREDICT_NEXT_CALL, ["attacker", "victim"],
                                       timeout_ms=3000)
    assert attacker.error is None and victim.error is None, (attacker.error, victim.error)
    predicted, drawn = printed_values(attacker.output), printed_values(victim.output)
    assert len(predicted) == len(drawn) == 5
    assert predicted != drawn


async def test_the_prediction_works_within_one_generator(tmp_path: Path) -> None:
    """The attack is real: run in one call, the rebuilt state predicts the very next draws."""
    source = PREDICT_NEXT_CALL.replace(
        '    return None\n',
        '    if req["session_id"] == "attacker":\n'
        '        print("then", " ".join(str(random.randrange(0xFFFFFFFF)) for _ in range(5)))\n'
        '    return None\n')
    (result,) = await run_calls(tmp_path, source, ["attacker"], timeout_ms=3000)
    assert result.error is None, result.error
    then = re.search(r"then ([0-9 ]+)", result.output)
    assert then
    assert printed_values(result.output) == [int(v) for v in then.group(1).split()]


async def test_a_scripts_eq_only_ever_sees_read_only_views(tmp_path: Path) -> None:
    (result,) = await run_calls(tmp_path, EQ_SPY, ["s"], timeout_ms=1000)
    assert result.error is None, result.error
    assert result.value is None
    assert "kinds read-only" in result.output
    assert "seen 0" not in result.output


def test_views_still_compare_by_value() -> None:
    view = ReadOnlyDict({"a": [1, {"b": "c"}], "n": None})
    assert view == {"a": [1, {"b": "c"}], "n": None}
    assert view == {"a": (1, {"b": "c"}), "n": None}
    assert view != {"a": [1, {"b": "d"}], "n": None}
    assert view != {"a": [1, {"b": "c"}]}
    assert view == ReadOnlyDict({"a": [1, {"b": "c"}], "n": None})
    assert view != object()


SLOW = 'def router(req, config):\n    n = 0\n    for i in range(30_000_000):\n' \
       '        n += i\n    return "p,y"\n'


async def test_a_worker_killed_mid_call_is_a_fall_through_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "custom_router.py"
    path.write_text(SLOW)
    script = RouterScript(path, workers=1, timeout_ms=5000)
    try:
        await script.start()
        call = asyncio.ensure_future(script.call(request("s"), CONFIG))
        await asyncio.sleep(0.3)
        for worker in list(script._workers):
            os.kill(worker.pid, signal.SIGKILL)
        result = await asyncio.wait_for(call, 10)
        assert result.value is None
        assert result.error is not None and "SIGKILL" in result.error
    finally:
        await script.aclose()


async def test_a_broken_pipe_under_a_call_is_a_fall_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(self: WorkerProcess, *_args: Any, **_kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("unable to perform operation on <WriteUnixTransport closed=True>")

    path = tmp_path / "custom_router.py"
    path.write_text('def router(req, config):\n    return "p,y"\n')
    script = RouterScript(path, workers=1, timeout_ms=1000)
    try:
        await script.start()
        monkeypatch.setattr(WorkerProcess, "exchange", broken)
        result = await script.call(request("s"), CONFIG)
        assert result.value is None
        assert result.error is not None and "RuntimeError" in result.error
    finally:
        monkeypatch.undo()
        await script.aclose()


async def test_anything_else_going_wrong_in_the_pool_is_logged_and_falls_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(self: RouterScript, build: Any) -> Any:
        raise RuntimeError("pool in a bad state")

    path = tmp_path / "custom_router.py"
    path.write_text('def router(req, config):\n    return "p,y"\n')
    script = RouterScript(path, workers=1, timeout_ms=1000)
    monkeypatch.setattr(RouterScript, "_round_trip", broken)
    result = await script.call(request("s"), CONFIG)
    assert result.value is None
    assert result.error is not None and "pool in a bad state" in result.error
    assert "built-in rules decide" in caplog.text
