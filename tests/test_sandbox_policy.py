"""The sandbox policy in-process: read-only views, guards, import facades, error phrasing.

These run RestrictedPython code in the test process itself (no worker) to pin down what a
script can and cannot do; ``test_sandbox_pool`` and ``test_sandbox_hostile`` cover the process
boundary.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ccr.sandbox.facades import FACADES, guarded_import
from ccr.sandbox.policy import (
    BUILTINS,
    MAX_ERROR_CHARS,
    MAX_OUTPUT_CHARS,
    OutputCollector,
    ScriptError,
    check_route,
    compile_script,
    describe_exception,
    guarded_getattr,
    new_globals,
)
from ccr.sandbox.views import PENDING, ReadOnlyDict, ReadOnlyList, Request, unwrap

NAME = "custom_router.py"
BODY = {
    "model": "claude-sonnet-4",
    "messages": [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": [{"type": "text", "text": "hi"}]},
        {"role": "user", "content": [{"type": "text", "text": "explain this code"}]},
    ],
    "stream": True,
}
CONFIG = {"Providers": [{"name": "openrouter", "models": ["a", "b"]}], "Router": {"default": "x"}}


def run(source: str, body: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None) -> Any:
    """Compile and call ``router`` exactly as the worker does, minus the process."""
    code = compile_script(source, NAME)
    namespace = new_globals(OutputCollector())
    exec(code, namespace)
    req = Request({"body": ReadOnlyDict(json.loads(json.dumps(body or BODY))), "token_count": 7})
    return namespace["router"](req, ReadOnlyDict(json.loads(json.dumps(config or CONFIG))))


def script(*lines: str) -> str:
    return "def router(req, config):\n" + "".join(f"    {line}\n" for line in lines)


def error_of(source: str) -> str:
    try:
        run(source)
    except ScriptError as exc:
        return str(exc)
    except Exception as exc:
        return describe_exception(exc, NAME)
    raise AssertionError("the script ran without error")


# -- reading req and config ---------------------------------------------------------------------


def test_req_fields_read_as_attributes_and_items() -> None:
    assert run(script("return [req.token_count, req['token_count'], req.body['model']]")) == [
        7, 7, "claude-sonnet-4",
    ]


def test_nested_body_reads_like_plain_json() -> None:
    result = run(script(
        "msgs = req.body['messages']",
        "last = msgs[-1]['content'][0]['text']",
        "roles = [m['role'] for m in msgs]",
        "return [last, roles, len(msgs), 'model' in req.body, req.body.get('nope', 1),",
        "        sorted(req.body.keys()), len(list(req.body.items())), msgs[1:][0]['role']]",
    ))
    assert result == [
        "explain this code", ["user", "assistant", "user"], 3, True, 1,
        ["messages", "model", "stream"], 3, "assistant",
    ]


def test_unknown_req_field_names_the_fields_there_are() -> None:
    assert "req has no field 'tokenCount' (fields: body, token_count)" in error_of(
        script("return req.tokenCount")
    )


def test_views_count_as_dict_and_list_for_isinstance() -> None:
    assert run(script(
        "m = req.body['messages']",
        "return [isinstance(req.body, dict), isinstance(m, (str, list)), isinstance(m, dict),",
        "        isinstance(m[0]['content'], str)]",
    )) == [True, True, False, True]


def test_views_compare_equal_to_the_plain_data() -> None:
    assert run(script("return req.body['messages'][0] == {'role': 'user', 'content': 'hello'}"))
    assert run(script("return config['Providers'][0]['models'] == ['a', 'b']"))


def test_views_copy_into_plain_containers_the_script_may_change() -> None:
    result = run(script(
        "body = dict(req.body)",
        "body['model'] = 'other'",
        "msgs = list(req.body['messages']) + [{'role': 'user', 'content': 'more'}]",
        "return [body['model'], len(msgs), req.body['model']]",
    ))
    assert result == ["other", 4, "claude-sonnet-4"]


def test_json_dumps_in_a_script_serializes_views() -> None:
    dumped = run("import json\n" + script("return json.dumps(req.body, sort_keys=True)"))
    assert json.loads(dumped) == BODY


@pytest.mark.parametrize("statement", [
    "config['Router'] = {}",
    "config['Providers'][0]['name'] = 'evil'",
    "del config['Router']",
    "req.body['messages'][0] = 1",
    "config.update({'a': 1})",
    "config.setdefault('a', 1)",
    "config.pop('Router')",
    "config.clear()",
    "req.body['messages'].append({})",
    "req.body['messages'].extend([])",
    "req.body['messages'].sort()",
    "req.body['messages'].pop()",
    "req.body = {}",
])
def test_every_kind_of_write_to_req_or_config_is_refused(statement: str) -> None:
    error = error_of(script(statement))
    assert "TypeError" in error
    assert "read-only" in error


def test_pending_body_field_is_fetched_on_first_read_only() -> None:
    asked: list[str] = []

    def fetch(key: str) -> Any:
        asked.append(key)
        return [{"name": "Bash"}]

    body = ReadOnlyDict({"model": "m", "tools": PENDING}, fetch)
    assert "tools" in body and len(body) == 2 and asked == []
    assert body["tools"][0]["name"] == "Bash"
    assert body.get("tools")[0]["name"] == "Bash"
    assert asked == ["tools"]


def test_unwrap_gives_the_full_plain_data_behind_a_view() -> None:
    body = ReadOnlyDict({"tools": PENDING, "n": 1}, lambda key: [1, 2])
    assert unwrap(body) == {"tools": [1, 2], "n": 1}
    assert unwrap(ReadOnlyList([{"a": 1}])) == [{"a": 1}]


# -- guards -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["__class__", "_data", "gi_frame", "f_globals", "mro"])
def test_getattr_refuses_private_and_introspection_names(name: str) -> None:
    with pytest.raises(AttributeError):
        guarded_getattr(int, name)


@pytest.mark.parametrize("name", ["format", "format_map"])
def test_getattr_refuses_str_format_methods(name: str) -> None:
    with pytest.raises(NotImplementedError):
        guarded_getattr("{0.__class__}", name)


def test_getattr_with_a_default_returns_it_for_missing_attributes() -> None:
    assert run(script("return getattr(req.body, 'missing', 'fallback')")) == "fallback"


def test_augmented_assignment_works_on_names() -> None:
    assert run(script(
        "n = 10", "n += 5", "n -= 1", "n *= 2", "n //= 3", "n %= 7", "n **= 2",
        "items = [1]", "items += [2]", "text = 'a'", "text += 'b'",
        "return [n, items, text]",
    )) == [4, [1, 2], "ab"]


def test_printed_output_is_collected_across_functions() -> None:
    output = OutputCollector()
    code = compile_script(
        "def helper():\n    print('from helper')\n"
        "def router(req, config):\n    helper()\n    print('tokens', req.token_count)\n", NAME,
    )
    namespace = new_globals(output)
    exec(code, namespace)
    namespace["router"](Request({"token_count": 3}), ReadOnlyDict({}))
    assert output.text() == "from helper\ntokens 3\n"


def test_printed_output_is_capped() -> None:
    output = OutputCollector()
    for _ in range(100):
        output.write("x" * 1000)
    assert len(output.text()) < MAX_OUTPUT_CHARS + 40
    assert output.text().endswith("(output truncated)")


@pytest.mark.parametrize("name", ["SystemExit", "KeyboardInterrupt", "GeneratorExit",
                                  "BaseException", "open", "eval", "exec", "compile",
                                  "globals", "vars", "locals", "type", "object", "dir"])
def test_dangerous_builtins_are_absent(name: str) -> None:
    assert name not in BUILTINS


def test_helpful_builtins_are_present() -> None:
    wanted = {"len", "min", "max", "sum", "any", "all", "sorted", "reversed", "enumerate", "zip",
              "range", "map", "filter", "isinstance", "str", "int", "float", "bool", "list",
              "dict", "tuple", "set", "abs", "round", "getattr", "Exception", "ValueError",
              "KeyError", "TypeError", "IndexError"}
    assert wanted <= set(BUILTINS)


# -- imports ------------------------------------------------------------------------------------


def test_allowed_modules_are_facades_not_the_real_modules() -> None:
    for name in ("re", "json", "math", "datetime", "random"):
        facade = guarded_import(name)
        assert facade is FACADES[name]
        assert not hasattr(facade, "__name__")  # no sys.modules fallback for from-imports


@pytest.mark.parametrize(
    "name", ["os", "sys", "subprocess", "importlib", "json.decoder", "re.enum"]
)
def test_other_modules_cannot_be_imported(name: str) -> None:
    with pytest.raises(ImportError, match=r"may not be imported \(allowed: datetime, json, math"):
        guarded_import(name)


def test_relative_imports_are_refused() -> None:
    with pytest.raises(ImportError, match="relative imports"):
        guarded_import("x", None, None, (), 1)


def test_facades_offer_what_a_router_needs() -> None:
    assert run(
        "import re\nimport json\nimport math\nfrom datetime import datetime, timedelta\n"
        + script(
            "m = re.search(r'explain (\\w+)', req.body['messages'][-1]['content'][0]['text'],"
            " re.I)",
            "when = datetime(2024, 1, 1) + timedelta(days=1)",
            "return [m.group(1), json.loads('[1]'), math.ceil(1.2), when.day]",
        )
    ) == ["this", [1], 2, 2]


# -- errors -------------------------------------------------------------------------------------


def test_syntax_error_names_file_and_line() -> None:
    assert error_of("x = 1\ndef router(req, config:\n    return None\n").startswith(
        f"{NAME}:2: SyntaxError: "
    )


def test_refused_construct_is_reported_as_syntax_error_with_line() -> None:
    assert error_of("\n\n" + script("return ().__class__")) == (
        f'{NAME}:4: SyntaxError: "__class__" is an invalid attribute name because it starts '
        'with "_".'
    )


def test_async_router_is_refused_with_a_hint() -> None:
    assert error_of("async def router(req, config):\n    return None\n") == (
        f"{NAME}:1: SyntaxError: async def is not supported: define a plain def router(req, "
        "config)"
    )


def test_expression_too_deep_for_the_compiler_is_a_compile_error() -> None:
    error = error_of(script("return " + "+".join(["1"] * 5000)))
    assert error.startswith(f"{NAME}: SyntaxError: ")


def test_runtime_error_names_the_innermost_script_line() -> None:
    source = "def helper(x):\n    return 1 / x\n\n" + script("return helper(0)")
    assert error_of(source) == f"{NAME}:2: ZeroDivisionError: division by zero"


def test_error_from_inside_a_facade_names_the_script_line_not_the_library() -> None:
    error = error_of("import json\n" + script("return json.loads('{')"))
    assert error.startswith(f"{NAME}:3: JSONDecodeError: ")
    assert "/" not in error


def test_long_error_messages_are_truncated() -> None:
    error = error_of(script("raise ValueError('x' * 5000)"))
    assert len(error) <= MAX_ERROR_CHARS
    assert error.endswith("…")


# -- return values ------------------------------------------------------------------------------


def test_route_string_or_none_is_accepted() -> None:
    assert check_route("openrouter,a", NAME) is None
    assert check_route(None, NAME) is None


@pytest.mark.parametrize(("value", "shown"), [
    (1, "got int"),
    (["openrouter", "a"], "got list"),
    (type("Route", (str,), {})("openrouter,a"), "got Route"),
    ("openrouter," + "a" * 300, "got a str of 311 characters (at most 200)"),
])
def test_anything_else_is_refused_with_what_it_was(value: Any, shown: str) -> None:
    assert check_route(value, NAME) == (
        f'{NAME}: router() must return "provider,model" or None, {shown}'
    )
