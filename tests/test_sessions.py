"""Session ids from Claude Code requests, and the bounded per-session usage memory."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ccr.context.sessions import SessionStore, SessionUsage, session_id_from
from tests.support.recorded import recorded

SESSION = "2ffc1eea-cfcf-408c-a8bc-5623b6270f2e"
OTHER = "0fab3e55-88dc-4d98-a194-7a08536e948a"


class FakeTimer:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def json_user_id(session_id: str) -> dict[str, Any]:
    user_id = json.dumps({"device_id": "abc", "account_uuid": "", "session_id": session_id})
    return {"metadata": {"user_id": user_id}}


# -- session_id_from ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["X-Claude-Code-Session-Id", "x-claude-code-session-id", "X-CLAUDE-CODE-SESSION-ID"]
)
def test_session_header_is_found_whatever_its_case(name: str) -> None:
    assert session_id_from({name: SESSION}, {}) == SESSION


def test_session_header_wins_over_metadata() -> None:
    assert session_id_from({"X-Claude-Code-Session-Id": SESSION}, json_user_id(OTHER)) == SESSION


def test_json_user_id_of_claude_code_2_1_gives_its_session_id() -> None:
    assert session_id_from({}, json_user_id(SESSION)) == SESSION


def test_legacy_user_id_gives_the_session_uuid() -> None:
    body = {"metadata": {"user_id": f"user_{'ab' * 32}_account_{OTHER}_session_{SESSION}"}}
    assert session_id_from({}, body) == SESSION


def test_legacy_user_id_with_empty_account_gives_the_session_uuid() -> None:
    body = {"metadata": {"user_id": f"user_{'ab' * 32}_account__session_{SESSION}"}}
    assert session_id_from({}, body) == SESSION


def test_request_without_any_session_marker_has_none() -> None:
    assert session_id_from({"x-api-key": "k"}, {"metadata": {"user_id": "plain-user"}}) is None
    assert session_id_from({}, {"model": "m"}) is None


@pytest.mark.parametrize(
    "headers, body",
    [
        ({}, None),
        ({}, "not a dict"),
        ({}, {"metadata": "x"}),
        ({}, {"metadata": {"user_id": 42}}),
        ({}, {"metadata": {"user_id": "{broken json"}}),
        ({}, {"metadata": {"user_id": '{"session_id": 7}'}}),
        ({}, {"metadata": {"user_id": '["session_id"]'}}),
        ({"X-Claude-Code-Session-Id": "   "}, {}),
        ({"X-Claude-Code-Session-Id": None}, {}),
        ({1: "x"}, {}),
        (None, {}),
    ],
)
def test_junk_input_gives_none_without_raising(headers: Any, body: Any) -> None:
    assert session_id_from(headers, body) is None


def test_real_claude_code_request_gives_the_same_id_from_header_and_metadata() -> None:
    request = recorded("01-plain")
    from_header = session_id_from(request["headers"], request["body"])
    from_metadata = session_id_from({}, request["body"])
    assert from_header is not None
    assert from_header == from_metadata


# -- SessionStore ---------------------------------------------------------------------------


def test_unknown_session_has_no_usage() -> None:
    store = SessionStore()
    assert store.get(SESSION) is None
    assert store.last_input_tokens(SESSION) is None


def test_record_keeps_the_last_turns_numbers() -> None:
    store = SessionStore()
    store.record(SESSION, {"input_tokens": 10, "output_tokens": 5})
    usage = store.record(
        SESSION,
        {
            "input_tokens": 30,
            "output_tokens": 7,
            "cache_read_input_tokens": 1000,
            "cache_creation_input_tokens": 200,
        },
        route="openrouter,model-a",
    )
    assert (usage.input_tokens, usage.output_tokens) == (30, 7)
    assert usage.total_input == 1230
    assert store.last_input_tokens(SESSION) == 1230
    assert store.get(SESSION) == usage


def test_turns_are_counted_per_session() -> None:
    store = SessionStore()
    for _ in range(3):
        store.record(SESSION, {"input_tokens": 1})
    store.record(OTHER, {"input_tokens": 1})
    assert store.get(SESSION).turns == 3  # type: ignore[union-attr]
    assert store.get(OTHER).turns == 1  # type: ignore[union-attr]


def test_route_is_remembered_until_a_new_one_is_recorded() -> None:
    store = SessionStore()
    store.record(SESSION, {}, route="p,first")
    assert store.record(SESSION, {}).last_route == "p,first"
    assert store.record(SESSION, {}, route="p,second").last_route == "p,second"


@pytest.mark.parametrize(
    "usage",
    [
        None,
        {},
        {"input_tokens": None},
        {"input_tokens": "many"},
        {"input_tokens": -5},
        {"input_tokens": True},
        {"input_tokens": float("nan")},
        {"input_tokens": [1]},
        "not a mapping",
    ],
)
def test_junk_usage_values_count_as_zero(usage: Any) -> None:
    recorded = SessionStore().record(SESSION, usage)
    assert recorded.input_tokens == 0
    assert recorded.turns == 1


def test_numeric_strings_and_floats_in_usage_are_accepted() -> None:
    recorded = SessionStore().record(SESSION, {"input_tokens": " 12 ", "output_tokens": 3.0})
    assert (recorded.input_tokens, recorded.output_tokens) == (12, 3)


def test_returned_usage_is_a_copy() -> None:
    store = SessionStore()
    recorded = store.record(SESSION, {"input_tokens": 10})
    recorded.input_tokens = 999
    fetched = store.get(SESSION)
    assert fetched is not None
    fetched.turns = 50
    assert store.get(SESSION) == SessionUsage(
        input_tokens=10, turns=1, updated_at=fetched.updated_at
    )


def test_least_recently_used_session_is_evicted_at_maxsize() -> None:
    store = SessionStore(maxsize=2)
    store.record("a", {"input_tokens": 1})
    store.record("b", {"input_tokens": 2})
    store.get("a")  # "b" is now the least recently used
    store.record("c", {"input_tokens": 3})
    assert len(store) == 2
    assert store.get("b") is None
    assert store.get("a") is not None
    assert store.get("c") is not None


def test_session_expires_after_ttl_without_activity() -> None:
    timer = FakeTimer()
    store = SessionStore(ttl=100.0, timer=timer)
    store.record(SESSION, {"input_tokens": 1})
    timer.now += 99.0
    assert store.get(SESSION) is not None
    timer.now += 2.0
    assert store.get(SESSION) is None
    assert len(store) == 0


def test_recording_again_extends_the_ttl() -> None:
    timer = FakeTimer()
    store = SessionStore(ttl=100.0, timer=timer)
    store.record(SESSION, {"input_tokens": 1})
    timer.now += 80.0
    store.record(SESSION, {"input_tokens": 2})
    timer.now += 80.0
    usage = store.get(SESSION)
    assert usage is not None
    assert usage.turns == 2


def test_session_totals_add_up_every_turn_including_cached_input() -> None:
    store = SessionStore()
    store.record("s", {"input_tokens": 100, "cache_read_input_tokens": 900, "output_tokens": 10})
    usage = store.record("s", {"input_tokens": 50, "cache_read_input_tokens": 1000,
                               "output_tokens": 20})
    assert (usage.session_input_tokens, usage.session_output_tokens) == (2050, 30)
    assert usage.total_input == 1050
