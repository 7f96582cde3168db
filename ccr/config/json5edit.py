"""Edit a JSON5 config file in place, keeping its comments, layout and ``$VAR`` references.

``ccr model`` changes a slot or adds a model or a provider; rewriting the whole file as JSON
would drop every comment the user wrote. Here the text is parsed into spans (where each value,
member and closing bracket is), the old and new data are compared, and only what changed is
replaced or inserted. :func:`patch` returns None for a change it does not handle (a removed
key, say); callers then rewrite the file as before, and callers check that the patched text
loads as the new data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F]+|Infinity|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


class _Unsupported(Exception):
    """Text or a change this editor does not handle (the caller rewrites instead)."""


@dataclass
class _Node:
    start: int
    end: int
    #: Objects: key -> (member start, value node); arrays: the items.
    members: dict[str, tuple[int, _Node]] = field(default_factory=dict)
    items: list[_Node] = field(default_factory=list)
    #: Offset of the closing ``}``/``]`` (containers only).
    close: int = -1
    kind: str = "scalar"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip(self) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r\n\ufeff\u00a0\u2028\u2029":
                self.pos += 1
            elif text.startswith("//", self.pos):
                newline = text.find("\n", self.pos)
                self.pos = len(text) if newline < 0 else newline + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise _Unsupported("unterminated comment")
                self.pos = end + 2
            else:
                return

    def value(self) -> _Node:
        self.skip()
        if self.pos >= len(self.text):
            raise _Unsupported("unexpected end")
        char = self.text[self.pos]
        if char == "{":
            return self.container("{", "}")
        if char == "[":
            return self.container("[", "]")
        start = self.pos
        if char in "\"'":
            self.string()
        else:
            match = _NUMBER.match(self.text, self.pos) or _IDENT.match(self.text, self.pos)
            if match is None:
                raise _Unsupported(f"unexpected {char!r}")
            self.pos = match.end()
        return _Node(start, self.pos)

    def string(self) -> str:
        quote = self.text[self.pos]
        start = self.pos
        self.pos += 1
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\":
                self.pos += 2
                continue
            self.pos += 1
            if char == quote:
                raw = self.text[start:self.pos]
                if quote == "'":
                    raw = '"' + raw[1:-1].replace('\\"', '"').replace('"', '\\"') + '"'
                try:
                    return str(json.loads(raw))
                except ValueError as exc:
                    raise _Unsupported(f"string escape: {exc}") from None
        raise _Unsupported("unterminated string")

    def container(self, opening: str, closing: str) -> _Node:
        node = _Node(self.pos, -1, kind="object" if opening == "{" else "array")
        self.pos += 1
        while True:
            self.skip()
            if self.pos >= len(self.text):
                raise _Unsupported("unterminated container")
            if self.text[self.pos] == closing:
                node.close = self.pos
                self.pos += 1
                node.end = self.pos
                return node
            member_start = self.pos
            if node.kind == "object":
                key = self.key()
                self.skip()
                if self.text[self.pos:self.pos + 1] != ":":
                    raise _Unsupported("expected ':'")
                self.pos += 1
                node.members[key] = (member_start, self.value())
            else:
                node.items.append(self.value())
            self.skip()
            if self.text[self.pos:self.pos + 1] == ",":
                self.pos += 1

    def key(self) -> str:
        if self.text[self.pos] in "\"'":
            return self.string()
        match = _IDENT.match(self.text, self.pos)
        if match is None:
            raise _Unsupported("bad key")
        self.pos = match.end()
        return match.group(0)


def _indent_at(text: str, offset: int) -> str:
    line_start = text.rfind("\n", 0, offset) + 1
    line = text[line_start:offset]
    return line[: len(line) - len(line.lstrip())]


def _dump(value: Any, indent: str, step: str) -> str:
    """``value`` as JSON, its lines after the first indented to sit at ``indent``."""
    text = json.dumps(value, indent=len(step) or None, ensure_ascii=False)
    return text.replace("\n", "\n" + indent)


@dataclass
class _Edit:
    start: int
    end: int
    text: str


class _Planner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.edits: list[_Edit] = []
        self.step = self._guess_step()

    def _guess_step(self) -> str:
        match = re.search(r"\n([ \t]+)\S", self.text)
        return match.group(1) if match else "  "

    def diff(self, node: _Node, old: Any, new: Any) -> None:
        if old == new:
            return
        if isinstance(old, dict) and isinstance(new, dict) and node.kind == "object":
            if any(key not in new for key in old):
                raise _Unsupported("a key was removed")
            added = [key for key in new if key not in old]
            for key in new:
                if key in old:
                    self.diff(node.members[key][1], old[key], new[key])
            if added:
                self.append(node, [f"{json.dumps(k, ensure_ascii=False)}: " for k in added],
                            [new[k] for k in added])
            return
        if isinstance(old, list) and isinstance(new, list) and node.kind == "array" and (
                len(new) >= len(old)):
            for item, before, after in zip(node.items, old, new, strict=False):
                self.diff(item, before, after)
            if len(new) > len(old):
                self.append(node, [""] * (len(new) - len(old)), new[len(old):])
            return
        indent = _indent_at(self.text, node.start)
        self.edits.append(_Edit(node.start, node.end, _dump(new, indent, self.step)))

    def append(self, node: _Node, prefixes: list[str], values: list[Any]) -> None:
        """Insert new members/items after the last one, as that one is laid out."""
        last = (max((v for _, v in node.members.values()), key=lambda v: v.end, default=None)
                if node.kind == "object" else (node.items[-1] if node.items else None))
        if last is None:
            indent = _indent_at(self.text, node.start) + self.step
            body = ",\n".join(f"{indent}{p}{_dump(v, indent, self.step)}"
                              for p, v in zip(prefixes, values, strict=True))
            closing_indent = _indent_at(self.text, node.start)
            self.edits.append(_Edit(node.start + 1, node.close, f"\n{body}\n{closing_indent}"))
            return
        start = (next(s for s, v in node.members.values() if v is last)
                 if node.kind == "object" else last.start)
        indent = _indent_at(self.text, start)
        inline = "\n" not in self.text[start:node.close]
        separator = ", " if inline else ",\n" + indent
        # after the last value: keep its trailing comma, and a comment ending its line
        after = last.end
        rest = self.text[after:node.close]
        comma = rest.lstrip(" \t").startswith(",")
        insert_at = after + rest.index(",") + 1 if comma else after
        line_end = self.text.find("\n", insert_at)
        if not inline and 0 <= line_end < node.close and (
                self.text[insert_at:line_end].strip().startswith(("//", "/*"))):
            insert_at = line_end
        lead = ""
        if not comma:
            if insert_at == after:
                lead = ","
            else:
                self.edits.append(_Edit(after, after, ","))
        added = separator.join(
            f"{p}{json.dumps(v, ensure_ascii=False) if inline else _dump(v, indent, self.step)}"
            for p, v in zip(prefixes, values, strict=True))
        gap = " " if inline else "\n" + indent
        tail = "," if comma and not inline else ""
        self.edits.append(_Edit(insert_at, insert_at, f"{lead}{gap}{added}{tail}"))


def patch(text: str, old: Any, new: Any) -> str | None:
    """``text`` (which loads as ``old``) edited to load as ``new``, comments kept; None when
    the change is not one this editor makes."""
    try:
        parser = _Parser(text)
        root = parser.value()
        parser.skip()
        if parser.pos != len(text):
            return None
        planner = _Planner(text)
        planner.diff(root, old, new)
    except _Unsupported:
        return None
    result = text
    for edit in sorted(planner.edits, key=lambda e: e.start, reverse=True):
        result = result[:edit.start] + edit.text + result[edit.end:]
    return result
