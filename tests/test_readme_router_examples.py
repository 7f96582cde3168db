"""Every README code block that defines ``router(`` is run over recorded Claude Code requests,
and must route each as the sentence after it says ("On recorded Claude Code requests: ...")."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.claude_code_requests import later_turn, local
from tests.support.recorded import recorded, using_shared
from tests.support.route_helpers import PROJECT, route_rows, run_route, write_config, write_json

README = PROJECT / "README.md"
_BLOCK = re.compile(r"```python\n(.*?)```\n(.*?)(?=\n```|\n#|\Z)", re.S)
_CLAUSE = re.compile(r"(?:On recorded Claude Code requests(?: at (\d\d:\d\d))?|At (\d\d:\d\d)):"
                     r"(.*?)(?:\.(?=\s|$))", re.S)
_ITEM = re.compile(r"^(.*?)\s*→\s*(.*)$", re.S)
#: Recorded requests of each kind in ../shared, used where present beside the committed copies.
_SHARED_KINDS = {
    "say hello": ["01-plain", "06-haiku-thinking-enabled", "08-sonnet-thinking-disabled",
                  "13-x-api-key-auth"],
    "a tool-result turn": ["03-bash-turn2-tool-result"],
    "a subagent's request": ["10-task-subagent-request"],
}


@dataclass
class Example:
    source: str
    #: (``HH:MM`` or None, request description, expected route or None for the built-in rules)
    claims: list[tuple[str | None, str, str | None]]


def examples() -> list[Example]:
    text = README.read_text()
    found = []
    for code, after in _BLOCK.findall(text):
        if "def router(" not in code:
            continue
        claims: list[tuple[str | None, str, str | None]] = []
        for first_at, later_at, items in _CLAUSE.findall(" ".join(after.split())):
            at = first_at or later_at or None
            for item in items.split(";"):
                match = _ITEM.match(item.strip())
                assert match, f"cannot read {item!r}"
                what, outcome = match.group(1).strip(), match.group(2).strip()
                expected = None if outcome == "built-in rules" else outcome.strip("`")
                claims.append((at, what, expected))
        found.append(Example(code, claims))
    return found


def requests_for(what: str) -> list[dict[str, Any]]:
    """The recorded requests a README description stands for."""
    if what.startswith("`/model "):
        request = copy.deepcopy(local("plain"))
        request["body"]["model"] = what.strip("`").removeprefix("/model ")
        return [request]
    kinds = {"say hello": "plain", "a tool-result turn": "tool-result",
             "a subagent's request": "subagent"}
    key = what.strip('"')
    if what in kinds or key in kinds:
        name = kinds.get(what) or kinds[key]
        full = _SHARED_KINDS[what if what in kinds else key] if using_shared() else []
        return [local(name)] + [recorded(n) for n in full]
    assert what.startswith('"'), f"unknown request description {what!r}"
    return [later_turn(key)]


EXAMPLES = examples()


def test_the_readme_has_router_examples_and_each_states_its_outcomes() -> None:
    assert len(EXAMPLES) >= 2
    for example in EXAMPLES:
        assert example.claims, f"no stated outcome after:\n{example.source}"


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_readme_example_routes_recorded_requests_as_the_readme_says(
    tmp_path: Path, index: int
) -> None:
    example = EXAMPLES[index]
    script = tmp_path / "custom_router.py"
    script.write_text(example.source)
    config = write_config(tmp_path, script)
    for at in sorted({claim[0] for claim in example.claims}, key=str):
        folder = tmp_path / f"requests-{at or 'now'}".replace(":", "")
        expected: dict[str, str | None] = {}
        for n, (when, what, route) in enumerate(example.claims):
            if when != at:
                continue
            for m, request in enumerate(requests_for(what)):
                write_json(folder / f"{n:02d}-{m}.json", request)
                expected[f"{n:02d}-{m}.json"] = route
        args = ["--json"] + (["--now", f"2026-12-06T{at}"] if at else [])
        result = run_route(config, folder, args=tuple(args))
        assert result.returncode == 0, result.stderr
        got = {row["source"]: (row["route"] if row["rule"] == "custom" else None)
               for row in route_rows(result)}
        assert all(row["script_error"] is None for row in route_rows(result))
        assert got == expected, (at, example.claims)
