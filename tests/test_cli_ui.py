"""``ccr ui`` as a user runs it: it starts ccr when needed, prints the console's URL and the
admin token, and the printed token logs in."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli_helpers import CcrHome

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture
def ccr(tmp_path: Path) -> Iterator[CcrHome]:
    with CcrHome(tmp_path) as home:
        yield home


def printed(output: str) -> tuple[str, str]:
    url = re.search(r"ccr console: (\S+)", output)
    token = re.search(r"admin token: (\S+)", output)
    assert url and token, output
    return url.group(1), token.group(1)


def test_ccr_ui_starts_the_server_and_prints_the_url_and_a_working_token(ccr: CcrHome) -> None:
    result = ccr.run("ui", "--no-browser")
    assert result.returncode == 0, result.stderr
    url, token = printed(result.stdout)
    assert url == f"{ccr.url}/ui/"
    assert "started in the background" in result.stdout
    assert stat.S_IMODE((ccr.home / "ui-token").stat().st_mode) == 0o600
    assert httpx.get(url, trust_env=False).status_code == 200
    login = httpx.post(f"{url}api/login", json={"token": token}, trust_env=False)
    assert login.status_code == 200
    assert ccr.run("stop").returncode == 0


def test_ccr_ui_reuses_a_running_server_and_the_same_token(ccr: CcrHome) -> None:
    assert ccr.run("start").returncode == 0
    first = ccr.run("ui", "--no-browser")
    second = ccr.run("ui", "--no-browser")
    assert "started" not in second.stdout
    assert printed(first.stdout) == printed(second.stdout)
    assert ccr.run("stop").returncode == 0


def test_ccr_ui_new_token_replaces_the_old_one(ccr: CcrHome) -> None:
    assert ccr.run("start").returncode == 0
    _, old = printed(ccr.run("ui", "--no-browser").stdout)
    _, new = printed(ccr.run("ui", "--no-browser", "--new-token").stdout)
    assert new != old
    login = httpx.post(f"{ccr.url}/ui/api/login", json={"token": old}, trust_env=False)
    assert login.status_code == 401
    assert ccr.run("stop").returncode == 0


def test_ccr_ui_without_a_browser_says_to_open_the_url(ccr: CcrHome) -> None:
    assert ccr.run("start").returncode == 0
    result = ccr.run("ui", env={"BROWSER": "false", "DISPLAY": "", "WAYLAND_DISPLAY": ""})
    assert result.returncode == 0
    assert "open the URL above and paste the token" in result.stderr
    assert ccr.run("stop").returncode == 0
