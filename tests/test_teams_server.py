"""A ccr server for a team: named client keys, the admin key, per-client sessions, limits,
budgets, spend for router scripts and the status line, the ledger and /metrics. A real ccr
server in front of the fake upstream; the ledger is the default SQLite file under CCR_HOME."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import FakeUpstream, error
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.teams_helpers import (
    ADMIN_KEY,
    ALICE_KEY,
    BOB_KEY,
    ask,
    ledger_rows,
    metric_samples,
    wait_for,
)

#: $0.001 per token in and out: each default fake reply (12 in, 4 out) costs $0.016.
PRICES = {"fake,fake-model": {"input": 1000, "output": 1000},
          "fake,fake-model-large": {"input": 2000, "output": 2000}}


def team_config(fake: FakeUpstream, **extra: Any) -> dict[str, Any]:
    return fake_config(fake, APIKEYS=[{"name": "alice", "key": ALICE_KEY},
                                      {"name": "bob", "key": BOB_KEY}],
                       ADMIN_KEY=ADMIN_KEY, PRICES=PRICES, **extra)


def ledger_of(ccr: CcrServer) -> Path:
    return ccr.state.home / "ledger.db"


def get(ccr: CcrServer, path: str, key: str | None) -> httpx.Response:
    headers = {"x-api-key": key} if key else {}
    return httpx.get(ccr.base_url + path, headers=headers, timeout=5)


def session_record(ccr: CcrServer, session: str, key: str) -> dict[str, Any] | None:
    response = get(ccr, f"/api/sessions/{session}", key)
    return response.json() if response.status_code == 200 else None


# -- keys ----------------------------------------------------------------------------------------


def test_a_named_key_is_served_and_its_name_reaches_the_ledger(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    ccr = make_ccr(team_config(fake))
    assert ask(ccr.base_url, ALICE_KEY, session="s-alice").status_code == 200
    [row] = wait_for(lambda: ledger_rows(ledger_of(ccr)))
    assert row["client"] == "alice" and row["session"] == "s-alice"
    assert (row["input_tokens"], row["output_tokens"], row["status"]) == (12, 4, 200)
    assert row["route"] == "fake,fake-model" and row["cost_usd"] == 0.016
    assert ALICE_KEY not in str(row)


def test_an_upstream_refusal_gets_a_ledger_row_with_its_status(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    ccr = make_ccr(team_config(fake))
    fake.enqueue(error(429, {"error": {"message": "slow down", "type": "rate_limit"}}))
    assert ask(ccr.base_url, ALICE_KEY, session="s-429").status_code == 429
    [row] = wait_for(lambda: ledger_rows(ledger_of(ccr)))
    assert (row["status"], row["route"], row["client"]) == (429, "fake,fake-model", "alice")
    assert row["input_tokens"] == 0 and not row["cost_usd"]


def test_an_unknown_key_is_refused_with_an_anthropic_error(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    ccr = make_ccr(team_config(fake))
    response = ask(ccr.base_url, "not-a-key-at-all")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert fake.chat_requests == []


def test_the_single_apikey_still_works_beside_named_keys(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    ccr = make_ccr(team_config(fake, APIKEY="the-shared-key-123"))
    assert ask(ccr.base_url, "the-shared-key-123").status_code == 200
    [row] = wait_for(lambda: ledger_rows(ledger_of(ccr)))
    assert row["client"] is None


def test_a_client_reads_only_its_own_sessions(make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    ccr = make_ccr(team_config(fake))
    ask(ccr.base_url, ALICE_KEY, session="s-private")
    mine = wait_for(lambda: session_record(ccr, "s-private", ALICE_KEY))
    assert mine["input_tokens"] == 12
    response = get(ccr, "/api/sessions/s-private", BOB_KEY)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
    assert get(ccr, "/api/sessions/s-private", ADMIN_KEY).status_code == 200


def test_the_status_line_gets_the_session_cost_and_todays_total(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    ccr = make_ccr(team_config(fake))
    ask(ccr.base_url, ALICE_KEY, session="s-cost")
    ask(ccr.base_url, ALICE_KEY, session="s-cost")
    ask(ccr.base_url, ALICE_KEY, session="s-other")
    record = wait_for(lambda: (r := session_record(ccr, "s-cost", ALICE_KEY)) and r["turns"] == 2
                      and r["cost_usd"] >= 0.032 and r)
    assert record["cost_usd"] == 0.032
    wait_for(lambda: session_record(ccr, "s-cost", ALICE_KEY)["today_usd"] >= 0.048)


def test_health_details_are_for_the_admin_key(make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    ccr = make_ccr(team_config(fake))
    public = get(ccr, "/health", None).json()
    assert set(public) == {"status", "version", "pid", "uptime_s"}
    assert set(get(ccr, "/health", ALICE_KEY).json()) == set(public)
    admin = get(ccr, "/health", ADMIN_KEY).json()
    assert admin["state"]["backend"] == "memory" and admin["ledger"]["backend"] == "sqlite"
    assert "config" in admin and "requests" in admin


# -- metrics -------------------------------------------------------------------------------------


def test_metrics_need_the_admin_key_when_configured(make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    ccr = make_ccr(team_config(fake, METRICS={"require_admin": True}))
    assert get(ccr, "/metrics", None).status_code == 401
    assert get(ccr, "/metrics", ALICE_KEY).status_code == 403
    response = get(ccr, "/metrics", ADMIN_KEY)
    assert response.status_code == 200 and "ccr_requests_total" in response.text


def test_metrics_counters_match_the_requests_sent(make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    ccr = make_ccr(team_config(fake))
    for _ in range(3):
        assert ask(ccr.base_url, ALICE_KEY).status_code == 200
    assert ask(ccr.base_url, BOB_KEY, stream=True).status_code == 200
    assert ask(ccr.base_url, BOB_KEY, model="fake,no-such-model").status_code == 400

    def scraped() -> str:
        return get(ccr, "/metrics", BOB_KEY).text

    wait_for(lambda: sum(metric_samples(scraped(), "ccr_requests_total").values()) >= 5)
    text = scraped()
    requests = metric_samples(text, "ccr_requests_total")
    alice = (("client", "alice"), ("route", "fake,fake-model"), ("rule", "default"),
             ("status", "200"))
    bob = (("client", "bob"), ("route", "fake,fake-model"), ("rule", "default"),
           ("status", "200"))
    unroutable = (("client", "bob"), ("route", "none"), ("rule", "none"), ("status", "400"))
    assert requests == {alice: 3.0, bob: 1.0, unroutable: 1.0}
    tokens = metric_samples(text, "ccr_tokens_total")
    assert tokens[(("kind", "input"), ("route", "fake,fake-model"))] == 48
    assert tokens[(("kind", "output"), ("route", "fake,fake-model"))] == 16
    cost = metric_samples(text, "ccr_cost_usd_total")
    assert abs(cost[(("route", "fake,fake-model"),)] - 0.064) < 1e-9
    latency = metric_samples(text, "ccr_upstream_latency_seconds_count")
    assert latency[(("provider", "fake"),)] == 4
    assert metric_samples(text, "ccr_added_seconds_count")[()] == 4
    assert metric_samples(text, "ccr_requests_in_flight")[()] == 0
    assert metric_samples(text, "ccr_ledger_up") == {(("backend", "sqlite"),): 1.0}
    assert metric_samples(text, "ccr_state_store_up") == {(("backend", "memory"),): 1.0}


# -- limits and budgets --------------------------------------------------------------------------


def test_a_rate_limit_refuses_with_429_and_retry_after(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    config = team_config(fake)
    config["APIKEYS"][0]["RATE_LIMIT"] = "2/min"
    ccr = make_ccr(config)
    assert [ask(ccr.base_url, ALICE_KEY).status_code for _ in range(2)] == [200, 200]
    refused = ask(ccr.base_url, ALICE_KEY)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert "alice" in refused.json()["error"]["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert ask(ccr.base_url, BOB_KEY).status_code == 200  # bob has his own count
    assert len(fake.chat_requests) == 3
    rows = wait_for(lambda: (r := ledger_rows(ledger_of(ccr))) and len(r) == 4 and r)
    refused = [r for r in rows if r["status"] == 429]
    assert len(refused) == 1 and refused[0]["client"] == "alice"
    assert refused[0]["rule"] == "refused" and refused[0]["route"] is None


def test_a_budget_flips_routing_to_the_cheaper_route_at_its_amount(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    budget = {"name": "alice-daily", "scope": "client", "client": "alice", "period": "day",
              "usd": 0.032, "action": {"route": "fake,fake-model-large"}}
    ccr = make_ccr(team_config(fake, BUDGETS=[budget]))
    for turn in range(2):
        assert ask(ccr.base_url, ALICE_KEY, session="s-b").status_code == 200
        wait_for(lambda t=turn: (session_record(ccr, "s-b", ALICE_KEY) or {}).get(
            "turns") == t + 1)
    wait_for(lambda: session_record(ccr, "s-b", ALICE_KEY)["today_usd"] >= 0.032)
    assert ask(ccr.base_url, ALICE_KEY, session="s-b").status_code == 200
    assert ask(ccr.base_url, BOB_KEY).status_code == 200
    models = [r.body["model"] for r in fake.chat_requests]
    assert models == ["fake-model", "fake-model", "fake-model-large", "fake-model"]
    rows = wait_for(lambda: (r := ledger_rows(ledger_of(ccr))) and len(r) == 4 and r)
    assert [r["rule"] for r in rows if r["client"] == "alice"] == ["default", "default",
                                                                   "budget"]


def test_a_refusing_budget_names_itself_and_when_it_resets(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    budget = {"name": "team-cap", "scope": "router", "period": "month", "usd": 0.016}
    ccr = make_ccr(team_config(fake, BUDGETS=[budget]))
    assert ask(ccr.base_url, ALICE_KEY, session="s-r").status_code == 200
    wait_for(lambda: (session_record(ccr, "s-r", ALICE_KEY) or {}).get("cost_usd"))
    refused = ask(ccr.base_url, BOB_KEY)
    assert refused.status_code == 429 and refused.headers["x-should-retry"] == "false"
    error = refused.json()
    assert error["type"] == "error" and error["error"]["type"] == "rate_limit_error"
    assert "team-cap" in error["error"]["message"] and "resets at" in error["error"]["message"]
    assert len(fake.chat_requests) == 1


# -- what router scripts see ---------------------------------------------------------------------


def test_router_scripts_see_the_client_and_its_spend(
        make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path) -> None:
    script = tmp_path / "router.py"
    script.write_text(
        "def router(req, config):\n"
        "    if req['client'] == 'bob' and req['spend']['client_today'] > 0:\n"
        "        return 'fake,fake-model-large'\n"
        "    return None\n")
    ccr = make_ccr(team_config(fake, CUSTOM_ROUTER_PATH=str(script)))
    ask(ccr.base_url, ALICE_KEY, session="s-a")
    ask(ccr.base_url, BOB_KEY, session="s-bob")
    wait_for(lambda: (session_record(ccr, "s-bob", BOB_KEY) or {}).get("cost_usd"))
    ask(ccr.base_url, BOB_KEY, session="s-bob")
    assert [r.body["model"] for r in fake.chat_requests] == ["fake-model", "fake-model",
                                                            "fake-model-large"]


def test_a_client_key_can_carry_its_own_router(make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    config = team_config(fake)
    config["APIKEYS"][1]["Router"] = {"default": "fake,fake-model-large"}
    ccr = make_ccr(config)
    ask(ccr.base_url, ALICE_KEY)
    ask(ccr.base_url, BOB_KEY)
    assert [r.body["model"] for r in fake.chat_requests] == ["fake-model", "fake-model-large"]


def test_responses_are_not_held_up_by_recording(make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    ccr = make_ccr(team_config(fake))
    ask(ccr.base_url, ALICE_KEY)  # warm up
    started = time.perf_counter()
    for _ in range(20):
        assert ask(ccr.base_url, ALICE_KEY).status_code == 200
    assert (time.perf_counter() - started) / 20 < 0.25
    wait_for(lambda: len(ledger_rows(ledger_of(ccr))) == 21)


def in_project(cwd: str) -> dict[str, Any]:
    """A Messages body whose system prompt states Claude Code's working directory."""
    return {"model": "claude-sonnet-4", "max_tokens": 64,
            "system": [{"type": "text", "text": f"Primary working directory: {cwd}\n"}],
            "messages": [{"role": "user", "content": "hi"}]}


def test_a_project_budget_counts_and_refuses_per_project(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    budget = {"name": "per-project", "scope": "project", "period": "day", "usd": 0.016}
    ccr = make_ccr(team_config(fake, BUDGETS=[budget]))
    headers = {"x-api-key": ALICE_KEY, "anthropic-version": "2023-06-01"}

    def post(cwd: str) -> httpx.Response:
        return httpx.post(f"{ccr.base_url}/v1/messages", json=in_project(cwd), headers=headers,
                          timeout=20)

    assert post("/home/alice/webapp").status_code == 200
    rows = wait_for(lambda: ledger_rows(ledger_of(ccr)))
    assert rows[0]["project"] == "-home-alice-webapp"
    refused = wait_for(lambda: (r := post("/home/alice/webapp")).status_code == 429 and r)
    assert "project '-home-alice-webapp'" in refused.json()["error"]["message"]
    assert post("/home/alice/other").status_code == 200
