"""Finding a session's Claude Code project and its project/session Router overrides."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from ccr.context.projects import PROJECT_CONFIG_NAME as PROJECT_CONFIG
from ccr.context.projects import ProjectLocator, is_safe_file_name

SESSION = "2ffc1eea-cfcf-408c-a8bc-5623b6270f2e"
PROJECT = "-home-user-code-app"


class FakeTimer:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def timer() -> FakeTimer:
    return FakeTimer()


@pytest.fixture
def claude_dir(tmp_path: Path) -> Path:
    path = tmp_path / "claude" / "projects"
    (path / "-other-project").mkdir(parents=True)
    (path / "-other-project" / "11111111-2222-3333-4444-555555555555.jsonl").write_text("{}\n")
    return path


@pytest.fixture
def ccr_home(tmp_path: Path) -> Path:
    path = tmp_path / "ccr-home"
    path.mkdir()
    return path


@pytest.fixture
def locator(claude_dir: Path, ccr_home: Path, timer: FakeTimer) -> ProjectLocator:
    return ProjectLocator(claude_dir, ccr_home, hit_ttl=3600, miss_ttl=5, stat_ttl=5, timer=timer)


def add_transcript(claude_dir: Path, project: str = PROJECT, session: str = SESSION) -> None:
    (claude_dir / project).mkdir(parents=True, exist_ok=True)
    (claude_dir / project / f"{session}.jsonl").write_text('{"type": "user"}\n')


def write_override(ccr_home: Path, name: str, content: str, project: str = PROJECT) -> Path:
    path = ccr_home / project / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def router_file(default: str) -> str:
    return json.dumps({"Router": {"default": default}})


# -- project_for ----------------------------------------------------------------------------


def test_session_with_a_transcript_is_found_in_its_project(
    locator: ProjectLocator, claude_dir: Path
) -> None:
    add_transcript(claude_dir)
    assert locator.project_for(SESSION) == PROJECT


def test_session_without_a_transcript_has_no_project(locator: ProjectLocator) -> None:
    assert locator.project_for(SESSION) is None


def test_missing_projects_folder_means_no_project(tmp_path: Path, ccr_home: Path) -> None:
    locator = ProjectLocator(tmp_path / "does-not-exist", ccr_home)
    assert locator.project_for(SESSION) is None


def test_miss_is_remembered_only_for_the_miss_ttl(
    locator: ProjectLocator, claude_dir: Path, timer: FakeTimer
) -> None:
    assert locator.project_for(SESSION) is None
    add_transcript(claude_dir)
    timer.now += 4.0
    assert locator.project_for(SESSION) is None
    timer.now += 2.0
    assert locator.project_for(SESSION) == PROJECT


def test_found_project_is_served_from_cache_without_the_filesystem(
    locator: ProjectLocator, claude_dir: Path, timer: FakeTimer
) -> None:
    add_transcript(claude_dir)
    assert locator.project_for(SESSION) == PROJECT
    shutil.rmtree(claude_dir)
    timer.now += 3000.0
    assert locator.project_for(SESSION) == PROJECT
    timer.now += 601.0
    assert locator.project_for(SESSION) is None


@pytest.mark.parametrize(
    "session_id",
    ["../-other-project/11111111-2222-3333-4444-555555555555", "a/b", "..", ".", "", "x\0y",
     "a\\b", "x" * 256],
)
def test_unsafe_session_ids_are_rejected(
    locator: ProjectLocator, claude_dir: Path, session_id: str
) -> None:
    (claude_dir / "-other-project" / "..jsonl").write_text("{}\n")
    assert locator.project_for(session_id) is None
    assert locator.router_override(session_id) is None


def test_safe_file_name_accepts_a_uuid_and_rejects_non_strings() -> None:
    assert is_safe_file_name(SESSION)
    assert not is_safe_file_name(None)
    assert not is_safe_file_name(42)


# -- router_override ------------------------------------------------------------------------


def test_project_config_router_is_the_override(
    locator: ProjectLocator, claude_dir: Path, ccr_home: Path
) -> None:
    add_transcript(claude_dir)
    write_override(ccr_home, "config.json", router_file("p,project-model"))
    assert locator.router_override(SESSION) == {"default": "p,project-model"}


def test_session_file_beats_project_file(
    locator: ProjectLocator, claude_dir: Path, ccr_home: Path
) -> None:
    add_transcript(claude_dir)
    write_override(ccr_home, "config.json", router_file("p,project-model"))
    write_override(ccr_home, f"{SESSION}.json", router_file("p,session-model"))
    assert locator.router_override(SESSION) == {"default": "p,session-model"}


def test_session_file_without_router_falls_back_to_project_file(
    locator: ProjectLocator, claude_dir: Path, ccr_home: Path
) -> None:
    add_transcript(claude_dir)
    write_override(ccr_home, "config.json", router_file("p,project-model"))
    write_override(ccr_home, f"{SESSION}.json", '{"note": "nothing here"}')
    assert locator.router_override(SESSION) == {"default": "p,project-model"}


def test_no_override_files_means_no_override(
    locator: ProjectLocator, claude_dir: Path
) -> None:
    add_transcript(claude_dir)
    assert locator.router_override(SESSION) is None
    assert locator.last_error is None


def test_no_session_id_means_no_override(locator: ProjectLocator) -> None:
    assert locator.router_override(None) is None


def test_override_files_are_read_as_json5(
    locator: ProjectLocator, claude_dir: Path, ccr_home: Path
) -> None:
    add_transcript(claude_dir)
    write_override(ccr_home, "config.json", "{\n  // mine\n  Router: {default: 'p,m',},\n}\n")
    assert locator.router_override(SESSION) == {"default": "p,m"}


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"Router": {"default": ', "invalid JSON"),
        ('["Router"]', "top level must be an object"),
        ('{"Router": "p,m"}', "Router must be an object"),
    ],
)
def test_broken_override_gives_none_and_sets_last_error(
    locator: ProjectLocator, claude_dir: Path, ccr_home: Path, content: str, message: str
) -> None:
    add_transcript(claude_dir)
    write_override(ccr_home, "config.json", router_file("p,project-model"))
    path = write_override(ccr_home, f"{SESSION}.json", content)
    assert locator.router_override(SESSION) is None
    assert locator.last_error is not None
    assert str(path) in locator.last_error
    assert message in locator.last_error


def test_last_error_is_cleared_by_a_later_good_lookup(
    locator: ProjectLocator, claude_dir: Path, ccr_home: Path
) -> None:
    add_transcript(claude_dir)
    add_transcript(claude_dir, session="aaaaaaaa-0000-0000-0000-000000000000")
    write_override(ccr_home, f"{SESSION}.json", "{broken")
    assert locator.router_override(SESSION) is None
    assert locator.last_error is not None
    locator.router_override("aaaaaaaa-0000-0000-0000-000000000000")
    assert locator.last_error is None


def test_edit_of_an_override_file_is_picked_up_after_the_stat_ttl(
    locator: ProjectLocator, claude_dir: Path, ccr_home: Path, timer: FakeTimer
) -> None:
    add_transcript(claude_dir)
    path = write_override(ccr_home, "config.json", router_file("p,before"))
    assert locator.router_override(SESSION) == {"default": "p,before"}
    path.write_text(router_file("p,after-edit"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    timer.now += 6.0
    assert locator.router_override(SESSION) == {"default": "p,after-edit"}


def test_new_override_file_is_picked_up_after_the_stat_ttl(
    locator: ProjectLocator, claude_dir: Path, ccr_home: Path, timer: FakeTimer
) -> None:
    add_transcript(claude_dir)
    assert locator.router_override(SESSION) is None
    write_override(ccr_home, f"{SESSION}.json", router_file("p,new"))
    timer.now += 6.0
    assert locator.router_override(SESSION) == {"default": "p,new"}


def test_cached_override_is_served_without_the_filesystem(
    locator: ProjectLocator, claude_dir: Path, ccr_home: Path, timer: FakeTimer
) -> None:
    add_transcript(claude_dir)
    write_override(ccr_home, "config.json", router_file("p,cached"))
    assert locator.router_override(SESSION) == {"default": "p,cached"}
    shutil.rmtree(ccr_home)
    shutil.rmtree(claude_dir)
    timer.now += 4.0
    assert locator.router_override(SESSION) == {"default": "p,cached"}
    timer.now += 2.0
    assert locator.router_override(SESSION) is None


def test_returned_override_is_a_copy(
    locator: ProjectLocator, claude_dir: Path, ccr_home: Path
) -> None:
    add_transcript(claude_dir)
    write_override(ccr_home, "config.json", router_file("p,original"))
    first = locator.router_override(SESSION)
    assert first is not None
    first["default"] = "mutated"
    assert locator.router_override(SESSION) == {"default": "p,original"}


def test_a_broken_override_file_is_logged_once_per_version(
    locator: ProjectLocator, claude_dir: Path, ccr_home: Path, timer: FakeTimer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_transcript(claude_dir)
    path = write_override(ccr_home, f"{SESSION}.json", '{"Router": [1]}')
    with caplog.at_level(logging.WARNING, logger="ccr"):
        assert locator.router_override(SESSION) is None
        assert locator.router_override(SESSION) is None
    warnings = [r.getMessage() for r in caplog.records if "override file ignored" in r.getMessage()]
    assert len(warnings) == 1
    assert str(path) in warnings[0] and "Router must be an object" in warnings[0]


# -- the project from the working directory Claude Code states --------------------------------

FIRST_TURN = {"system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2;"},
                         {"type": "text", "text": "# Environment\n - Primary working directory: "
                                                  "/home/user/code/app\n - Platform: linux\n"}],
              "messages": [{"role": "user", "content": "say hello"}]}


def test_first_request_of_a_session_is_placed_by_its_working_directory(
    locator: ProjectLocator
) -> None:
    assert locator.project_for(SESSION) is None
    assert locator.locate(SESSION, FIRST_TURN) == PROJECT


def test_working_directory_wins_over_the_transcript_folder(
    locator: ProjectLocator, claude_dir: Path
) -> None:
    add_transcript(claude_dir, project="-somewhere-else")
    assert locator.locate(SESSION, FIRST_TURN) == PROJECT


def test_request_without_a_working_directory_falls_back_to_the_transcript(
    locator: ProjectLocator, claude_dir: Path
) -> None:
    add_transcript(claude_dir)
    assert locator.locate(SESSION, {"messages": []}) == PROJECT
    assert locator.locate(None, {"messages": []}) is None


def test_project_override_applies_to_the_first_request_without_a_transcript(
    locator: ProjectLocator, ccr_home: Path
) -> None:
    write_override(ccr_home, PROJECT_CONFIG, router_file("p,first"))
    project = locator.locate(SESSION, FIRST_TURN)
    assert locator.router_override(SESSION, project) == {"default": "p,first"}


def test_project_override_applies_without_any_session_id(
    locator: ProjectLocator, ccr_home: Path
) -> None:
    write_override(ccr_home, PROJECT_CONFIG, router_file("p,first"))
    assert locator.router_override(None, locator.locate(None, FIRST_TURN)) == {
        "default": "p,first"}


def test_session_override_still_beats_the_project_found_from_the_cwd(
    locator: ProjectLocator, ccr_home: Path
) -> None:
    write_override(ccr_home, PROJECT_CONFIG, router_file("p,project"))
    write_override(ccr_home, f"{SESSION}.json", router_file("p,session"))
    assert locator.router_override(SESSION, PROJECT) == {"default": "p,session"}


def test_unsafe_project_names_are_never_used_as_folders(locator: ProjectLocator) -> None:
    assert locator.router_override(SESSION, "../etc") is None
