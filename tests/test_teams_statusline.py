"""The status line with a team gateway: the session's running cost and today's total from the
server, and prices from the one PRICES table."""

from __future__ import annotations

import json
from pathlib import Path

from ccr.cli.statusline import load_settings, render, status_line
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.teams_helpers import ask, wait_for

USAGE = {"route": "fake,fake-model", "input_tokens": 1000, "total_input": 1000,
         "output_tokens": 50}


def test_the_running_session_cost_and_todays_total_are_shown(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "missing.json")
    line = render({**USAGE, "cost_usd": 0.42, "today_usd": 3.5}, settings, color=False)
    assert line.endswith("session $0.42 · today $3.50")


def test_no_running_cost_segment_without_spend(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "missing.json")
    assert "session $" not in render({**USAGE, "cost_usd": 0, "today_usd": 0}, settings,
                                     color=False)
    assert "session $" not in render(USAGE, settings, color=False)


def test_the_last_turn_estimate_uses_prices(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"PRICES": {"fake,fake-model": {"input": 1000, "output": 1000}}}))
    line = render(USAGE, load_settings(path), color=False)
    assert "~$1.05" in line


def test_a_served_session_shows_its_cost_end_to_end(make_ccr: MakeCcr, fake: FakeUpstream,
                                                     tmp_path: Path) -> None:
    prices = {"fake,fake-model": {"input": 1000, "output": 1000}}
    ccr = make_ccr(fake_config(fake, PRICES=prices))
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"PORT": ccr.port, "PRICES": prices}))
    ask(ccr.base_url, None, session="s-line")
    stdin = json.dumps({"session_id": "s-line"})
    line = wait_for(lambda: (text := status_line(stdin, config_path=path, color=False))
                    and "session $" in text and text)
    assert "session $0.02 · today $0.02" in line  # 12 in + 4 out at $0.001 per token
