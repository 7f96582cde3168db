"""``ccr model``: the arrow-key menu (in a pseudo-terminal) and the same changes by flags.

After every change the file on disk is checked: it loads, keeps ``$VAR`` references, has a
backup of what it replaced (3 at most), and is untouched when the change was refused.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import json5
import pexpect
import pytest
from typer.testing import CliRunner

from ccr.cli.main import app
from ccr.config import has_comments, list_backups, load_config
from tests.support.serve_process import ServeProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
KEY_VAR = "CCR_TEST_PROVIDER_KEY"
LITERAL_KEY = "sk-literal-do-not-print-1234"
DOWN, UP, ENTER = "\x1b[B", "\x1b[A", "\r"

CONFIG_TEXT = f"""\
// A hand-written config with comments.
{{
  "Providers": [
    {{
      "name": "alpha",
      "api_base_url": "https://alpha.example.com/v1/chat/completions",
      "api_key": "${KEY_VAR}",  // from the environment
      "models": ["alpha-small", "alpha-large"],
    }},
    {{
      "name": "beta",
      "api_base_url": "http://127.0.0.1:11434/v1/chat/completions",
      "models": ["beta-1"],
    }},
  ],
  "Router": {{
    "default": "alpha,alpha-small",
    "think": "alpha,alpha-large",
  }},
}}
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ccr-home"
    home.mkdir()
    monkeypatch.setenv("CCR_HOME", str(home))
    monkeypatch.setenv(KEY_VAR, "sk-from-env")
    monkeypatch.delenv("CCR_TEST_UNSET_KEY", raising=False)
    path = home / "config.json"
    path.write_text(CONFIG_TEXT)
    return path


def _ccr(*args: str) -> Any:
    return CliRunner().invoke(app, ["model", *args])


def _data(path: Path) -> dict[str, Any]:
    return json5.loads(path.read_text())


def _assert_valid(path: Path) -> None:
    config = load_config(path)
    assert config.providers
    assert _data(path)["Providers"][0]["api_key"] == f"${KEY_VAR}"


# -- flags ----------------------------------------------------------------------------------


def test_set_switches_a_slot_and_the_file_stays_valid(config: Path) -> None:
    result = _ccr("set", "think", "beta,beta-1")

    assert result.exit_code == 0, result.output
    assert load_config(config).router.think == "beta,beta-1"
    _assert_valid(config)


def test_set_writes_the_configured_spelling_of_the_route(config: Path) -> None:
    _ccr("set", "Background", "ALPHA,Alpha-Large")

    assert _data(config)["Router"]["background"] == "alpha,alpha-large"


def test_set_backs_up_the_file_it_replaces(config: Path) -> None:
    result = _ccr("set", "think", "beta,beta-1")

    [backup] = list_backups(config)
    assert backup.read_text() == CONFIG_TEXT
    assert str(backup) in result.stdout


def test_set_to_an_unconfigured_model_is_refused_and_the_file_untouched(config: Path) -> None:
    result = _ccr("set", "think", "alpha,alpha-huge")

    assert result.exit_code == 1
    assert config.read_text() == CONFIG_TEXT
    assert list_backups(config) == []
    assert "alpha-huge" in result.stderr
    assert "ccr model add-model alpha alpha-huge" in result.stderr


def test_set_an_unknown_slot_is_refused_listing_the_slots(config: Path) -> None:
    result = _ccr("set", "fast", "beta,beta-1")

    assert result.exit_code == 1
    assert config.read_text() == CONFIG_TEXT
    assert "longContext" in result.stderr


def test_set_none_clears_a_slot(config: Path) -> None:
    _ccr("set", "think", "none")

    assert "think" not in _data(config)["Router"]
    assert load_config(config).router.think is None


def test_set_long_context_threshold(config: Path) -> None:
    _ccr("set", "longContextThreshold", "90000")

    assert load_config(config).router.longContextThreshold == 90000


def test_add_model_appends_it_to_the_provider(config: Path) -> None:
    result = _ccr("add-model", "alpha", "alpha-v4")

    assert result.exit_code == 0, result.output
    assert load_config(config).provider("alpha").models == ("alpha-small", "alpha-large",
                                                            "alpha-v4")
    _assert_valid(config)


def test_add_model_already_there_writes_nothing(config: Path) -> None:
    result = _ccr("add-model", "alpha", "Alpha-Small")

    assert result.exit_code == 0
    assert config.read_text() == CONFIG_TEXT
    assert list_backups(config) == []


def test_add_model_to_an_unknown_provider_is_refused(config: Path) -> None:
    result = _ccr("add-model", "gamma", "g-1")

    assert result.exit_code == 1
    assert "alpha, beta" in result.stderr
    assert config.read_text() == CONFIG_TEXT


def test_add_provider_with_a_variable_key_and_a_transformer(config: Path) -> None:
    result = _ccr("add-provider", "--name", "gamma", "--url",
                  "https://gamma.example.com/v1/chat/completions", "--key", f"${KEY_VAR}",
                  "--models", "g-1, g-2", "--transformer", "openrouter")

    assert result.exit_code == 0, result.output
    gamma = _data(config)["Providers"][2]
    assert gamma == {"name": "gamma", "api_base_url":
                     "https://gamma.example.com/v1/chat/completions",
                     "api_key": f"${KEY_VAR}", "models": ["g-1", "g-2"],
                     "transformer": {"use": ["openrouter"]}}
    assert load_config(config).resolve("gamma,g-2") is not None


def test_add_provider_with_an_unknown_transformer_is_refused(config: Path) -> None:
    result = _ccr("add-provider", "--name", "gamma", "--url", "https://g.example.com/v1",
                  "--models", "g-1", "--transformer", "no-such-thing")

    assert result.exit_code == 1
    assert "openrouter" in result.stderr
    assert config.read_text() == CONFIG_TEXT


def test_add_provider_with_a_taken_name_is_refused(config: Path) -> None:
    result = _ccr("add-provider", "--name", "Beta", "--url", "https://b.example.com/v1",
                  "--models", "b-2")

    assert result.exit_code == 1
    assert "already exists" in result.stderr
    assert config.read_text() == CONFIG_TEXT


def test_add_provider_with_an_unset_variable_is_refused_naming_it(config: Path) -> None:
    result = _ccr("add-provider", "--name", "gamma", "--url", "https://g.example.com/v1",
                  "--key", "$CCR_TEST_UNSET_KEY", "--models", "g-1")

    assert result.exit_code == 1
    assert "CCR_TEST_UNSET_KEY" in result.stderr
    assert "export CCR_TEST_UNSET_KEY" in result.stderr
    assert config.read_text() == CONFIG_TEXT


def test_add_provider_with_a_bad_url_is_refused(config: Path) -> None:
    result = _ccr("add-provider", "--name", "gamma", "--url", "gamma.example.com",
                  "--models", "g-1")

    assert result.exit_code == 1
    assert "api_base_url" in result.stderr
    assert config.read_text() == CONFIG_TEXT


def test_add_provider_with_a_literal_key_says_it_is_stored_in_the_file(config: Path) -> None:
    result = _ccr("add-provider", "--name", "gamma", "--url", "https://g.example.com/v1",
                  "--key", LITERAL_KEY, "--models", "g-1")

    assert result.exit_code == 0
    assert "stored in the config file" in result.stderr
    assert _data(config)["Providers"][2]["api_key"] == LITERAL_KEY


def test_only_three_backups_are_kept_after_many_changes(config: Path) -> None:
    for route in ["beta,beta-1", "alpha,alpha-small", "alpha,alpha-large", "beta,beta-1",
                  "alpha,alpha-small"]:
        assert _ccr("set", "background", route).exit_code == 0

    backups = list_backups(config)
    assert len(backups) == 3
    assert [json5.loads(b.read_text())["Router"]["background"] for b in backups] == [
        "alpha,alpha-small", "alpha,alpha-large", "beta,beta-1"]


def test_writes_keep_the_files_comments(config: Path) -> None:
    first = _ccr("set", "think", "beta,beta-1")
    second = _ccr("add-model", "alpha", "alpha-v4")

    assert first.exit_code == 0 and second.exit_code == 0
    assert "comments" not in first.stderr + second.stderr
    text = config.read_text()
    assert has_comments(text)
    comments = [line.strip() for line in CONFIG_TEXT.splitlines() if line.strip().startswith("//")]
    assert all(comment in text for comment in comments)
    assert load_config(config).router.think == "beta,beta-1"
    assert load_config(config).provider("alpha").models[-1] == "alpha-v4"


def test_help_says_comments_are_kept(config: Path) -> None:
    result = _ccr("--help")

    assert "comments and layout are kept" in result.stdout


def test_show_prints_slots_and_providers_without_secrets(config: Path) -> None:
    _ccr("add-provider", "--name", "gamma", "--url", "https://g.example.com/v1",
         "--key", LITERAL_KEY, "--models", "g-1")

    result = _ccr("show")

    assert result.exit_code == 0
    for text in ("think", "alpha,alpha-large", "beta-1", f"${KEY_VAR} (set)", "gamma"):
        assert text in result.stdout
    assert LITERAL_KEY not in result.stdout


def test_show_json(config: Path) -> None:
    result = _ccr("show", "--json")

    shown = json.loads(result.stdout)
    assert shown["router"]["think"] == "alpha,alpha-large"
    assert shown["router"]["image"] is None
    assert [p["name"] for p in shown["providers"]] == ["alpha", "beta"]
    assert shown["providers"][0]["api_key"] == f"${KEY_VAR}"
    assert shown["providers"][0]["api_key_set"] is True
    assert shown["providers"][1]["models"] == ["beta-1"]


def test_without_a_terminal_the_bare_command_shows_the_table_and_a_hint(config: Path) -> None:
    result = _ccr()

    assert result.exit_code == 0
    assert "alpha,alpha-large" in result.stdout
    assert "ccr model set" in result.stdout
    assert config.read_text() == CONFIG_TEXT


def test_a_missing_config_says_to_run_init(config: Path) -> None:
    config.unlink()

    result = _ccr("set", "think", "beta,beta-1")

    assert result.exit_code == 1
    assert "ccr init" in result.stderr
    assert not config.exists()


# -- the menu, in a pseudo-terminal ---------------------------------------------------------


@pytest.fixture
def menu(config: Path) -> Iterator[pexpect.spawn]:
    env = {**os.environ, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm", "NO_COLOR": "1"}
    child = pexpect.spawn(sys.executable, ["-m", "ccr", "model"], env=env, cwd=str(ROOT),
                          encoding="utf-8", timeout=15, dimensions=(50, 140))
    child.expect("Pick a Router slot")
    yield child
    child.close(force=True)


def _finish(child: pexpect.spawn) -> int:
    """Back at the menu (its cursor stays on the last item used), leave with Ctrl-C."""
    child.expect("Pick a Router slot")
    child.sendcontrol("c")
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_quit_leaves_the_menu(menu: pexpect.spawn, config: Path) -> None:
    menu.send(UP + ENTER)  # from the top of the list, Up wraps around to Quit
    menu.expect(pexpect.EOF)
    menu.close()

    assert menu.exitstatus == 0
    assert config.read_text() == CONFIG_TEXT


def test_menu_switches_a_slot_with_arrow_keys(menu: pexpect.spawn, config: Path) -> None:
    menu.send(DOWN + DOWN + ENTER)  # default, background, think
    menu.expect("Route for think")
    menu.send(DOWN + ENTER)  # the cursor starts on the current route, alpha-large
    menu.expect(r"Saved: think → beta,beta-1")

    assert _finish(menu) == 0
    assert load_config(config).router.think == "beta,beta-1"
    assert len(list_backups(config)) == 1
    _assert_valid(config)


def test_menu_adds_a_model_to_a_provider(menu: pexpect.spawn, config: Path) -> None:
    menu.send(DOWN * 6 + ENTER)  # six slots down to the first provider
    menu.expect("Model name")
    menu.sendline("alpha-v4, alpha-mini")
    menu.expect("Saved: alpha: added alpha-v4, alpha-mini")

    assert _finish(menu) == 0
    assert load_config(config).provider("alpha").models[-2:] == ("alpha-v4", "alpha-mini")


def _add_provider(menu: pexpect.spawn, name: str, key_var: str) -> None:
    menu.send(UP + UP + ENTER)  # from the top, Up wraps to Quit, then "+ Add a provider"
    menu.expect("Provider name")
    menu.sendline(name)
    menu.expect("URL")
    menu.sendline("gamma.example.com/v1/chat/completions")  # after the default "https://"
    menu.expect("API key")
    menu.send(ENTER)  # from an environment variable
    menu.expect("Environment variable")
    menu.send("\x15" + f"${key_var}" + ENTER)  # Ctrl-U clears the suggested name
    menu.expect("Models")
    menu.sendline("g-1,g-2")
    menu.expect("Transformer")
    menu.send(ENTER)  # none


def test_menu_adds_a_provider(menu: pexpect.spawn, config: Path) -> None:
    _add_provider(menu, "gamma", KEY_VAR)
    menu.expect("Saved: added provider gamma")

    assert _finish(menu) == 0
    gamma = load_config(config).provider("gamma")
    assert gamma.api_base_url == "https://gamma.example.com/v1/chat/completions"
    assert gamma.models == ("g-1", "g-2")
    assert _data(config)["Providers"][2]["api_key"] == f"${KEY_VAR}"


def test_menu_refuses_an_invalid_provider_and_keeps_the_file(
    menu: pexpect.spawn, config: Path
) -> None:
    _add_provider(menu, "gamma", "CCR_TEST_UNSET_KEY")
    menu.expect("not written")
    menu.expect("export CCR_TEST_UNSET_KEY")

    assert _finish(menu) == 0
    assert config.read_text() == CONFIG_TEXT
    assert list_backups(config) == []


def test_ctrl_c_leaves_the_menu_cleanly(menu: pexpect.spawn, config: Path) -> None:
    menu.send(ENTER)
    menu.expect("Route for default")
    menu.sendcontrol("c")
    menu.expect(pexpect.EOF)
    menu.close()

    assert menu.exitstatus == 0
    assert "Traceback" not in (menu.before or "")
    assert config.read_text() == CONFIG_TEXT


def test_non_interactive_mode_shows_the_table_even_in_a_terminal(config: Path) -> None:
    data = _data(config)
    data["NON_INTERACTIVE_MODE"] = True
    config.write_text(json.dumps(data))
    child = pexpect.spawn(sys.executable, ["-m", "ccr", "model"], env=dict(os.environ),
                          cwd=str(ROOT), encoding="utf-8", timeout=15)

    child.expect("ccr model set")
    child.expect(pexpect.EOF)
    child.close()

    assert child.exitstatus == 0


def test_a_running_server_picks_up_a_change(config: Path) -> None:
    with ServeProcess(home=config.parent, config_path=config) as server:
        assert "alpha,alpha-v4" not in _served_routes(server.port, lambda routes: bool(routes))

        assert _ccr("add-model", "alpha", "alpha-v4").exit_code == 0

        assert "alpha,alpha-v4" in _served_routes(server.port,
                                                  lambda r: "alpha,alpha-v4" in r)


def _served_routes(port: int, done: Callable[[list[str]], bool]) -> list[str]:
    """The server's routes (``GET /v1/models``) once ``done`` holds, or after 15 s."""
    routes: list[str] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            body = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).json()
            routes = [m["id"] for m in body["data"]]
            if done(routes):
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return routes
