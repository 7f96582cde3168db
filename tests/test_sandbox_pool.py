"""RouterScript: worker processes, deadlines, reloads, disabling, concurrency and isolation."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import statistics
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from ccr.sandbox import RouterScript, ScriptResult
from tests.support.recorded import recorded

pytestmark = pytest.mark.e2e

CONFIG = {
    "Providers": [{"name": "openrouter", "models": ["x", "y", "Long/Model:Name"]}],
    "Router": {"default": "openrouter,x"},
    "CUSTOM_ROUTER_OPTIONS": {"prefer": "y"},
}

LOOPS_WHEN_ASKED = """
def router(req, config):
    if req.token_count == 0:
        while True:
            pass
    return "openrouter,x"
"""


def request(**overrides: Any) -> dict[str, Any]:
    req: dict[str, Any] = {
        "body": {
            "model": "claude-sonnet-4",
            "messages": [{"role": "user", "content": "hello"}],
            "system": "You are Claude Code.",
            "tools": [{"name": "Bash"}],
        },
        "headers": {"user-agent": "claude-cli/2.1"},
        "token_count": 10,
        "session_id": "s-1",
        "session_usage": None,
        "project": "demo",
    }
    req.update(overrides)
    return req


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    path = tmp_path / "custom_router.py"

    def write(source: str) -> Path:
        path.write_text(source)
        # Make every edit visible to the (mtime, size) check even within one clock tick.
        stamp = time.time_ns() + 1_000_000_000 * len(source)
        os.utime(path, ns=(stamp, stamp))
        return path

    return write


@pytest.fixture
async def looping(write: Callable[[str], Path]) -> AsyncIterator[RouterScript]:
    script = RouterScript(write(LOOPS_WHEN_ASKED), timeout_ms=100, disable_after=100)
    await script.start()
    yield script
    await script.aclose()


def routes(source_body: str) -> str:
    return "def router(req, config):\n" + "".join(
        f"    {line}\n" for line in source_body.strip().splitlines()
    )


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def worker_pids(script: RouterScript) -> list[int]:
    return [w.pid for w in script._workers]


# -- results ------------------------------------------------------------------------------------


async def test_route_chosen_from_req_and_config_comes_back(write: Callable[[str], Path]) -> None:
    path = write(routes("""
if req.token_count > 5 and req.body["messages"][-1]["content"] == "hello":
    return "openrouter," + config["CUSTOM_ROUTER_OPTIONS"]["prefer"]
return None
"""))
    async with RouterScript(path) as script:
        result = await script.call(request(), CONFIG)
    assert (result.value, result.error, result.timed_out) == ("openrouter,y", None, False)
    assert result.elapsed_ms > 0


async def test_none_falls_through_without_error(write: Callable[[str], Path]) -> None:
    async with RouterScript(write(routes("return None"))) as script:
        result = await script.call(request(), CONFIG)
    assert (result.value, result.error) == (None, None)


async def test_call_starts_the_pool_when_start_was_not_called(
    write: Callable[[str], Path],
) -> None:
    script = RouterScript(write(routes('return "openrouter,x"')))
    try:
        assert (await script.call(request(), CONFIG)).value == "openrouter,x"
    finally:
        await script.aclose()


async def test_printed_output_comes_back_with_the_result(write: Callable[[str], Path]) -> None:
    path = write(routes('print("tokens:", req.token_count)\nreturn None'))
    async with RouterScript(path) as script:
        result = await script.call(request(), CONFIG)
    assert result.output == "tokens: 10\n"


async def test_script_error_names_script_line_and_no_host_path(
    write: Callable[[str], Path], tmp_path: Path,
) -> None:
    path = write("import json\n\n" + routes('return json.loads("{")'))
    async with RouterScript(path) as script:
        result = await script.call(request(), CONFIG)
    assert result.value is None
    assert result.error is not None
    assert result.error.startswith("custom_router.py:4: JSONDecodeError: ")
    assert str(tmp_path) not in result.error and ".py\"" not in result.error


async def test_route_not_in_config_providers_is_refused(write: Callable[[str], Path]) -> None:
    async with RouterScript(write(routes('return "openrouter,gpt-5"'))) as script:
        result = await script.call(request(), CONFIG)
    assert result.value is None
    assert result.error == (
        "custom_router.py: router() returned 'openrouter,gpt-5', which is not a configured "
        '"provider,model"'
    )


async def test_route_matches_providers_and_models_case_insensitively(
    write: Callable[[str], Path],
) -> None:
    async with RouterScript(write(routes('return "OpenRouter,long/model:name"'))) as script:
        result = await script.call(request(), CONFIG)
    assert (result.value, result.error) == ("OpenRouter,long/model:name", None)


async def test_route_is_passed_back_unchecked_when_config_lists_no_providers(
    write: Callable[[str], Path],
) -> None:
    async with RouterScript(write(routes('return "anything,at-all"'))) as script:
        result = await script.call(request(), {"Router": {}})
    assert result.value == "anything,at-all"


async def test_request_that_is_not_json_is_an_error_not_an_exception(
    write: Callable[[str], Path],
) -> None:
    async with RouterScript(write(routes("return None"))) as script:
        result = await script.call(request(project={1, 2}), CONFIG)
    assert result.value is None
    assert result.error is not None
    assert "could not be passed to the script" in result.error


# -- request data across the boundary ----------------------------------------------------------


async def test_big_body_fields_reach_the_script_intact(write: Callable[[str], Path]) -> None:
    body = {
        "model": "m",
        "tools": [{"name": f"tool{i}", "description": "é" * 50, "n": i} for i in range(200)],
        "system": "s" * 10_000,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }
    path = write("import json\n\n" + routes(
        'return "openrouter,x" + str(len(json.dumps(req.body, sort_keys=True)))'
    ))
    want = "openrouter,x" + str(len(json.dumps(body, sort_keys=True)))
    async with RouterScript(path) as script:
        results = [await script.call(request(body=body), {}) for _ in range(3)]
    assert [r.value for r in results] == [want] * 3


async def test_body_field_that_is_not_json_fails_only_scripts_that_read_it(
    write: Callable[[str], Path],
) -> None:
    body = {"model": "m", "tools": [object()]}
    async with RouterScript(write(routes('return "openrouter," + req.body["model"]'))) as one:
        reads_model = await one.call(request(body=body), {})
    async with RouterScript(write(routes('return str(len(req.body["tools"]))'))) as other:
        reads_tools = await other.call(request(body=body), {})
    assert (reads_model.value, reads_model.error) == ("openrouter,m", None)
    assert reads_tools.value is None
    assert reads_tools.error is not None and "tools" in reads_tools.error


async def test_real_claude_code_request_is_readable_by_a_script(
    write: Callable[[str], Path],
) -> None:
    body = recorded("01-plain")["body"]
    path = write(routes("""
names = [t["name"] for t in req.body["tools"]]
roles = [m["role"] for m in req.body["messages"]]
return "openrouter,x" if "Bash" in names and "user" in roles else None
"""))
    async with RouterScript(path) as script:
        result = await script.call(request(body=body), CONFIG)
    assert (result.value, result.error) == ("openrouter,x", None)


async def test_typical_call_on_a_real_request_adds_little_latency(
    write: Callable[[str], Path],
) -> None:
    body = recorded("01-plain")["body"]
    path = write(routes("""
last = req.body["messages"][-1]["content"]
text = last if isinstance(last, str) else " ".join(b.get("text", "") for b in last)
if req.token_count > 60000:
    return "openrouter,y"
return "openrouter,x" if "opus" in req.body["model"] or "hello" in text else None
"""))
    async with RouterScript(path) as script:
        for _ in range(50):
            await script.call(request(body=body), CONFIG)
        took = [(await script.call(request(body=body), CONFIG)).elapsed_ms for _ in range(300)]
    # About 0.2 ms on a developer machine; the bound leaves room for a busy CI runner.
    assert statistics.median(took) < 3.0


# -- deadlines ----------------------------------------------------------------------------------


async def test_endless_loop_times_out_and_the_next_call_works(looping: RouterScript) -> None:
    stuck = await looping.call(request(token_count=0), CONFIG)
    after = await looping.call(request(), CONFIG)
    assert stuck.timed_out and stuck.value is None
    assert stuck.error == "custom_router.py:4: timed out after 100 ms"
    assert stuck.elapsed_ms < 1000
    assert (after.value, after.error) == ("openrouter,x", None)


async def test_other_calls_are_served_while_one_loops_forever(looping: RouterScript) -> None:
    stuck = asyncio.ensure_future(looping.call(request(token_count=0), CONFIG))
    await asyncio.sleep(0.01)
    began = time.monotonic()
    others = [await looping.call(request(), CONFIG) for _ in range(20)]
    took = time.monotonic() - began
    assert [r.value for r in others] == ["openrouter,x"] * 20
    assert took < 0.5
    assert (await stuck).timed_out


async def test_concurrent_calls_share_the_workers(looping: RouterScript) -> None:
    results = await asyncio.gather(*(looping.call(request(), CONFIG) for _ in range(30)))
    assert [r.value for r in results] == ["openrouter,x"] * 30


async def test_calls_waiting_too_long_for_a_worker_are_answered_busy(
    write: Callable[[str], Path],
) -> None:
    path = write(routes("while True:\n    pass"))
    async with RouterScript(path, timeout_ms=50, workers=1, disable_after=100) as script:
        results = await asyncio.gather(*(script.call(request(), CONFIG) for _ in range(6)))
    busy = [r for r in results if r.error and "router busy" in r.error]
    assert busy and all(r.value is None for r in results)
    assert all(r.timed_out for r in results if r not in busy)


async def test_cancelled_call_does_not_leave_a_stuck_worker(looping: RouterScript) -> None:
    task = asyncio.ensure_future(looping.call(request(token_count=0), CONFIG))
    await asyncio.sleep(0.03)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    results = await asyncio.gather(*(looping.call(request(), CONFIG) for _ in range(4)))
    assert [r.value for r in results] == ["openrouter,x"] * 4


async def test_worker_killed_from_outside_is_replaced(looping: RouterScript) -> None:
    killed = worker_pids(looping)
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    give_up = time.monotonic() + 10
    while (result := await looping.call(request(), CONFIG)).value is None:
        assert result.error, "a failed call must say why"
        assert time.monotonic() < give_up, "the pool never recovered"
    assert result.value == "openrouter,x"
    assert not set(killed) & set(worker_pids(looping))


async def test_script_is_disabled_after_repeated_timeouts(write: Callable[[str], Path]) -> None:
    path = write(LOOPS_WHEN_ASKED)
    async with RouterScript(path, timeout_ms=100, disable_after=2, disable_for_s=60) as script:
        first = await script.call(request(token_count=0), CONFIG)
        second = await script.call(request(token_count=0), CONFIG)
        third = await script.call(request(), CONFIG)
    assert first.timed_out and second.timed_out
    assert third == ScriptResult(
        value=None, error="custom_router.py disabled for 60s after 2 timeouts",
        elapsed_ms=third.elapsed_ms, disabled=True,
    )
    assert third.elapsed_ms < 50


async def test_a_good_call_resets_the_timeout_count(write: Callable[[str], Path]) -> None:
    path = write(LOOPS_WHEN_ASKED)
    async with RouterScript(path, timeout_ms=100, disable_after=2) as script:
        await script.call(request(token_count=0), CONFIG)
        await script.call(request(), CONFIG)
        await script.call(request(token_count=0), CONFIG)
        result = await script.call(request(), CONFIG)
    assert (result.value, result.disabled) == ("openrouter,x", False)


async def test_disabled_script_runs_again_after_the_period(write: Callable[[str], Path]) -> None:
    path = write(LOOPS_WHEN_ASKED)
    async with RouterScript(path, timeout_ms=100, disable_after=1, disable_for_s=0.3) as script:
        await script.call(request(token_count=0), CONFIG)
        during = await script.call(request(), CONFIG)
        await asyncio.sleep(0.35)
        after = await script.call(request(), CONFIG)
    assert during.disabled
    assert (after.value, after.disabled) == ("openrouter,x", False)


# -- loading and reloading ----------------------------------------------------------------------


async def test_edit_to_the_script_is_picked_up(write: Callable[[str], Path]) -> None:
    path = write(routes('return "openrouter,x"'))
    async with RouterScript(path, check_interval_s=0) as script:
        before = await script.call(request(), CONFIG)
        write(routes('return "openrouter,y"'))
        after = await script.call(request(), CONFIG)
    assert (before.value, after.value) == ("openrouter,x", "openrouter,y")


async def test_broken_edit_keeps_the_last_good_version_running(
    write: Callable[[str], Path],
) -> None:
    path = write(routes('return "openrouter,x"'))
    async with RouterScript(path, check_interval_s=0) as script:
        write("def router(req, config):\n    return (\n")
        during = await script.call(request(), CONFIG)
        broken = script.load_error
        write(routes('return "openrouter,y"'))
        fixed = await script.call(request(), CONFIG)
    assert (during.value, during.error) == ("openrouter,x", None)
    assert broken is not None and broken.startswith("custom_router.py:2: SyntaxError: ")
    assert (fixed.value, script.load_error) == ("openrouter,y", None)


async def test_file_is_checked_at_most_once_per_interval(write: Callable[[str], Path]) -> None:
    path = write(routes('return "openrouter,x"'))
    async with RouterScript(path, check_interval_s=30) as script:
        await script.call(request(), CONFIG)
        write(routes('return "openrouter,y"'))
        result = await script.call(request(), CONFIG)
    assert result.value == "openrouter,x"


async def test_script_that_never_compiled_reports_its_load_error(
    write: Callable[[str], Path],
) -> None:
    path = write("def router(req, config):\n    return ().__class__\n")
    async with RouterScript(path) as script:
        result = await script.call(request(), CONFIG)
    assert script.load_error is not None
    assert result.error == script.load_error
    assert result.error.startswith('custom_router.py:2: SyntaxError: "__class__"')


async def test_script_without_router_function_is_a_load_error(
    write: Callable[[str], Path],
) -> None:
    async with RouterScript(write("ROUTE = 'openrouter,x'\n")) as script:
        assert script.load_error == (
            "custom_router.py: no router function: define def router(req, config)"
        )


async def test_missing_file_is_a_load_error(tmp_path: Path) -> None:
    async with RouterScript(tmp_path / "custom_router.py") as script:
        result = await script.call(request(), CONFIG)
    assert script.load_error == (
        "custom_router.py: cannot read the script (No such file or directory)"
    )
    assert result.value is None and result.error == script.load_error


async def test_oversized_script_is_refused(write: Callable[[str], Path]) -> None:
    path = write(routes("return None") + "#" * 2000 + "\n")
    async with RouterScript(path, max_source_bytes=1000) as script:
        assert script.load_error is not None
        assert script.load_error.startswith("custom_router.py: the script is too big (")


async def test_script_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "custom_router.py"
    path.write_bytes(b"def router(req, config):\n    return '\xff'\n")
    async with RouterScript(path) as script:
        assert script.load_error is not None and "not valid UTF-8" in script.load_error


async def test_expression_too_deep_to_compile_leaves_the_worker_serving(
    write: Callable[[str], Path],
) -> None:
    path = write(routes("return " + "+".join(["1"] * 5000)))
    async with RouterScript(path, check_interval_s=0) as script:
        deep_error = script.load_error
        write(routes('return "openrouter,x"'))
        result = await script.call(request(), CONFIG)
    assert deep_error is not None and deep_error.startswith("custom_router.py: SyntaxError: ")
    assert result.value == "openrouter,x"


async def test_module_code_that_hangs_is_a_load_error(write: Callable[[str], Path]) -> None:
    path = write("while True:\n    pass\n" + routes("return None"))
    async with RouterScript(path, timeout_ms=100) as script:
        assert script.load_error == "custom_router.py:1: module code timed out after 100 ms"


async def test_sandbox_that_cannot_start_is_reported_not_raised(
    write: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "ccr.sandbox.process._BOOT", "raise ImportError('No module named RestrictedPython')"
    )
    async with RouterScript(write(routes("return None"))) as script:
        result = await script.call(request(), CONFIG)
    assert result.value is None
    assert result.error == script.load_error
    assert result.error is not None
    assert result.error.startswith("custom_router.py: the sandbox could not start")
    assert result.error.endswith("ImportError: No module named RestrictedPython)")


def test_call_sync_runs_one_call_outside_an_event_loop(write: Callable[[str], Path]) -> None:
    script = RouterScript(write(routes('return "openrouter," + req.body["model"][:1]')))
    result = script.call_sync(request(), {})
    assert (result.value, result.error) == ("openrouter,c", None)


def test_call_sync_reports_a_load_error(write: Callable[[str], Path]) -> None:
    script = RouterScript(write("import os\n" + routes("return None")))
    result = script.call_sync(request(), CONFIG)
    assert result.value is None
    assert script.load_error == result.error
    assert result.error is not None and "'os' may not be imported" in result.error


async def test_call_sync_works_from_inside_a_running_loop(write: Callable[[str], Path]) -> None:
    script = RouterScript(write(routes('return "openrouter,x"')))
    assert script.call_sync(request(), CONFIG).value == "openrouter,x"


# -- isolation ----------------------------------------------------------------------------------


async def test_workers_do_not_inherit_the_server_environment(
    write: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch,
) -> None:
    canary = "canary-" + secrets.token_hex(12)
    monkeypatch.setenv("CCR_CANARY_SECRET", canary)
    monkeypatch.setenv("ANTHROPIC_API_KEY", canary)
    async with RouterScript(write(routes("return None"))) as script:
        environs = [Path(f"/proc/{pid}/environ").read_bytes() for pid in worker_pids(script)]
    assert len(environs) == 2
    for environ in environs:
        assert canary.encode() not in environ
        assert b"CCR_CANARY_SECRET" not in environ


async def test_workers_run_with_memory_file_and_process_limits(
    write: Callable[[str], Path],
) -> None:
    async with RouterScript(write(routes("return None")), memory_mb=128) as script:
        pid = worker_pids(script)[0]
        limits = Path(f"/proc/{pid}/limits").read_text()
        open_fds = os.listdir(f"/proc/{pid}/fd")
    rows = {line[:26].strip(): line[26:].split() for line in limits.splitlines()[1:]}
    assert rows["Max address space"][:2] == [str(128 * 1024 * 1024)] * 2
    assert rows["Max open files"][:2] == [str(len(open_fds))] * 2
    assert rows["Max processes"][:2] == ["0", "0"]
    assert rows["Max file size"][:2] == ["0", "0"]


async def test_server_memory_does_not_grow_after_a_memory_bomb(
    write: Callable[[str], Path],
) -> None:
    path = write(routes('big = "a" * (10 ** 10)\nhoard = [big]\nreturn None'))
    async with RouterScript(path, timeout_ms=500) as script:
        await script.call(request(), CONFIG)
        before = rss_kb()
        results = [await script.call(request(), CONFIG) for _ in range(5)]
        after = rss_kb()
    assert all(r.error and "MemoryError" in r.error for r in results)
    assert after - before < 10_000


async def test_aclose_stops_every_worker_process(write: Callable[[str], Path]) -> None:
    script = RouterScript(write(routes("return None")), workers=3)
    await script.start()
    pids = worker_pids(script)
    await script.aclose()
    assert len(pids) == 3
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(
            f"/proc/{pid}/status").read_text()
