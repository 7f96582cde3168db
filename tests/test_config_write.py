"""Writing a config: validated first, atomic, ``$VAR`` kept, owner-only, three backups."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from ccr.config import (
    backup_config,
    has_comments,
    list_backups,
    load_config,
    read_config_data,
    write_config,
)
from ccr.errors import ConfigError
from ccr.transformers import check_chains

ENV = {"TEST_PROVIDER_KEY": "sk-test-value"}


def _config(model: str = "model-a", **extra: Any) -> dict[str, Any]:
    return {
        "Providers": [{
            "name": "prov",
            "api_base_url": "https://api.example.com/v1/chat/completions",
            "api_key": "$TEST_PROVIDER_KEY",
            "models": ["model-a", "model-b"],
        }],
        "Router": {"default": f"prov,{model}"},
        **extra,
    }


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "config.json"


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_written_config_loads_back_as_the_same_config(path: Path) -> None:
    write_config(path, _config("model-b"), env=ENV)

    loaded = load_config(path, env=ENV)

    assert loaded.router.default == "prov,model-b"
    assert loaded.provider("prov").api_key == ENV["TEST_PROVIDER_KEY"]


def test_variable_references_are_written_as_is_not_substituted(path: Path) -> None:
    write_config(path, _config(), env=ENV)

    text = path.read_text()
    assert "$TEST_PROVIDER_KEY" in text
    assert ENV["TEST_PROVIDER_KEY"] not in text


def test_the_data_passed_in_is_not_modified(path: Path) -> None:
    data = _config()
    before = json.dumps(data)

    write_config(path, data, env=ENV)

    assert json.dumps(data) == before


def test_invalid_config_is_refused_and_the_file_left_untouched(path: Path) -> None:
    write_config(path, _config(), env=ENV)
    before = path.read_bytes()
    backups = list_backups(path)

    with pytest.raises(ConfigError, match="not in provider"):
        write_config(path, _config("no-such-model"), env=ENV)

    assert path.read_bytes() == before
    assert list_backups(path) == backups
    assert _leftovers(path.parent) == []


def test_unset_variable_is_refused_naming_it(path: Path) -> None:
    with pytest.raises(ConfigError, match="TEST_PROVIDER_KEY"):
        write_config(path, _config(), env={})

    assert not path.exists()


def test_unknown_transformer_is_refused_as_the_server_would(path: Path) -> None:
    data = _config()
    data["Providers"][0]["transformer"] = {"use": ["no-such-transformer"]}

    with pytest.raises(ConfigError, match="no-such-transformer"):
        write_config(path, data, env=ENV, check=check_chains)

    assert not path.exists()


def test_an_empty_config_never_replaces_a_non_empty_one(path: Path) -> None:
    write_config(path, _config(), env=ENV)
    before = path.read_bytes()

    with pytest.raises(ConfigError, match="empty"):
        write_config(path, {}, env=ENV)

    assert path.read_bytes() == before


def test_a_non_object_is_refused(path: Path) -> None:
    with pytest.raises(ConfigError, match="JSON object"):
        write_config(path, ["not", "a", "config"], env=ENV)  # type: ignore[arg-type]


def test_a_new_file_is_readable_by_its_owner_only(path: Path) -> None:
    write_config(path, _config(), env=ENV)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_mode_of_an_existing_file_is_kept(path: Path) -> None:
    write_config(path, _config(), env=ENV)
    path.chmod(0o640)

    write_config(path, _config("model-b"), env=ENV)

    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_each_write_backs_up_the_previous_file(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text("// hand-written\n" + json.dumps(_config()))
    original = path.read_text()

    written = write_config(path, _config("model-b"), env=ENV)

    assert written.backup is not None
    assert written.backup.read_text() == original
    assert written.backup.name.startswith("config.json.") and written.backup.suffix == ".bak"


def test_only_the_three_newest_backups_are_kept(path: Path) -> None:
    contents = []
    for i in range(6):
        write_config(path, _config("model-a" if i % 2 else "model-b", PORT=4000 + i), env=ENV)
        contents.append(path.read_text())

    backups = list_backups(path)

    assert [b.read_text() for b in backups] == contents[-4:-1]


def test_backups_made_in_the_same_millisecond_keep_their_order(path: Path) -> None:
    path.parent.mkdir(parents=True)
    made = []
    for i in range(12):
        path.write_text(json.dumps({"PORT": 5000 + i}))
        made.append(backup_config(path))

    assert list_backups(path) == made
    assert len({b.name for b in made}) == len(made)


def test_other_bak_files_are_never_pruned(path: Path) -> None:
    path.parent.mkdir(parents=True)
    mine = path.parent / "config.json.my-own.bak"
    mine.write_text("{}")
    for i in range(5):
        write_config(path, _config(PORT=4000 + i), env=ENV)

    assert mine.exists()
    assert len(list_backups(path)) == 3


def test_keep_backups_zero_writes_no_backup(path: Path) -> None:
    write_config(path, _config(), env=ENV)

    written = write_config(path, _config("model-b"), env=ENV, keep_backups=0)

    assert written.backup is None
    assert list_backups(path) == []


def test_a_failed_rename_leaves_the_old_file_and_no_temporary_file(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(path, _config(), env=ENV)
    before = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_config(path, _config("model-b"), env=ENV)

    assert path.read_bytes() == before
    assert _leftovers(path.parent) == []


@pytest.mark.slow
def test_readers_only_ever_see_a_whole_file(path: Path) -> None:
    write_config(path, _config(), env=ENV)
    seen: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(path.read_text())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(30):
            write_config(path, _config("model-a", PORT=4000 + i, filler="x" * 20000), env=ENV,
                         keep_backups=0)
    finally:
        done.set()
        reader.join()

    assert seen
    for text in seen:
        json.loads(text)


def test_a_symlinked_config_is_written_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "ccr.json"
    real.parent.mkdir()
    real.write_text(json.dumps(_config()))
    link = tmp_path / "config.json"
    link.symlink_to(real)

    write_config(link, _config("model-b"), env=ENV)

    assert link.is_symlink()
    assert json.loads(real.read_text())["Router"]["default"] == "prov,model-b"


def test_an_edit_keeps_comments_and_changes_only_what_changed(path: Path) -> None:
    path.parent.mkdir(parents=True)
    original = "{\n  // the default route\n" + json.dumps(_config())[1:]
    path.write_text(original)

    written = write_config(path, _config("model-b"), env=ENV)

    assert written.dropped_comments is False
    text = path.read_text()
    assert "// the default route" in text
    assert text == original.replace('"prov,model-a"', '"prov,model-b"')


def test_a_change_that_cannot_be_edited_in_place_is_a_rewrite_that_says_so(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text("{\n  // the default route\n  \"LOG\": false,\n" + json.dumps(_config())[1:])

    first = write_config(path, _config("model-b"), env=ENV)  # LOG removed: rewritten
    second = write_config(path, _config("model-a"), env=ENV)

    assert first.dropped_comments is True
    assert second.dropped_comments is False


@pytest.mark.parametrize("text", [
    '{"url": "https://api.example.com/v1"}',
    "{'a': 'it\\'s // not a comment'}",
    '{"a": "/* nor this */"}',
])
def test_slashes_inside_strings_are_not_comments(text: str) -> None:
    assert has_comments(text) is False


@pytest.mark.parametrize("text", [
    '{\n  // a comment\n  "a": 1\n}',
    '{"a": 1 /* inline */}',
    '{"url": "https://x"} // after a URL',
])
def test_comments_are_found(text: str) -> None:
    assert has_comments(text) is True


def test_reading_for_edits_keeps_variable_references(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text("{\n  // JSON5\n  APIKEY: '$CCR_KEY',\n  PORT: 3456,\n}\n")

    assert read_config_data(path) == {"APIKEY": "$CCR_KEY", "PORT": 3456}
