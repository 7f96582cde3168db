"""``ccr start / stop / restart / status``, driven as a user would, with real server processes.

Every test gets its own ``CCR_HOME`` and port; every process a test starts (servers included)
is killed when it ends, pass or fail.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.ccr_server import free_port
from tests.support.cli_helpers import CcrHome, alive, start, wait_dead

pytestmark = pytest.mark.e2e

RECORD_KEYS = {"pid", "port", "host", "started_at", "config"}


@pytest.fixture
def ccr(tmp_path: Path) -> Iterator[CcrHome]:
    with CcrHome(tmp_path) as home:
        yield home


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.fixture
def other_program(ccr: CcrHome) -> subprocess.Popen[Any]:
    """A live process that is not ccr (its pid is what a stale PID file may name)."""
    return ccr.popen(["sleep", "60"])


# --------------------------------------------------------------------------------------------
# start


def test_start_runs_the_server_in_the_background_and_prints_its_url(ccr: CcrHome) -> None:
    result = ccr.run("start", "--config", str(ccr.config))
    assert result.returncode == 0, result.stderr
    assert ccr.url in result.stdout
    record = ccr.record()
    assert record is not None and RECORD_KEYS <= set(record)
    assert record["port"] == ccr.port and record["config"] == str(ccr.config)
    health = ccr.health()
    assert health is not None and health["pid"] == record["pid"]


def test_the_background_server_is_detached_with_output_in_serve_out(ccr: CcrHome) -> None:
    pid = start(ccr)["pid"]
    session_id = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
    assert session_id == pid  # leader of its own session: no terminal signals reach it
    assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"
    out = ccr.home / "logs" / "serve.out"
    assert os.readlink(f"/proc/{pid}/fd/1") == str(out)
    assert os.readlink(f"/proc/{pid}/fd/2") == str(out)
    assert "ccr listening on" in out.read_text()


def test_start_when_already_running_says_so_with_the_url_and_exits_0(ccr: CcrHome) -> None:
    first = start(ccr)
    again = ccr.run("start", "--config", str(ccr.config))
    assert again.returncode == 0
    assert "already running" in again.stdout and ccr.url in again.stdout
    assert ccr.record() == first


def test_a_pid_file_naming_a_dead_process_does_not_block_start(ccr: CcrHome) -> None:
    stale = dead_pid()
    ccr.write_record(stale)
    record = start(ccr)
    assert record["pid"] != stale
    assert ccr.health()["pid"] == record["pid"]


def test_a_pid_file_naming_another_program_is_replaced_and_the_program_left_alone(
    ccr: CcrHome, other_program: subprocess.Popen[Any],
) -> None:
    ccr.write_record(other_program.pid)
    record = start(ccr)
    assert record["pid"] != other_program.pid
    assert ccr.health()["pid"] == record["pid"]
    assert other_program.poll() is None


def test_a_port_in_use_by_another_program_is_an_error_naming_the_port(ccr: CcrHome) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ccr.port))
        taken.listen()
        result = ccr.run("start", "--config", str(ccr.config))
    assert result.returncode != 0
    assert f"port {ccr.port}" in result.stderr and "in use" in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
    assert not ccr.pid_path.exists()


def test_debug_shows_the_traceback_of_an_error(ccr: CcrHome) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ccr.port))
        taken.listen()
        result = ccr.run("start", "--config", str(ccr.config), "--debug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and f"port {ccr.port}" in result.stderr


def test_a_server_that_dies_at_startup_shows_its_last_output(ccr: CcrHome) -> None:
    result = ccr.run("start", "--config", str(ccr.config), "--host", "0.0.0.0")
    assert result.returncode != 0
    assert "refusing to listen on 0.0.0.0 without APIKEY" in result.stderr  # serve's own words
    assert "exited during startup" in result.stderr
    assert not ccr.pid_path.exists()


def test_an_invalid_config_fails_before_anything_starts(ccr: CcrHome) -> None:
    ccr.config.write_text('{"PORT": "not a port"}')
    result = ccr.run("start", "--config", str(ccr.config))
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr and "PORT" in result.stderr
    assert not ccr.pid_path.exists()


def test_port_and_host_options_pass_through_to_the_server(ccr: CcrHome) -> None:
    other_port = free_port()
    record = start(ccr, "--port", str(other_port), "--host", "127.0.0.1")
    assert record["port"] == other_port
    assert ccr.health(other_port)["pid"] == record["pid"]
    assert ccr.health() is None


# --------------------------------------------------------------------------------------------
# stop


def test_stop_ends_the_server_and_removes_the_pid_file(ccr: CcrHome) -> None:
    pid = start(ccr)["pid"]
    result = ccr.run("stop")
    assert result.returncode == 0
    assert "stopped" in result.stdout
    assert wait_dead(pid, 2)
    assert not ccr.pid_path.exists()
    assert "SIGTERM: shutting down" in (ccr.home / "logs" / "serve.out").read_text()


def test_stop_when_not_running_says_so_and_exits_0(ccr: CcrHome) -> None:
    result = ccr.run("stop")
    assert result.returncode == 0
    assert "not running" in result.stdout


def test_stop_removes_a_stale_pid_file_and_leaves_the_other_program_alone(
    ccr: CcrHome, other_program: subprocess.Popen[Any],
) -> None:
    ccr.write_record(other_program.pid)
    result = ccr.run("stop")
    assert result.returncode == 0
    assert "stale" in result.stdout
    assert not ccr.pid_path.exists()
    time.sleep(0.1)
    assert other_program.poll() is None


def test_stop_kills_a_server_that_does_not_exit_after_the_timeout(
    ccr: CcrHome, tmp_path: Path,
) -> None:
    stubborn = tmp_path / "stubbornccr.py"  # its command line reads as "... ccr ... serve"
    stubborn.write_text(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\ntime.sleep(60)\n")
    process = ccr.popen([sys.executable, str(stubborn), "serve"], stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
    ccr.write_record(process.pid)
    started = time.monotonic()
    result = ccr.run("stop", "--timeout", "0.5")
    assert result.returncode == 0
    assert "killed" in result.stdout
    assert process.wait(5) == -signal.SIGKILL
    assert time.monotonic() - started < 5
    assert not ccr.pid_path.exists()


def test_a_server_stopped_by_sigterm_from_elsewhere_removes_its_pid_file(ccr: CcrHome) -> None:
    pid = start(ccr)["pid"]
    os.kill(pid, signal.SIGTERM)
    assert wait_dead(pid)
    assert not ccr.pid_path.exists()


# --------------------------------------------------------------------------------------------
# restart


def test_restart_replaces_the_server_with_a_new_process(ccr: CcrHome) -> None:
    old = start(ccr)["pid"]
    result = ccr.run("restart")
    assert result.returncode == 0, result.stderr
    new = ccr.record()["pid"]
    assert new != old and not alive(old)
    assert ccr.health()["pid"] == new


def test_restart_keeps_the_config_file_and_applies_its_changed_port(ccr: CcrHome) -> None:
    start(ccr)
    new_port = free_port()
    ccr.write_config({"LOG": False, "PORT": new_port})
    result = ccr.run("restart")
    assert result.returncode == 0, result.stderr
    record = ccr.record()
    assert record["port"] == new_port and record["config"] == str(ccr.config)
    assert ccr.health(new_port)["pid"] == record["pid"]


def test_restart_when_not_running_starts_it(ccr: CcrHome) -> None:
    result = ccr.run("restart", "--config", str(ccr.config))
    assert result.returncode == 0, result.stderr
    assert ccr.health()["pid"] == ccr.record()["pid"]


# --------------------------------------------------------------------------------------------
# status


def test_status_of_a_running_server_shows_pid_url_uptime_version_config_and_requests(
    ccr: CcrHome,
) -> None:
    record = start(ccr)
    httpx.post(ccr.url + "/v1/messages", content=b"not json", trust_env=False)
    result = ccr.run("status")
    assert result.returncode == 0
    for expected in (ccr.url, str(record["pid"]), "uptime", "0.1.0", str(ccr.config),
                     "1 (1 error)"):
        assert expected in result.stdout


def test_status_json_is_one_object_with_the_server_facts(ccr: CcrHome) -> None:
    record = start(ccr)
    result = ccr.run("status", "--json")
    assert result.returncode == 0
    info = json.loads(result.stdout)
    assert info["running"] is True and info["healthy"] is True
    assert info["pid"] == record["pid"] and info["url"] == ccr.url
    assert info["config"] == str(ccr.config) and info["requests"] == 0
    assert info["reload_error"] is None and info["uptime_s"] >= 0


def test_status_exits_3_when_not_running(ccr: CcrHome) -> None:
    result = ccr.run("status")
    assert result.returncode == 3
    assert "not running" in result.stdout
    as_json = ccr.run("status", "--json")
    assert as_json.returncode == 3 and json.loads(as_json.stdout)["running"] is False


def test_status_with_a_stale_pid_file_reports_not_running(ccr: CcrHome) -> None:
    ccr.write_record(dead_pid())
    result = ccr.run("status", "--json")
    assert result.returncode == 3
    info = json.loads(result.stdout)
    assert info["running"] is False and info["stale_pid_file"] is True


def test_status_shows_the_last_config_reload_error(ccr: CcrHome) -> None:
    start(ccr)
    ccr.write_config({"PORT": ccr.port, "LOG": False, "Router": {"default": 42}})
    deadline = time.monotonic() + 10
    while (ccr.health() or {}).get("reload_error") is None and time.monotonic() < deadline:
        time.sleep(0.2)
    result = ccr.run("status")
    assert result.returncode == 0
    assert "reload error" in result.stdout and "Router.default" in result.stdout


def test_status_finds_a_foreground_server_without_a_pid_file(ccr: CcrHome) -> None:
    server = ccr.popen([sys.executable, "-m", "ccr", "serve", "--config", str(ccr.config)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while ccr.health() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    result = ccr.run("status", "--json")
    assert result.returncode == 0
    info = json.loads(result.stdout)
    assert info["running"] is True and info["started_by"] == "foreground"
    assert info["pid"] == server.pid
