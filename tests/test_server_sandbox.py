"""A router script inside a real server: it cannot stall other requests, grow the server,
read secrets, break the config or need a restart to change.

In-process servers (``CcrServer``) are used where the behaviour is per request; a
``ccr serve`` subprocess where the server process itself is measured (its memory) or its
environment and log file matter (the canaries).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.route_helpers import PROJECT, route_rows, run_route, write_json, write_script
from tests.support.serve_process import ServeProcess

pytestmark = pytest.mark.e2e

SHARED_HOSTILE = PROJECT.parent / "shared" / "hostile"
OWN_HOSTILE = PROJECT / "tests" / "hostile"

#: A script error as users read it: the file (and line), then what went wrong, on one line.
READABLE_ERROR = re.compile(r"^custom_router\.py(:\d+)?: \S[^\n]*$")


def body(text: str) -> dict[str, Any]:
    return {"model": "claude-sonnet-4", "max_tokens": 64,
            "messages": [{"role": "user", "content": text}]}


def edit_script(path: Path, source: str) -> None:
    """Rewrite the script so that its modification time surely moves."""
    before = path.stat().st_mtime_ns
    path.write_text(source)
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def post(url: str, text: str, client: httpx.Client | None = None, **kwargs: Any
         ) -> httpx.Response:
    send = client.post if client is not None else httpx.post
    return send(f"{url}/v1/messages", json=body(text), timeout=20, **kwargs)


def script_errors(lines: list[str]) -> list[str]:
    """The ``script_error`` values of request log lines."""
    return [m.group(1) for line in lines for m in re.finditer(r'script_error="([^"]*)"', line)]


class _ListHandler(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.INFO)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def ccr_log() -> Iterator[list[str]]:
    """What in-process servers log to the ``ccr`` logger during the test."""
    logger = logging.getLogger("ccr")
    lines: list[str] = []
    handler = _ListHandler(lines)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def wait_for_log(lines: list[str], count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(script_errors(lines)) < count and time.monotonic() < deadline:
        time.sleep(0.02)


class SandboxServe(ServeProcess):
    """``ccr serve`` on a config written into ``folder``, with its own HOME too."""

    def __init__(self, config: dict[str, Any], folder: Path,
                 env: dict[str, str] | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.config_path = folder / "config.json"
        self.config_path.write_text(json.dumps(config))
        home = folder / "home"
        super().__init__(home=home, config_path=self.config_path,
                         env={"HOME": str(home), **(env or {})}, apikey=config.get("APIKEY"))

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        assert match is not None
        return int(match.group(1))

    def log_text(self) -> str:
        return "".join(p.read_text() for p in sorted((self.home / "logs").glob("ccr.log*")))


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., SandboxServe]]:
    started: list[SandboxServe] = []

    def start(config: dict[str, Any], env: dict[str, str] | None = None) -> SandboxServe:
        process = SandboxServe(config, tmp_path / f"serve{len(started)}", env)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.stop()


# -- a script that never returns ----------------------------------------------------------------

LOOP_ON_REQUEST = '''\
def router(req, config):
    if "loop" in req.body["messages"][-1]["content"]:
        while True:
            pass
    return None
'''


def test_a_looping_script_call_does_not_hold_up_other_requests(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path, ccr_log: list[str]
) -> None:
    timeout_s = 1.0
    script = write_script(tmp_path, LOOP_ON_REQUEST)
    server = make_ccr(fake_config(fake, CUSTOM_ROUTER_PATH=str(script),
                                  CUSTOM_ROUTER_TIMEOUT_MS=timeout_s * 1000,
                                  CUSTOM_ROUTER_WORKERS=2))
    client = httpx.Client()
    assert post(server.base_url, "warm up", client).status_code == 200
    looping: dict[str, Any] = {}

    def ask_looping() -> None:
        started = time.perf_counter()
        looping["response"] = post(server.base_url, "please loop", client)
        looping["seconds"] = time.perf_counter() - started

    def ask_other(n: int) -> tuple[int, float]:
        started = time.perf_counter()
        response = post(server.base_url, f"question {n}", client)
        return response.status_code, time.perf_counter() - started

    thread = threading.Thread(target=ask_looping)
    thread.start()
    time.sleep(0.1)  # the looping call is now inside a sandbox worker
    with ThreadPoolExecutor(4) as pool:
        others = list(pool.map(ask_other, range(20)))
    still_looping = thread.is_alive()
    thread.join(10)
    client.close()

    assert [status for status, _ in others] == [200] * 20
    assert max(seconds for _, seconds in others) < 1.0
    assert still_looping, "the 20 requests were not served while the script was looping"
    assert looping["response"].status_code == 200
    assert looping["seconds"] < timeout_s + 1.0
    assert {r.body["model"] for r in fake.chat_requests} == {"fake-model"}
    wait_for_log(ccr_log, 1)
    assert any("timed out after 1000 ms" in e for e in script_errors(ccr_log))


# -- a script that allocates too much --------------------------------------------------------------

MEMORY_BOMB = '''\
def router(req, config):
    if "bomb" in req.body["messages"][-1]["content"]:
        big = "a" * 10**10
        return big[:1]
    return None
'''


def test_a_memory_bomb_leaves_the_server_process_memory_unchanged(
    serve: Callable[..., SandboxServe], fake: FakeUpstream, tmp_path: Path
) -> None:
    script = write_script(tmp_path, MEMORY_BOMB)
    server = serve(fake_config(fake, CUSTOM_ROUTER_PATH=str(script), LOG=True))
    for n in range(10):
        assert post(server.url, f"warm up {n}").status_code == 200
    before_kb = server.rss_kb()
    for n in range(5):
        assert post(server.url, f"bomb {n}").status_code == 200
    after_kb = server.rss_kb()
    assert post(server.url, "still there?").status_code == 200
    assert after_kb - before_kb < 5 * 1024, (before_kb, after_kb)
    assert {r.body["model"] for r in fake.chat_requests} == {"fake-model"}
    assert "custom_router.py:3: MemoryError" in server.log_text()


# -- a script that hunts for secrets ---------------------------------------------------------------

SECRET_HUNT = '''\
import datetime
import json


def collect(obj, depth, out):
    if depth > 12:
        return
    if isinstance(obj, str):
        out.append(obj)
    elif isinstance(obj, dict):
        for key in obj:
            out.append(str(key))
            collect(obj[key], depth + 1, out)
    elif isinstance(obj, list):
        for item in obj:
            collect(item, depth + 1, out)
    else:
        out.append(str(obj))


def attempt(out, what):
    try:
        out.append(str(what()))
    except Exception as exc:
        out.append(repr(exc))


def router(req, config):
    found = []
    collect(config, 0, found)
    collect(dict(req), 0, found)
    found.append(json.dumps(config))
    found.append(repr(req))

    def use_os():
        import os
        return os.environ

    def use_sys():
        import sys
        return sys.modules

    attempt(found, use_os)
    attempt(found, use_sys)
    attempt(found, lambda: open("/proc/self/environ").read())
    attempt(found, lambda: getattr(datetime, "sys"))
    attempt(found, lambda: getattr(json, "codecs"))
    attempt(found, lambda: getattr(getattr(req, "get"), "__globals__"))
    attempt(found, lambda: vars(req))
    hits = [s for s in found if "canary" in s.lower() or s.startswith("sk-")]
    report = "PROBE:" + "|".join(hits) + ":" + str(len(found))
    channel = req.body["messages"][-1]["content"]
    print(report)
    if channel == "raise":
        raise ValueError(report)
    if channel == "return":
        return "fake," + report
    return None
'''


def test_canary_secrets_reach_no_response_log_line_error_or_dry_run(
    serve: Callable[..., SandboxServe], fake: FakeUpstream, tmp_path: Path
) -> None:
    provider_key = f"sk-canary-{secrets.token_hex(8)}"
    client_key = f"ccr-canary-{secrets.token_hex(8)}"
    env_canary = secrets.token_hex(12)
    canaries = (provider_key, client_key, env_canary)
    script = write_script(tmp_path, SECRET_HUNT)
    config = fake_config(fake, CUSTOM_ROUTER_PATH=str(script), LOG=True, APIKEY=client_key)
    config["Providers"][0]["api_key"] = provider_key
    server = serve(config, env={"CCR_CANARY": env_canary})

    bodies = []
    for channel in ("raise", "return", "print"):
        for auth in ({"x-api-key": client_key}, {"authorization": f"Bearer {client_key}"}):
            response = post(server.url, channel, headers=auth)
            assert response.status_code == 200, response.text
            bodies.append(response.text)
    assert all(r.headers["authorization"] == f"Bearer {provider_key}"
               for r in fake.chat_requests), "the canary key is not the one in use"
    requests = tmp_path / "requests"
    for channel in ("raise", "return"):
        write_json(requests / f"{channel}.json", body(channel))
    dry_run = run_route(server.config_path, requests, args=("--json",), home=server.home,
                        env={"CCR_CANARY": env_canary})
    log = server.log_text()
    console = server.stop()

    errors = [r["script_error"] for r in route_rows(dry_run)]
    assert all(e is not None and "PROBE:" in e for e in errors), errors
    assert log.count("PROBE:") >= 4, log  # both error channels really reach the log
    for canary in canaries:
        for where, text_ in [("response", "".join(bodies)), ("log", log), ("console", console),
                             ("dry run", dry_run.stdout + dry_run.stderr)]:
            assert canary not in text_, f"{canary} leaked into the {where}"


# -- the hostile scripts: ../shared/hostile where present, tests/hostile always ---------------

HOSTILE = [pytest.param(p, id=f"shared/{p.stem}") for p in sorted(SHARED_HOSTILE.glob("*.py"))]
HOSTILE += [pytest.param(p, id=f"own/{p.stem}") for p in sorted(OWN_HOSTILE.glob("*.py"))]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_script_ends_in_the_default_route_with_a_readable_error(
    hostile: Path, make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path, ccr_log: list[str]
) -> None:
    script = tmp_path / "custom_router.py"
    shutil.copy(hostile, script)
    server: CcrServer = make_ccr(fake_config(fake, CUSTOM_ROUTER_PATH=str(script)))
    state = server.state
    raw, routes, seen_by_scripts = (copy.deepcopy(state.config.raw), state.config.routes(),
                                    copy.deepcopy(state.engine.script_config))
    for n in range(2):
        response = post(server.base_url, f"hello {n}")
        assert response.status_code == 200, response.text
        assert response.json()["content"][0]["text"] == "Hello from fake."
    assert [r.body["model"] for r in fake.chat_requests] == ["fake-model", "fake-model"]
    wait_for_log(ccr_log, 2)
    errors = script_errors(ccr_log)
    assert len(errors) == 2, ccr_log
    for error in errors:
        assert READABLE_ERROR.match(error), error
        assert "Traceback" not in error and "/ccr/" not in error
        assert "sk-fake-upstream-key" not in error
    assert (state.config.raw, state.config.routes(), state.engine.script_config) == (
        raw, routes, seen_by_scripts)


# -- editing the script while the server runs -------------------------------------------------

FALLS_THROUGH = 'def router(req, config):\n    return None\n'
PICKS_LARGE = 'def router(req, config):\n    return "fake,fake-model-large"\n'
BROKEN = 'def router(req, config):\n    return "fake,fake-model" +\n'


def model_after(server: CcrServer, fake: FakeUpstream) -> str:
    assert post(server.base_url, "hi").status_code == 200
    return fake.chat_requests[-1].body["model"]


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def wait_for_load_error(server: CcrServer, fake: FakeUpstream) -> str | None:
    """Send requests (each makes the script check its file) until a load error shows up."""
    runner = server.state.engine.script

    def seen() -> bool:
        model_after(server, fake)
        return runner.load_error is not None

    wait_until(seen)
    return runner.load_error


@pytest.fixture
def reloading(make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path) -> tuple[CcrServer, Path]:
    script = write_script(tmp_path, FALLS_THROUGH)
    server = make_ccr(fake_config(fake, CUSTOM_ROUTER_PATH=str(script)))
    assert model_after(server, fake) == "fake-model"
    return server, script


def test_an_edited_script_takes_effect_without_a_restart(
    reloading: tuple[CcrServer, Path], fake: FakeUpstream
) -> None:
    server, script = reloading
    edited_at = time.monotonic()
    edit_script(script, PICKS_LARGE)
    assert wait_until(lambda: model_after(server, fake) == "fake-model-large")
    assert time.monotonic() - edited_at < 2.0


def test_an_edit_that_does_not_compile_keeps_the_last_good_version(
    reloading: tuple[CcrServer, Path], fake: FakeUpstream
) -> None:
    server, script = reloading
    edit_script(script, PICKS_LARGE)
    assert wait_until(lambda: model_after(server, fake) == "fake-model-large")
    edit_script(script, BROKEN)
    error = wait_for_load_error(server, fake)
    assert error is not None and error.startswith("custom_router.py:2: SyntaxError"), error
    assert [model_after(server, fake) for _ in range(3)] == ["fake-model-large"] * 3


def test_fixing_a_broken_edit_brings_the_script_back(
    reloading: tuple[CcrServer, Path], fake: FakeUpstream
) -> None:
    server, script = reloading
    edit_script(script, BROKEN)
    assert wait_for_load_error(server, fake) is not None
    edit_script(script, PICKS_LARGE)
    assert wait_until(lambda: model_after(server, fake) == "fake-model-large")
    assert server.state.engine.script.load_error is None
