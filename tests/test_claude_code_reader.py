"""Reading a Claude Code request: the typed prompt, who asks, what it carries, where it runs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ccr.protocol import claude_code as cc
from tests.support.claude_code_requests import (
    LOCAL_PROMPTS,
    SHARED_PROMPTS,
    later_turn,
    local,
    shared,
)


@pytest.mark.parametrize(("name", "typed"), sorted(SHARED_PROMPTS.items()))
def test_prompt_is_what_the_person_typed_in_every_recorded_request(name: str, typed: str) -> None:
    assert cc.prompt(shared(name)["body"]) == typed


@pytest.mark.parametrize(("name", "typed"), sorted(LOCAL_PROMPTS.items()))
def test_prompt_is_what_the_person_typed_in_every_committed_request(name: str, typed: str) -> None:
    assert cc.prompt(local(name)["body"]) == typed


def test_prompt_ignores_the_agent_list_in_a_mid_conversation_system_message() -> None:
    body = local("plain")["body"]
    assert body["messages"][-1]["role"] == "system"
    assert "review" in body["messages"][-1]["content"]
    assert "review" not in cc.prompt(body)


def test_prompt_of_a_tool_result_turn_is_the_prompt_that_started_the_task() -> None:
    body = local("tool-result")["body"]
    assert cc.is_tool_result(body)
    assert cc.prompt(body) == "TOOLTEST please run echo"


def test_prompt_is_the_latest_human_turn_without_its_system_reminder() -> None:
    body = later_turn("now write a test for it")["body"]
    assert cc.prompt(body) == "now write a test for it"
    assert cc.first_prompt(body) == "say hello"


def test_prompt_of_a_slash_command_is_the_command_and_its_arguments() -> None:
    typed = ("<command-message>review is running…</command-message>\n"
             "<command-name>/review</command-name>\n<command-args>123</command-args>")
    assert cc.prompt(later_turn(typed)["body"]) == "/review 123"


def test_prompt_skips_local_command_output_and_interruption_notes() -> None:
    body = later_turn([
        {"type": "text", "text": "<local-command-stdout>ok</local-command-stdout>"},
        {"type": "text", "text": "[Request interrupted by user]"},
    ])["body"]
    assert cc.prompt(body) == "say hello"


def test_prompt_of_a_plain_api_request_is_its_user_text() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "  Why is it slow?  "}]}
    assert cc.prompt(body) == "Why is it slow?"
    assert not cc.is_tool_result(body)


@pytest.mark.parametrize("body", [{}, {"messages": "x"}, {"messages": [None, 3, {"role": "user"}]},
                                  {"system": 5, "tools": "x", "thinking": "on", "model": 3}])
def test_odd_bodies_give_empty_answers_instead_of_errors(body: dict[str, Any]) -> None:
    assert (cc.prompt(body), cc.first_prompt(body), cc.is_tool_result(body)) == ("", "", False)
    assert (cc.cwd(body), cc.thinking(body), cc.explicit_route(body)) == (None, None, None)
    assert (cc.tool_names(body), cc.has_images(body), cc.is_subagent(body)) == ((), False, False)


def test_first_turn_is_not_a_tool_result() -> None:
    assert not cc.is_tool_result(local("plain")["body"])


# -- who asks -------------------------------------------------------------------------------


def test_subagent_request_is_recognised_with_its_agent_type() -> None:
    request = local("subagent")
    assert cc.is_subagent(request["body"], request["headers"])
    assert cc.subagent_type(request["body"], request["headers"]) == "general-purpose"


def test_billing_line_alone_marks_a_subagent() -> None:
    assert cc.is_subagent(local("subagent")["body"], {})


def test_agent_id_header_alone_marks_a_subagent() -> None:
    assert cc.is_subagent({"messages": []}, {"X-Claude-Code-Agent-Id": "a1"})


def test_main_agent_is_not_a_subagent() -> None:
    request = local("plain")
    assert not cc.is_subagent(request["body"], request["headers"])
    assert cc.subagent_type(request["body"], request["headers"]) is None


def test_user_defined_agent_has_no_type() -> None:
    body = copy.deepcopy(local("subagent")["body"])
    body["system"][2]["text"] = "You review SQL migrations."
    assert cc.is_subagent(body) and cc.subagent_type(body) is None


def test_haiku_request_is_background_and_asks_for_enabled_thinking_with_a_budget() -> None:
    body = local("haiku-thinking-enabled")["body"]
    assert cc.is_background(body)
    assert cc.requested_model(body) == "claude-haiku-4-5-20251001"
    assert (cc.thinking(body), cc.thinking_budget(body)) == ("enabled", 31999)


def test_main_turn_thinking_is_adaptive_without_a_budget() -> None:
    body = local("plain")["body"]
    assert not cc.is_background(body)
    assert (cc.thinking(body), cc.thinking_budget(body)) == ("adaptive", None)


def test_disabled_thinking_reads_as_none() -> None:
    assert cc.thinking(local("sonnet-thinking-disabled")["body"]) is None


def test_model_chosen_with_slash_model_is_the_explicit_route() -> None:
    assert cc.explicit_route({"model": "deepseek, deepseek-chat"}) == "deepseek,deepseek-chat"
    assert cc.explicit_route(local("plain")["body"]) is None


# -- what it carries ------------------------------------------------------------------------


def test_tool_names_are_listed_in_order() -> None:
    names = cc.tool_names(local("plain")["body"])
    assert names[:3] == ("Agent", "Bash", "CronCreate") and len(names) == 24


def test_web_search_is_the_server_tool_not_a_function_named_like_it() -> None:
    body = local("plain")["body"]
    assert "WebSearch" in cc.tool_names(body) and not cc.has_web_search(body)
    body = {"tools": [{"type": "web_search_20250305", "name": "web_search"}]}
    assert cc.has_web_search(body)


def test_image_in_a_tool_result_counts_as_an_image() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}}
    turn = later_turn("what is in the screenshot?")
    assert not cc.has_images(turn["body"])
    turn["body"]["messages"].append({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t1", "content": [image]}]})
    assert cc.has_images(turn["body"])


def test_message_count_counts_every_message_including_system_ones() -> None:
    assert cc.message_count(local("plain")["body"]) == 2
    assert cc.message_count(later_turn("x")["body"]) == 5


# -- where it runs --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LOCAL_PROMPTS))
def test_cwd_is_read_from_the_main_and_the_subagent_system_prompt(name: str) -> None:
    assert cc.cwd(local(name)["body"]) == "/home/dev/project"


@pytest.mark.parametrize("name", sorted(SHARED_PROMPTS))
def test_cwd_is_found_in_every_recorded_request(name: str) -> None:
    body = shared(name)["body"]
    assert cc.cwd(body) == "/home/dev/project"
    assert cc.project(body) == "-home-dev-project"


@pytest.mark.parametrize(("path", "folder"), [
    ("/home/me/src/webapp", "-home-me-src-webapp"),
    ("/home/me/my_app.v2", "-home-me-my-app-v2"),
    ("/Users/Zoë/Code", "-Users-Zo--Code"),
    ("C:\\Users\\me\\app", "C--Users-me-app"),
])
def test_project_folder_name_replaces_every_non_alphanumeric_character(path: str, folder: str
                                                                       ) -> None:
    assert cc.project_name(path) == folder


def test_project_of_a_very_long_path_is_left_to_the_transcript_lookup() -> None:
    assert cc.project_name("/" + "a" * 300) is None


def test_a_system_prompt_without_an_environment_section_has_no_cwd() -> None:
    assert cc.cwd({"system": "You are a helpful assistant."}) is None
