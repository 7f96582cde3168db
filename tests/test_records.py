"""Recording traffic: one JSON line per request, rotated and bounded, never a credential, and
never blocking the caller."""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

from ccr.config.records import RecordSettings
from ccr.context.records import (
    RecordWriter,
    build_record,
    is_record,
    record_files,
    replay_body,
    safe_headers,
)
from tests.support.claude_code_requests import local

AT = datetime.datetime(2026, 12, 6, 23, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))


def record(**overrides: Any) -> dict[str, Any]:
    recorded = local("plain")
    fields: dict[str, Any] = dict(
        body=recorded["body"], headers=recorded["headers"], session_id="s1", at=AT,
        rule="default", route="p,m", reason="Router.default", status=200,
        usage={"input_tokens": 17000, "output_tokens": 12}, latency_ms=812.34)
    fields.update(overrides)
    return build_record(**fields)


def lines(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in record_files(folder)
            for line in path.read_text().splitlines()]


def test_recording_is_off_unless_enabled() -> None:
    assert not RecordSettings.from_config({}).enabled
    assert not RecordSettings.from_config({"RECORD": {"enabled": "yes"}}).enabled
    assert RecordSettings.from_config({"RECORD": {"enabled": True}}) == RecordSettings(True, 200)
    assert RecordSettings.from_config({"RECORD": {"enabled": True, "max_mb": 5}}).max_mb == 5
    assert RecordWriter.for_settings(RecordSettings(), Path("/nonexistent")) is None


def test_a_record_holds_request_time_decision_and_outcome() -> None:
    line = record()
    assert line["time"] == "2026-12-06T23:30:00+01:00"
    assert line["session_id"] == "s1"
    assert line["body"]["model"] == "claude-opus-4-8"
    assert line["decision"] == {"rule": "default", "route": "p,m", "reason": "Router.default",
                                "script_error": None}
    assert line["outcome"] == {"status": 200, "usage": {"input_tokens": 17000,
                                                        "output_tokens": 12},
                               "latency_ms": 812.3, "error": None}
    assert is_record(line) and not is_record(local("plain"))


def test_credential_headers_never_reach_a_record() -> None:
    headers = {"Authorization": "Bearer sk-live-1", "x-api-key": "sk-live-2", "Cookie": "c=1",
               "X-Goog-Api-Key": "g", "Proxy-Authorization": "p", "x-auth-token": "t",
               "anthropic-version": "2023-06-01", "X-Claude-Code-Session-Id": "s1"}
    assert safe_headers(headers) == {"anthropic-version": "2023-06-01",
                                     "x-claude-code-session-id": "s1"}
    text = json.dumps(record(headers=headers))
    assert "sk-live" not in text and "Bearer" not in text


def test_writer_appends_one_line_per_record(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path / "records")
    for n in range(3):
        assert writer.write(record(session_id=f"s{n}"))
    assert writer.flush()
    assert [line["session_id"] for line in lines(tmp_path / "records")] == ["s0", "s1", "s2"]
    writer.close()


def test_record_files_are_private_to_the_user(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path / "records")
    writer.write(record())
    writer.close()
    [path] = record_files(tmp_path / "records")
    assert path.stat().st_mode & 0o077 == 0


def test_files_rotate_and_the_folder_stays_within_its_budget(tmp_path: Path) -> None:
    folder = tmp_path / "records"
    size = len(json.dumps(record()))
    writer = RecordWriter(folder, max_mb=size * 12 / (1024 * 1024))
    for n in range(60):
        writer.write(record(session_id=f"s{n}"))
    writer.close()
    files = record_files(folder)
    assert len(files) > 2
    assert sum(p.stat().st_size for p in files) <= writer.max_bytes
    kept = [line["session_id"] for line in lines(folder)]
    assert kept[-1] == "s59" and "s0" not in kept


def test_a_full_queue_drops_instead_of_blocking(tmp_path: Path) -> None:
    writer = RecordWriter(tmp_path / "records", queue_size=1)
    big = record()
    started = time.perf_counter()
    results = [writer.write(big) for _ in range(200)]
    elapsed = time.perf_counter() - started
    writer.close()
    assert not all(results) and writer.dropped == results.count(False)
    assert elapsed < 1.0
    assert writer.written == results.count(True)


def test_an_unwritable_folder_is_logged_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "records"
    blocker.write_text("a file where the folder should be")
    writer = RecordWriter(blocker)
    assert writer.write(record())
    writer.flush()
    writer.close()
    assert writer.dropped == 1


def test_a_subagent_tag_removed_by_routing_is_put_back_for_a_replay() -> None:
    body = {"system": [{"type": "text", "text": "billing"},
                       {"type": "text", "text": "You search."}], "messages": []}
    line = record(body=body, rule="subagent", route="p,m", subagent_tag="p,m")
    assert line["decision"]["subagent_tag"] == "p,m"
    replayed = replay_body(line)
    assert replayed["system"][-1]["text"] == (
        "<CCR-SUBAGENT-MODEL>p,m</CCR-SUBAGENT-MODEL>You search.")
    assert body["system"][-1]["text"] == "You search."


def test_a_record_without_a_tag_replays_its_body_as_is() -> None:
    line = record()
    assert replay_body(line) is line["body"]
