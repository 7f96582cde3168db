"""In-place JSON5 edits: the new data comes out, and every comment and untouched line stays."""

from __future__ import annotations

from typing import Any

import json5

from ccr.config.json5edit import patch

TEXT = """// my config
{
  /* providers */
  "Providers": [
    {"name": "a", "models": ["m1"]},  // the first
  ],
  Router: {
    default: 'a,m1', // where most requests go
  },
}
"""


def edited(change: Any) -> str:
    old = json5.loads(TEXT)
    new = json5.loads(TEXT)
    change(new)
    text = patch(TEXT, old, new)
    assert text is not None
    assert json5.loads(text) == new
    for line in ("// my config", "/* providers */", "// the first", "// where most requests go"):
        assert line in text
    return text


def test_a_changed_value_is_replaced_in_place() -> None:
    text = edited(lambda d: d["Router"].update(default="a,m2"))
    assert text == TEXT.replace("'a,m1'", '"a,m2"')


def test_a_new_key_goes_after_the_last_one_keeping_its_comment() -> None:
    text = edited(lambda d: d["Router"].update(think="a,m1"))
    assert "default: 'a,m1', // where most requests go\n    \"think\": \"a,m1\"," in text


def test_an_item_appended_to_an_inline_list() -> None:
    text = edited(lambda d: d["Providers"][0]["models"].append("m2"))
    assert '"models": ["m1", "m2"]' in text


def test_a_new_object_appended_to_a_list() -> None:
    text = edited(lambda d: d["Providers"].append({"name": "b", "models": ["x"]}))
    assert '"name": "b"' in text


def test_a_removed_key_is_left_to_a_rewrite() -> None:
    old = json5.loads(TEXT)
    new = json5.loads(TEXT)
    del new["Router"]
    assert patch(TEXT, old, new) is None


def test_a_shorter_list_is_replaced_whole_and_the_rest_kept() -> None:
    old = json5.loads(TEXT)
    new = json5.loads(TEXT)
    new["Providers"].pop()
    text = patch(TEXT, old, new)
    assert text is not None and json5.loads(text) == new
    assert "// where most requests go" in text and "/* providers */" in text
