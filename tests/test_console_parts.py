"""The console's rules on their own: how keys are shown and hidden, the admin token file, the
request log reader, usage totals and the provider form's edits."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import json5
import pytest

from ccr.logs import request_line
from ccr.ui import edits, requestlog
from ccr.ui.masking import (
    PlaceholderError,
    key_display,
    mask_text,
    scrub_assignments,
    secret_values,
    unmask_text,
)
from ccr.ui.token import ensure_token, read_token, rotate_token, token_matches
from ccr.ui.usage import cost_of, summarize

KEY = "sk-live-0123456789abcdef"

CONFIG_TEXT = f"""{{
  // keys below
  "APIKEY": "client-secret-value-99",
  "Providers": [
    {{"name": "a", "api_base_url": "https://user:pa55word@proxy.example/v1/chat/completions",
      "api_key": "{KEY}", "models": ["m"]}},
    {{"name": "b", "api_base_url": "http://127.0.0.1:1/v1", "api_key": "$B_KEY", "models": ["m"]}},
  ],
  "Router": {{"default": "a,m"}},
}}
"""


# -- keys on screen ----------------------------------------------------------------------------


def test_a_literal_key_is_shown_as_set_with_its_last_four() -> None:
    assert key_display(KEY, {}) == {"kind": "literal", "variable": None, "set": True,
                                    "last4": "cdef", "text": "set …cdef"}


def test_a_short_key_is_shown_as_set_only() -> None:
    assert key_display("abc123", {})["text"] == "set"


def test_a_variable_key_says_whether_the_variable_is_set() -> None:
    assert key_display("$B_KEY", {})["text"] == "$B_KEY (NOT SET)"
    assert key_display("${B_KEY}", {"B_KEY": KEY})["text"] == "$B_KEY (set …cdef)"


def test_no_key_is_shown_as_no_key() -> None:
    assert key_display(None, {})["kind"] == "none"
    assert key_display("  ", {})["text"] == "no key"


# -- the config editor's placeholders -----------------------------------------------------


def test_secrets_are_keys_the_client_key_and_url_credentials_but_not_variables() -> None:
    found = secret_values(json5.loads(CONFIG_TEXT))
    assert KEY in found and "client-secret-value-99" in found
    assert any("pa55word" in s for s in found)
    assert "$B_KEY" not in found


def test_masked_text_keeps_comments_and_hides_every_secret() -> None:
    masked = mask_text(CONFIG_TEXT, json5.loads(CONFIG_TEXT))
    assert "// keys below" in masked.text
    for secret in (KEY, "client-secret-value-99", "pa55word"):
        assert secret not in masked.text
    assert "***secret" in masked.text and "$B_KEY" in masked.text


def test_unmasking_the_untouched_text_gives_the_file_back() -> None:
    masked = mask_text(CONFIG_TEXT, json5.loads(CONFIG_TEXT))
    assert unmask_text(masked.text, masked) == CONFIG_TEXT


def test_an_edit_around_the_placeholders_keeps_the_keys() -> None:
    masked = mask_text(CONFIG_TEXT, json5.loads(CONFIG_TEXT))
    edited = masked.text.replace('"default": "a,m"', '"default": "b,m"')
    restored = unmask_text(edited, masked)
    assert KEY in restored and '"default": "b,m"' in restored


def test_a_damaged_placeholder_is_refused_rather_than_saved_as_a_key() -> None:
    masked = mask_text(CONFIG_TEXT, json5.loads(CONFIG_TEXT))
    with pytest.raises(PlaceholderError):
        unmask_text(masked.text.replace("***secret 1", "***secret 1 x", 1), masked)


def test_a_placeholder_number_that_stands_for_nothing_is_refused() -> None:
    masked = mask_text(CONFIG_TEXT, json5.loads(CONFIG_TEXT))
    with pytest.raises(PlaceholderError):
        unmask_text(masked.text + '\n"x": "***secret 99***"', masked)


def test_keys_typed_into_text_that_does_not_parse_are_hidden() -> None:
    text = '{"api_key": "sk-typed-secret", "apiKey": \'another\', "x": "$VAR", broken'
    assert scrub_assignments(text) == '{"api_key": "***", "apiKey": \'***\', "x": "$VAR", broken'


# -- the admin token -------------------------------------------------------------------------


def test_the_token_is_created_once_owner_only_and_then_reused(tmp_path: Path) -> None:
    token = ensure_token(tmp_path)
    assert len(token) >= 43
    assert stat.S_IMODE((tmp_path / "ui-token").stat().st_mode) == 0o600
    assert ensure_token(tmp_path) == token == read_token(tmp_path)


def test_a_rotated_token_replaces_the_old_one_owner_only(tmp_path: Path) -> None:
    old = ensure_token(tmp_path)
    new = rotate_token(tmp_path)
    assert new != old and read_token(tmp_path) == new
    assert stat.S_IMODE((tmp_path / "ui-token").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["ui-token"]


def test_a_too_short_token_file_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "ui-token").write_text("short\n")
    assert len(ensure_token(tmp_path)) >= 43


def test_an_empty_token_never_matches() -> None:
    assert not token_matches("", "")
    assert not token_matches(None, "x" * 43)
    assert token_matches("x" * 43, "x" * 43)


def test_the_token_file_is_never_readable_by_others_even_for_a_moment(tmp_path: Path) -> None:
    old_mask = os.umask(0)
    try:
        ensure_token(tmp_path)
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE((tmp_path / "ui-token").stat().st_mode) == 0o600


# -- the request log -----------------------------------------------------------------------------


def record(when: str, **fields: object) -> str:
    return f"{when},001 INFO {request_line({'path': '/v1/messages', **fields})}"


def test_a_request_line_parses_back_into_its_fields() -> None:
    row = requestlog.parse_line(record("2026-12-06 07:00:01", session="s", route="a,m",
                                       rule="think", tokens=12, status=502, ms=3.5,
                                       error="upstream said: no way"))
    assert row is not None
    assert row["route"] == "a,m" and row["status"] == 502 and row["ms"] == 3.5
    assert row["error"] == "upstream said: no way" and row["time"] == "2026-12-06T07:00:01.001"


def test_other_log_lines_are_not_request_lines() -> None:
    assert requestlog.parse_line("2026-12-06 07:00:01,001 INFO config reloaded") is None
    assert requestlog.parse_line("    path=/v1/messages status=200") is None  # continuation


@pytest.mark.parametrize(("status", "want", "matches"), [
    (200, "ok", True), (200, "error", False), (429, "error", True), (429, "4xx", True),
    (503, "4xx", False), (503, "503", True),
])
def test_status_filters(status: int, want: str, matches: bool) -> None:
    assert requestlog.Filters(status=want).match({"status": status}) is matches


def test_the_tail_continues_after_its_cursor_and_restarts_on_rotation(tmp_path: Path) -> None:
    log = tmp_path / "ccr.log"
    log.write_text(record("2026-12-06 07:00:01", route="a,m", status=200) + "\n")
    rows, cursor = requestlog.tail(log, 10, lambda r: True)
    assert len(rows) == 1 and cursor is not None
    with log.open("a") as f:
        f.write(record("2026-12-06 07:00:02", route="b,m", status=200) + "\n")
        f.write(record("2026-12-06 07:00:03", route="c,m", status=200))  # still being written
    rows, cursor = requestlog.read_since(log, cursor, lambda r: True)
    assert [r["route"] for r in rows] == ["b,m"]
    log.rename(tmp_path / "ccr.log.1")
    log.write_text(record("2026-12-06 07:00:04", route="d,m", status=200) + "\n")
    assert cursor is not None
    rows, _ = requestlog.read_since(log, cursor, lambda r: True)
    assert [r["route"] for r in rows] == ["d,m"]


def test_a_missing_log_gives_no_rows_and_no_cursor(tmp_path: Path) -> None:
    assert requestlog.tail(tmp_path / "ccr.log", 5, lambda r: True) == ([], None)


# -- usage ---------------------------------------------------------------------------------------


def test_cost_uses_statusline_prices_per_route_or_model() -> None:
    prices = {"m": {"input": 1.0, "output": 2.0, "cache_read": 0.1}}
    row = {"route": "a,m", "input": 1_000_000, "output": 500_000, "cache_read": 1_000_000}
    assert cost_of(row, prices) == pytest.approx(1.0 + 1.0 + 0.1)
    assert cost_of({"route": "a,other", "input": 5}, prices) is None


def test_usage_is_grouped_by_route_provider_and_day() -> None:
    rows = [{"route": "a,m", "day": "2026-12-05", "input": 10, "output": 1},
            {"route": "a,n", "day": "2026-12-06", "input": 20, "output": 2},
            {"route": "b,m", "day": "2026-12-06", "input": 5, "output": 0},
            {"status": 400}]
    summary = summarize(rows, None)
    assert summary["totals"]["requests"] == 3 and summary["totals"]["tokens"] == 38
    assert [(p["key"], p["tokens"]) for p in summary["provider"]] == [("a", 33), ("b", 5)]
    assert [d["key"] for d in summary["day"]] == ["2026-12-05", "2026-12-06"]
    assert summary["project"] == []


# -- the provider form ---------------------------------------------------------------------------


def test_a_new_provider_is_appended_with_its_fields_in_order() -> None:
    data: dict[str, object] = {"Providers": []}
    edits.upsert_provider(data, {"name": " x ", "api_base_url": "http://h/v1",
                                 "api_key": "$X_KEY", "models": "m1, m2,"}, original=None)
    assert data["Providers"] == [{"name": "x", "api_base_url": "http://h/v1",
                                  "api_key": "$X_KEY", "models": ["m1", "m2"]}]


def test_a_duplicate_provider_name_is_refused() -> None:
    data = {"Providers": [{"name": "X", "models": ["m"]}]}
    with pytest.raises(edits.EditError, match="already exists"):
        edits.upsert_provider(data, {"name": "x", "models": ["m"]}, original=None)


def test_renaming_a_provider_keeps_the_router_pointing_at_it() -> None:
    data = {"Providers": [{"name": "old", "api_key": KEY, "models": ["m"]}],
            "Router": {"default": "old,m", "think": "other,m"}}
    edits.upsert_provider(data, {"name": "new", "api_base_url": "u", "models": ["m"]},
                          original="old")
    assert data["Router"] == {"default": "new,m", "think": "other,m"}
    assert data["Providers"][0]["api_key"] == KEY


def test_clearing_the_key_removes_it() -> None:
    data = {"Providers": [{"name": "p", "api_key": KEY, "models": ["m"]}]}
    edits.upsert_provider(data, {"name": "p", "api_base_url": "u", "models": ["m"],
                                 "clear_key": True}, original="p")
    assert "api_key" not in data["Providers"][0]


def test_the_providers_view_never_holds_a_key_or_url_credentials() -> None:
    data = json5.loads(CONFIG_TEXT)
    shown = str(edits.providers_view(data, {"B_KEY": KEY}))
    assert KEY not in shown and "pa55word" not in shown
    assert "set …cdef" in shown and "$B_KEY (set …cdef)" in shown


def test_an_empty_router_slot_is_removed() -> None:
    data = {"Router": {"default": "a,m", "think": "a,m"}}
    edits.set_router(data, {"think": "", "longContextThreshold": "70000"})
    assert data["Router"] == {"default": "a,m", "longContextThreshold": 70000}


class _Total:
    def __init__(self, key: str | None, requests: int, tokens: int, cost: float) -> None:
        self.key = key
        self._values = {"key": key, "requests": requests, "input_tokens": tokens,
                        "output_tokens": 1, "cache_read_tokens": 0, "cache_write_tokens": 0,
                        "cost_usd": cost, "errors": 0}

    def as_dict(self) -> dict[str, object]:
        return dict(self._values)


class _LedgerStore:
    """The shape of the team gateway's ledger store: ``await totals(by=group)``."""

    async def totals(self, *, since: float | None = None,
                     by: str | None = None) -> list[_Total]:
        if by is None:
            return [_Total(None, 3, 30, 0.5)]
        return [_Total(f"{by}-1", 2, 20, 0.4), _Total(None, 1, 10, 0.1)]


async def test_usage_comes_from_the_ledger_when_the_server_has_one(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from ccr.ui.usage import usage

    app_ctx = SimpleNamespace(gateway=SimpleNamespace(ledger=SimpleNamespace(
        store=_LedgerStore())))
    answer = await usage(app_ctx, SimpleNamespace(), tmp_path / "ccr.log")
    assert answer["source"] == "ledger" and answer["note"] is None
    assert answer["totals"] == {"requests": 3, "input": 30, "output": 1, "cache_read": 0,
                                "tokens": 31, "cost": 0.5}
    assert answer["route"] == [{"key": "route-1", "requests": 2, "input": 20, "output": 1,
                                "cache_read": 0, "tokens": 21, "cost": 0.4}]
    assert [r["key"] for r in answer["project"]] == ["project-1"]


async def test_a_ledger_that_cannot_be_read_falls_back_to_the_log_and_says_so(
        tmp_path: Path) -> None:
    from types import SimpleNamespace

    from ccr.ui.usage import usage

    class Down:
        async def totals(self, **_: object) -> list[object]:
            raise ConnectionError("postgres is down")

    app_ctx = SimpleNamespace(gateway=SimpleNamespace(ledger=SimpleNamespace(store=Down())))
    state = SimpleNamespace(config=SimpleNamespace(status_line={}))
    answer = await usage(app_ctx, state, tmp_path / "ccr.log")
    assert answer["source"] == "log"
    assert answer["note"].startswith("The usage ledger cannot be read now (ConnectionError)")


@pytest.mark.parametrize(("raw", "apikey", "keyed"), [
    ({}, None, False), ({}, "k", True), ({"APIKEYS": [{"name": "a", "key": "k"}]}, None, True),
    ({"ADMIN_KEY": "$A"}, None, True), ({"APIKEYS": []}, None, False),
])
def test_the_console_leaves_loopback_only_when_clients_need_a_key(
        raw: dict[str, object], apikey: str | None, keyed: bool) -> None:
    from types import SimpleNamespace

    from ccr.ui.overview import has_client_keys

    assert has_client_keys(SimpleNamespace(raw=raw, apikey=apikey)) is keyed


def test_provider_health_is_read_from_the_engines_resilience_state() -> None:
    from types import SimpleNamespace

    from ccr.ui.overview import provider_health

    class Health:
        def status(self, providers: list[tuple[str, tuple[str | None, ...]]],
                   ) -> list[dict[str, object]]:
            return [{"provider": name, "state": "cooling", "cooldown_s": 12.5,
                     "keys": [{"key": "…abcd"}]} for name, _ in providers]

    engine = SimpleNamespace(config=None, resilience=SimpleNamespace(
        health=Health(), providers=lambda config: [("a", (None,))]))
    assert provider_health(engine) == {"a": {"state": "cooling", "cooldown_s": 12.5}}
    assert provider_health(SimpleNamespace(config=None)) == {}


def test_fallback_lists_are_set_per_rule_and_removed_when_emptied() -> None:
    data: dict[str, object] = {}
    edits.set_fallback(data, {"default": "a,m, b,m", "think": ["c,m"]})
    assert data["fallback"] == {"default": ["a,m", "b,m"], "think": ["c,m"]}
    edits.set_fallback(data, {"default": "", "think": None})
    assert "fallback" not in data
    with pytest.raises(edits.EditError, match="unknown rule"):
        edits.set_fallback(data, {"weekends": "a,m"})


# -- recorded requests ---------------------------------------------------------------------------


def write_records(home: Path, *bodies: dict[str, object], partial: bool = False) -> Path:
    import json

    folder = home / "records"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "records-20261206T070000.jsonl"
    lines = [json.dumps({
        "time": f"2026-12-06T07:00:0{i}+00:00", "session_id": f"s{i}",
        "headers": {"x-claude-code-session-id": f"s{i}"}, "body": body,
        "decision": {"rule": "default", "route": "a,m", "reason": None},
        "outcome": {"status": 200, "usage": {}, "latency_ms": 3.0, "error": None},
    }) for i, body in enumerate(bodies)]
    path.write_text("\n".join(lines) + "\n" + ('{"time": "2026' if partial else ""))
    return path


def test_recent_records_are_listed_newest_first_without_a_half_written_line(
        tmp_path: Path) -> None:
    from ccr.ui import records

    write_records(tmp_path, {"model": "m1", "messages": [{"role": "user", "content": "one"}]},
                  {"model": "m2", "messages": [{"role": "user", "content": "two  words"}]},
                  partial=True)
    found = records.recent(tmp_path)
    assert [(r["model"], r["preview"], r["session_id"]) for r in found] == [
        ("m2", "two words", "s1"), ("m1", "one", "s0")]


def test_a_record_is_loaded_by_its_reference_as_a_recorded_request(tmp_path: Path) -> None:
    from ccr.ui import records

    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "system": [{"type": "text", "text": "You are a subagent."}]}
    path = write_records(tmp_path, body)
    ref = records.recent(tmp_path)[0]["ref"]
    assert ref == f"{path.name}:0"
    loaded = records.load(tmp_path, ref)
    assert loaded["body"] == body and loaded["session_id"] == "s0"
    assert loaded["decision"]["route"] == "a,m"


def test_a_recorded_subagent_tag_is_put_back_for_the_replay() -> None:
    from ccr.ui.records import replay_body

    record = {"body": {"system": [{"type": "text", "text": "rest"}]},
              "decision": {"subagent_tag": "a,m"}}
    assert replay_body(record)["system"][0]["text"] == (
        "<CCR-SUBAGENT-MODEL>a,m</CCR-SUBAGENT-MODEL>rest")


@pytest.mark.parametrize("ref", ["../config.json:0", "records-x.jsonl", "records-x.jsonl:abc",
                                 "/etc/passwd:0", "records-../../ui-token.jsonl:0",
                                 "records-20261206T070000.jsonl:3"])
def test_anything_but_a_record_reference_is_refused(tmp_path: Path, ref: str) -> None:
    from ccr.ui import records

    write_records(tmp_path, {"model": "m", "messages": []})
    with pytest.raises(records.RecordError):
        records.load(tmp_path, ref)


def test_try_it_lists_every_rules_verdict_where_routing_can_explain_itself(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from ccr.routing import rules
    from ccr.ui.tryit import rule_verdicts

    monkeypatch.delattr(rules, "explain", raising=False)
    assert rule_verdicts(None, None) is None

    def explain(ctx: object, config: object) -> list[object]:
        return [SimpleNamespace(as_json=lambda: {"rule": "think", "route": None,
                                                 "reason": "thinking is adaptive"})]

    monkeypatch.setattr(rules, "explain", explain, raising=False)
    assert rule_verdicts(None, None) == [{"rule": "think", "route": None,
                                          "reason": "thinking is adaptive"}]


def test_every_static_file_ships_in_the_package() -> None:
    """package-data must name every file the console serves (the wheel has nothing else)."""
    import tomllib
    from pathlib import PurePosixPath

    from ccr.ui import STATIC_DIR

    pyproject = STATIC_DIR.parents[2] / "pyproject.toml"
    patterns = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"][
        "ccr.ui"]
    files = [p.relative_to(STATIC_DIR.parent).as_posix() for p in STATIC_DIR.rglob("*")
             if p.is_file()]
    assert files
    # setuptools globs do not cross folders; PurePath.match does not either
    assert [f for f in files if not any(PurePosixPath(f).match(pat) for pat in patterns)] == []


def test_sandbox_status_is_read_from_the_engine_where_it_reports_it() -> None:
    from types import SimpleNamespace

    from ccr.ui.overview import sandbox_status

    engine = SimpleNamespace(scripts_status=lambda: [
        {"kind": "router", "name": "r.py", "calls": 3, "errors": 1, "last": {"nested": 1}}])
    assert sandbox_status(engine) == [{"kind": "router", "name": "r.py", "calls": 3,
                                       "errors": 1}]
    assert sandbox_status(SimpleNamespace()) is None
