"""``ccr init``: a commented starter config that works once one variable is set."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import json5
import pytest
from typer.testing import CliRunner

from ccr.cli.init import STARTER_KEY_VARIABLE
from ccr.cli.main import app
from ccr.config import has_comments, list_backups, load_config
from ccr.errors import ConfigError
from tests.support.serve_process import ServeProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ccr-home"
    monkeypatch.setenv("CCR_HOME", str(home))
    monkeypatch.delenv(STARTER_KEY_VARIABLE, raising=False)
    return home


def _init(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["init", *args])
    return result.exit_code, result.stdout, result.stderr


def test_init_creates_ccr_home_and_an_owner_only_config(home: Path) -> None:
    code, out, _ = _init()

    config = home / "config.json"
    assert code == 0
    assert config.exists()
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert str(config) in out


def test_init_prints_the_next_steps(home: Path) -> None:
    _, out, _ = _init()

    assert f"set {STARTER_KEY_VARIABLE}, then `ccr code`" in out
    assert "ccr model" in out


def test_starter_loads_once_its_variable_is_set(home: Path) -> None:
    _init()

    config = load_config(home / "config.json", env={STARTER_KEY_VARIABLE: "sk-dummy"})

    assert [p.name for p in config.providers] == ["deepseek", "ollama"]
    assert config.provider("deepseek").api_key == "sk-dummy"
    assert config.resolve(config.router.default) is not None
    assert config.resolve(config.router.think) is not None
    assert config.log is True


def test_starter_ollama_provider_is_local_and_keyless(home: Path) -> None:
    _init()

    ollama = load_config(home / "config.json", env={STARTER_KEY_VARIABLE: "x"}).provider("ollama")

    assert ollama.api_base_url == "http://127.0.0.1:11434/v1/chat/completions"
    assert ollama.api_key is None


def test_starter_keeps_the_key_as_a_variable_reference(home: Path) -> None:
    _init()

    data = json5.loads((home / "config.json").read_text())

    assert data["Providers"][0]["api_key"] == f"${STARTER_KEY_VARIABLE}"


def test_starter_with_the_variable_unset_is_an_error_naming_it(home: Path) -> None:
    _init()

    with pytest.raises(ConfigError, match=STARTER_KEY_VARIABLE):
        load_config(home / "config.json", env={})


def test_every_top_level_key_of_the_starter_is_explained_by_a_comment(home: Path) -> None:
    _init()
    text = (home / "config.json").read_text()
    lines = text.splitlines()
    top_level = re.compile(r'^  "(\w+)":')

    assert has_comments(text)
    for key in json5.loads(text):
        index = next(i for i, line in enumerate(lines) if line.startswith(f'  "{key}":'))
        above = index - 1
        while top_level.match(lines[above]):
            above -= 1
        assert lines[above].strip().startswith("//"), f"{key} has no comment above it"


def test_init_refuses_to_overwrite_an_existing_config(home: Path) -> None:
    home.mkdir()
    config = home / "config.json"
    config.write_text('{"PORT": 4567}')

    code, _, err = _init()

    assert code != 0
    assert config.read_text() == '{"PORT": 4567}'
    assert str(config) in err
    assert "ccr model" in err
    assert "--force" in err
    assert "Traceback" not in err


def test_init_force_backs_up_the_old_config_and_writes_the_starter(home: Path) -> None:
    home.mkdir()
    config = home / "config.json"
    config.write_text('{"PORT": 4567}')

    code, out, _ = _init("--force")

    [backup] = list_backups(config)
    assert code == 0
    assert backup.read_text() == '{"PORT": 4567}'
    assert str(backup) in out
    assert "Providers" in json5.loads(config.read_text())


def test_init_writes_to_the_config_option_path(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "my.json"

    code, _, _ = _init("--config", str(target))

    assert code == 0
    assert target.exists()
    assert not (home / "config.json").exists()


def test_serve_starts_on_the_starter_config(home: Path) -> None:
    _init()
    with ServeProcess(home=home, env={STARTER_KEY_VARIABLE: "sk-dummy"}) as server:
        health = server.health()
    assert health["providers"] == 2
    assert health["config"] == str(home / "config.json")
