"""Attacks on the sandbox that a single hostile router script cannot show.

What crosses back from a worker is untrusted even when the worker is honest: a transformer's
result is decoded by the server, so its nesting and its number of values are bounded (in the
worker, with a readable error, and again in the server); text a script chose reaches logs and
terminals escaped; no script code runs after its call (a generator's cleanup would) and caches a
call fills do not outlive it; and a script that costs a worker process every other call is
switched off like one that does so every call.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ccr.logs import LOGGER_NAME, REQUEST_LOG_FILE, REQUESTS_LOGGER, request_line, setup_logging
from ccr.sandbox import RouterScript, pool
from ccr.sandbox.facades import CacheKeeper, guarded_import
from ccr.sandbox.hooks import MAX_DEPTH, MAX_VALUES
from ccr.sandbox.policy import ScriptError, compile_script
from ccr.sandbox.process import WorkerDied, WorkerProcess
from ccr.sandbox.transformer import TransformerFile, TransformerScript, check_files

pytestmark = pytest.mark.e2e

CONTEXT = {"provider": "p", "model": "m", "stream": False}

NESTS = """
class Nests:
    name = "nests"

    def transform_request(self, request, ctx):
        inner = {}
        for _ in range(request["depth"]):
            inner = {"x": inner}
        request["deep"] = inner
        return request
"""

SPRAWLS = """
class Sprawls:
    name = "sprawls"

    def transform_request(self, request, ctx):
        request["junk"] = [{}] * request["count"]
        return request
"""


async def _transformer(tmp_path: Path, source: str) -> TransformerScript:
    path = tmp_path / "t.py"
    path.write_text(source)
    file = TransformerFile(path, source, "{}", 2000, 256)
    [described] = check_files([file])
    assert not isinstance(described, str), described
    script = TransformerScript(file, described, workers=1)
    await script.start()
    return script


@pytest.fixture
async def nests(tmp_path: Path) -> AsyncIterator[TransformerScript]:
    script = await _transformer(tmp_path, NESTS)
    yield script
    await script.aclose()


@pytest.fixture
async def sprawls(tmp_path: Path) -> AsyncIterator[TransformerScript]:
    script = await _transformer(tmp_path, SPRAWLS)
    yield script
    await script.aclose()


# -- what a transformer sends back ---------------------------------------------------------------


async def test_transformer_result_nested_too_deeply_is_a_readable_error(
    nests: TransformerScript,
) -> None:
    result = await nests.run("request", {"depth": 950}, ctx=CONTEXT, state={}, options="{}")
    assert result.value is None
    assert result.error == f"t.py: the request result nests more than {MAX_DEPTH} levels deep"


async def test_transformer_result_nested_like_real_json_comes_back(
    nests: TransformerScript,
) -> None:
    result = await nests.run("request", {"depth": 40}, ctx=CONTEXT, state={}, options="{}")
    assert result.error is None
    inner, levels = result.value["deep"], 0
    while inner:
        inner, levels = inner["x"], levels + 1
    assert levels == 40


async def test_transformer_result_of_millions_of_tiny_values_is_refused(
    sprawls: TransformerScript,
) -> None:
    count = MAX_VALUES + 10
    result = await sprawls.run("request", {"count": count}, ctx=CONTEXT, state={}, options="{}")
    assert result.value is None
    assert result.error == f"t.py: the request result holds too many JSON values (at most " \
        f"{MAX_VALUES})"


async def test_transformer_result_with_many_values_below_the_bound_comes_back(
    sprawls: TransformerScript,
) -> None:
    result = await sprawls.run("request", {"count": 50_000}, ctx=CONTEXT, state={},
                               options="{}")
    assert result.error is None
    assert len(result.value["junk"]) == 50_000


# -- a worker that breaks the protocol -------------------------------------------------------------


async def _fake_worker(reply: str, *, line_limit: int = 64 << 20) -> WorkerProcess:
    """A process that answers one line with ``reply`` (a Python expression for the bytes)."""
    code = f"import sys\nsys.stdin.readline()\nsys.stdout.buffer.write({reply})\n"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, limit=line_limit,
    )
    return WorkerProcess(proc)


async def test_reply_line_longer_than_the_limit_is_a_broken_protocol() -> None:
    worker = await _fake_worker("b'{\"output\":\"' + b'x' * (3 << 20) + b'\"}\\n'",
                                line_limit=1 << 20)
    try:
        with pytest.raises(WorkerDied, match="broke the protocol"):
            await worker.exchange(b"{}\n", 10)
        await worker.reap()
        assert not worker.alive  # the server killed it: a worker out of step is never reused
    finally:
        worker.kill()
        await worker.reap()


async def test_reply_nested_too_deeply_to_decode_is_a_broken_protocol_not_a_crash() -> None:
    worker = await _fake_worker("b'{\"value\":' + b'[' * 990 + b']' * 990 + b'}\\n'")
    try:
        with pytest.raises(WorkerDied, match="broke the protocol"):
            await worker.exchange(b"{}\n", 10)
    finally:
        worker.kill()
        await worker.reap()


async def test_reply_with_more_values_than_allowed_is_refused_before_decoding() -> None:
    worker = await _fake_worker("b'{\"value\":[' + b'{},' * 300_000 + b'{}]}\\n'")
    try:
        with pytest.raises(WorkerDied, match="more than 100000 values"):
            await worker.exchange(b"{}\n", 10, max_values=100_000)
    finally:
        worker.kill()
        await worker.reap()


async def test_reply_within_the_value_bound_is_decoded() -> None:
    worker = await _fake_worker("b'{\"value\":[' + b'{},' * 300_000 + b'{}]}\\n'")
    try:
        reply = await worker.exchange(b"{}\n", 10, max_values=700_000)
    finally:
        worker.kill()
        await worker.reap()
    assert len(reply["value"]) == 300_001


# -- text a script chose ------------------------------------------------------------------------


async def test_printed_output_keeps_its_lines_but_not_terminal_controls(tmp_path: Path) -> None:
    path = tmp_path / "custom_router.py"
    path.write_text('def router(req, config):\n    print("a\\tb\\n\\x1b[2Jc\\rd\\u202e")\n')
    async with RouterScript(path, timeout_ms=500, workers=1) as script:
        result = await script.call({"body": {}}, {})
    assert result.output == "a\tb\n\\x1b[2Jc\\rd\\u202e\n"


async def test_load_error_from_module_code_is_logged_on_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "custom_router.py"
    path.write_text('raise ValueError("x\\n2026-11-26 12:00:00,000 INFO forged")\n')
    with caplog.at_level(logging.WARNING, logger="ccr.sandbox.pool"):
        async with RouterScript(path, timeout_ms=500, workers=1) as script:
            await script.call({"body": {}}, {})
    [record] = [r for r in caplog.records if "forged" in r.getMessage()]
    assert "\n" not in record.getMessage()
    assert script.load_error is not None and "\n" not in script.load_error


def test_request_log_line_values_cannot_start_a_new_line() -> None:
    line = request_line({"script_error": "x\n2026-11-26 INFO route=evil\x1b[31m", "status": 200})
    assert line == 'script_error="x\\x0a2026-11-26 INFO route=evil\\x1b[31m" status=200'


@pytest.fixture
def file_logger(tmp_path: Path) -> Iterator[tuple[logging.Logger, Path]]:
    """The ``ccr`` logger writing to a file, as ``ccr serve`` sets it up; restored after."""
    logger = logging.getLogger(LOGGER_NAME)
    requests = logging.getLogger(REQUESTS_LOGGER)
    saved = (list(logger.handlers), logger.level, logger.propagate, requests.level)
    for handler in saved[0]:
        logger.removeHandler(handler)
    setup_logging(home=tmp_path, enabled=True, level="info", console=False)
    yield logger, tmp_path / "logs" / REQUEST_LOG_FILE
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    for handler in saved[0]:
        logger.addHandler(handler)
    logger.setLevel(saved[1])
    logger.propagate = saved[2]
    requests.setLevel(saved[3])


def test_later_lines_of_a_logged_message_are_indented_and_controls_escaped(
    file_logger: tuple[logging.Logger, Path],
) -> None:
    logger, path = file_logger
    logger.warning("printed: %s", "one\n2026-11-26 12:00:00,000 INFO forged\x1b[2J\r")
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(" WARNING printed: one")
    assert lines[1] == "    2026-11-26 12:00:00,000 INFO forged\\x1b[2J\\x0d"


# -- what outlives a call ------------------------------------------------------------------------


def _generator(*body: str) -> str:
    return "def numbers(items):\n" + "".join(f"    {line}\n" for line in body)


@pytest.mark.parametrize("body", [
    ("try:", "    yield 1", "finally:", "    pass"),
    ("try:", "    pass", "except ValueError:", "    yield 1", "finally:", "    pass"),
    ("try:", "    for item in items:", "        yield from item", "except:", "    pass"),
    ("try:", "    pass", "finally:", "    try:", "        yield 1", "    finally:", "        pass"),
])
def test_yield_where_closing_the_generator_runs_script_code_is_refused(
    body: tuple[str, ...],
) -> None:
    with pytest.raises(ScriptError, match="yield inside a try with a finally or a bare except"):
        compile_script(_generator(*body), "custom_router.py")


@pytest.mark.parametrize("body", [
    ("try:", "    yield 1", "except ValueError:", "    pass"),
    ("try:", "    pass", "finally:", "    yield 1"),
    ("try:", "    pass", "except:", "    yield 1"),
    ("try:", "    total = sum(items)", "finally:", "    pass", "yield total"),
    ("try:", "    def inner():", "        yield 1", "finally:", "    pass", "yield from inner()"),
])
def test_yield_whose_generator_closes_without_running_script_code_compiles(
    body: tuple[str, ...],
) -> None:
    assert compile_script(_generator(*body), "custom_router.py") is not None


MODULE_DATA = """
TABLE = "x" * (13 << 20)


def router(req, config):
    return "openrouter,x" if TABLE else None
"""

CLASS_DATA = """
class Table:
    rows = "x" * (13 << 20)


def router(req, config):
    return "openrouter,x" if Table.rows else None
"""

PATTERN_CLASS_DATA = """
import random
import re


class Pattern(str):
    rows = "x" * (13 << 20)


def router(req, config):
    re.compile(Pattern("call-" + str(random.random())))
    return "openrouter,x"
"""


@pytest.mark.parametrize("source", [MODULE_DATA, CLASS_DATA, PATTERN_CLASS_DATA],
                         ids=["module globals", "class attribute", "str subclass cached by re"])
async def test_what_a_call_made_is_freed_before_the_next_call(
    source: str, tmp_path: Path,
) -> None:
    # Each call makes some 13 MB; kept alive, a few calls in a row would fill 96 MB.
    path = tmp_path / "custom_router.py"
    path.write_text(source)
    async with RouterScript(path, timeout_ms=2000, memory_mb=96, workers=1) as script:
        results = [await script.call({"body": {}}, {}) for _ in range(12)]
    assert [(r.value, r.error) for r in results] == [("openrouter,x", None)] * 12


def test_big_patterns_compiled_in_a_call_do_not_stay_cached() -> None:
    re.purge()
    keeper = CacheKeeper(limit=10_000)
    keeper.tidy()
    source = "big-" + "x" * 20_000
    compiled = re.compile(source)
    keeper.tidy()
    assert re.compile(source) is not compiled


def test_small_patterns_stay_cached_from_call_to_call() -> None:
    re.purge()
    keeper = CacheKeeper(limit=10_000)
    compiled = re.compile("small-pattern-[0-9]+")
    keeper.tidy()
    keeper.tidy()
    assert re.compile("small-pattern-[0-9]+") is compiled


def test_import_done_by_c_code_for_itself_hands_the_script_nothing() -> None:
    assert guarded_import("time", None, None, [], 0) is None


@pytest.mark.parametrize("fromlist", [None, (), ("sleep",), ["sleep"]])
def test_import_statements_of_internal_modules_stay_refused(fromlist: Any) -> None:
    with pytest.raises(ImportError, match="'time' may not be imported"):
        guarded_import("time", None, None, fromlist, 0)


# -- switching off -------------------------------------------------------------------------------


async def test_script_that_crashes_every_other_call_is_switched_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pool, "_STRIKES_PER_WINDOW", 3)
    path = tmp_path / "custom_router.py"
    path.write_text(
        "def router(req, config):\n"
        "    if req.token_count % 2:\n"
        "        hoard = 'a' * (10 ** 10)\n"
        '    return "openrouter,x"\n'
    )
    results = []
    async with RouterScript(path, timeout_ms=500, memory_mb=96, disable_after=2) as script:
        for n in range(8):
            results.append(await script.call({"body": {}, "token_count": n}, {}))
    assert [r.disabled for r in results] == [False] * 6 + [True] * 2
    assert [r.value for r in results[:6]] == ["openrouter,x", None] * 3
    assert results[6].error is not None
    assert "3 calls within 60s crashed or timed out" in results[6].error
    assert "MemoryError" in results[6].error
