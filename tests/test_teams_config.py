"""The team settings are checked when the config loads: every problem named by key path,
never echoing a secret."""

from __future__ import annotations

import pytest

from ccr.config import InvalidConfig, build_config
from ccr.config.keys import RateLimit, key_problems, key_settings
from ccr.server.auth import ANONYMOUS, Authenticator

KEYS = [{"name": "alice", "key": "alice-secret-1"}, {"name": "bob", "key": "bob-secret-22",
                                                     "RATE_LIMIT": "10/s"}]


def test_rate_limits_read_per_minute_numbers_and_unit_strings() -> None:
    settings = key_settings({"APIKEYS": KEYS, "RATE_LIMIT": 60})
    assert settings.limits_for("alice").rate == RateLimit(60, 60)
    assert settings.limits_for("bob").rate == RateLimit(10, 1)
    assert settings.limits_for(None).rate == RateLimit(60, 60)


def test_key_problems_name_each_entry_without_the_secret() -> None:
    problems = key_problems({"APIKEYS": [
        {"name": "alice", "key": "short"},
        {"name": "alice", "key": "another-long-key"},
        {"name": "x y", "key": "k" * 10, "RATE_LIMIT": "lots"},
        {"name": "dup", "key": "another-long-key"}]})
    paths = [p for p, _ in problems]
    assert paths == ["APIKEYS[0].key", "APIKEYS[2].name", "APIKEYS[2].RATE_LIMIT",
                     "APIKEYS[3].key"]
    assert all("another-long-key" not in m for _, m in problems)


def test_queue_timeout_must_be_milliseconds() -> None:
    assert [p for p, _ in key_problems({"QUEUE_TIMEOUT_MS": "soon"})] == ["QUEUE_TIMEOUT_MS"]
    assert key_problems({"QUEUE_TIMEOUT_MS": 500}) == []


def test_metrics_require_admin_needs_an_admin_key() -> None:
    assert key_problems({"METRICS": {"require_admin": True}}) == [
        ("METRICS.require_admin", "needs ADMIN_KEY to be set")]


def test_named_keys_allow_listening_beyond_loopback() -> None:
    build_config({"HOST": "0.0.0.0", "APIKEYS": KEYS})
    with pytest.raises(InvalidConfig, match="HOST"):
        build_config({"HOST": "0.0.0.0"})


def test_team_problems_fail_the_config_load_together() -> None:
    with pytest.raises(InvalidConfig) as caught:
        build_config({"APIKEYS": "alice", "BUDGETS": {}, "LEDGER": 5})
    text = str(caught.value)
    assert "APIKEYS" in text and "BUDGETS" in text and "LEDGER" in text


def test_each_key_maps_to_its_client_name() -> None:
    auth = Authenticator("shared-key-0000", key_settings({"APIKEYS": KEYS,
                                                          "ADMIN_KEY": "admin-key-000"}))
    assert auth.identify("alice-secret-1").client == "alice"  # type: ignore[union-attr]
    assert auth.identify("bob-secret-22").client == "bob"  # type: ignore[union-attr]
    shared = auth.identify("shared-key-0000")
    assert shared is not None and shared.client is None and shared.authenticated
    admin = auth.identify("admin-key-000")
    assert admin is not None and admin.admin
    assert auth.identify("alice-secret-") is None and auth.identify(None) is None


def test_without_any_key_everyone_is_anonymous() -> None:
    auth = Authenticator(None, key_settings({}))
    assert not auth.required and auth.identify(None) is ANONYMOUS
