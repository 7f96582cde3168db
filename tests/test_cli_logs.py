"""``ccr logs``: the end of the request log, one session's lines, and following across rotation."""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccr.cli.logs import follow_lines, session_matcher
from ccr.cli.main import app
from ccr.logs import request_line

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ccr-home"
    (home / "logs").mkdir(parents=True)
    monkeypatch.setenv("CCR_HOME", str(home))
    return home


def _line(n: int, session: str = "s-1") -> str:
    fields = {"session": session, "rule": "default", "route": "p,m", "status": 200, "n": n}
    return "2026-11-26 12:00:00,000 INFO " + request_line(fields)


def _write_log(home: Path, lines: list[str]) -> Path:
    path = home / "logs" / "ccr.log"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _logs(*args: str) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(app, ["logs", *args])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_prints_the_last_fifty_lines_by_default(home: Path) -> None:
    lines = [_line(i) for i in range(120)]
    _write_log(home, lines)

    code, out, _ = _logs()

    assert code == 0
    assert out == lines[-50:]


def test_n_sets_how_many_lines(home: Path) -> None:
    lines = [_line(i) for i in range(20)]
    _write_log(home, lines)

    assert _logs("-n", "3")[1] == lines[-3:]
    assert _logs("-n", "100")[1] == lines


def test_a_large_log_is_tailed_from_its_end(home: Path) -> None:
    lines = [_line(i) + " " + "x" * 200 for i in range(5000)]
    _write_log(home, lines)

    assert _logs("-n", "2")[1] == lines[-2:]


def test_session_keeps_only_that_sessions_lines(home: Path) -> None:
    lines = [_line(i, session=["abc", "abcd", "other"][i % 3]) for i in range(30)]
    _write_log(home, [*lines, "2026-11-26 12:00:01,000 INFO ccr listening on ..."])

    _, out, _ = _logs("--session", "abc", "-n", "4")

    assert out == [line for line in lines if "session=abc " in line][-4:]


def test_session_matches_whole_field_values_only() -> None:
    match = session_matcher("abc")
    stamp = "2026-11-26 12:00:00,000 INFO"

    assert match(f"{stamp} session=abc rule=default")
    assert match(f'{stamp} session="abc"')
    assert not match(f"{stamp} session=abcd rule=default")
    assert not match(f"{stamp} project_session=abc")


def test_session_filter_ignores_indented_continuation_lines() -> None:
    # a script's error text could try to look like a record of another session
    assert not session_matcher("victim")("    2026-11-26 12:00:00,000 INFO session=victim")


def test_no_log_file_is_a_clear_message_with_a_hint(home: Path) -> None:
    code, out, err = _logs()

    assert code == 1
    assert out == []
    assert str(home / "logs" / "ccr.log") in err
    assert '"LOG": true' in err


def test_no_log_file_with_logging_off_says_so(home: Path) -> None:
    (home / "config.json").write_text(json.dumps({"LOG": False}))

    _, _, err = _logs()

    assert '"LOG": false' in err


def test_following_starts_over_when_the_file_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "ccr.log"
    path.write_text("a first, rather long line\n")
    lines = follow_lines(path, lambda line: True, interval_s=0.01)

    first = next(lines)
    path.write_text("second\n")
    second = next(lines)
    lines.close()

    assert [first, second] == ["a first, rather long line", "second"]


class _Reader:
    """``ccr logs -f`` in its own process, its stdout lines readable with a timeout."""

    def __init__(self, home: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ccr", "logs", "-f", *args], cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ,
                                                                 "CCR_HOME": str(home)},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def next(self) -> str:
        return self.lines.get(timeout=10)

    def interrupt(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        _, err = self.process.communicate(timeout=10)
        return self.process.returncode, err


@pytest.fixture
def server_log(home: Path) -> Iterator[Callable[[int], logging.Logger]]:
    """Loggers writing ccr.log as the server does (created on the first line, rotating
    every ``max_bytes`` when that is not 0)."""
    handlers: list[logging.Handler] = []

    def make(max_bytes: int) -> logging.Logger:
        handler = logging.handlers.RotatingFileHandler(
            home / "logs" / "ccr.log", maxBytes=max_bytes, backupCount=3, encoding="utf-8",
            delay=True,
        )
        handlers.append(handler)
        logger = logging.getLogger(f"test-ccr-logs-{id(handler)}")
        logger.propagate = False
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        return logger

    yield make
    for handler in handlers:
        handler.close()


def test_follow_prints_new_lines_across_rotations_and_ctrl_c_ends_it(
    home: Path, server_log: Callable[[int], logging.Logger]
) -> None:
    log = home / "logs" / "ccr.log"
    rotating = server_log(300)
    rotating.info(_line(0))
    reader = _Reader(home, "-n", "1")
    try:
        assert reader.next() == _line(0)
        inodes = {log.stat().st_ino}
        for i in range(1, 10):
            rotating.info(_line(i))
            inodes.add(log.stat().st_ino)
            assert reader.next() == _line(i)
    finally:
        code, err = reader.interrupt()

    assert len(inodes) >= 3  # the file was replaced at least twice
    assert code == 0
    assert "Traceback" not in err


def test_follow_waits_for_the_log_and_filters_by_session(
    home: Path, server_log: Callable[[int], logging.Logger]
) -> None:
    reader = _Reader(home, "--session", "mine")
    try:
        assert reader.process.stderr is not None
        waiting = reader.process.stderr.readline()
        log = server_log(0)
        for i in range(8):
            log.info(_line(i, session="mine" if i % 2 else "theirs"))
        got = [reader.next() for _ in range(4)]
    finally:
        code, _ = reader.interrupt()

    assert "waiting for" in waiting
    assert got == [_line(i, session="mine") for i in (1, 3, 5, 7)]
    assert code == 0
