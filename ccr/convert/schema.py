"""The shape of an Anthropic Messages request, checked once before anything reads it.

Routing, token counting and conversion assume the types Anthropic documents; a value of the
wrong type (a number where text belongs, a list where a block belongs) must come back to the
client as a 400 that names the field, as Anthropic's own API does
(``messages.1.content.1.text: must be a string``), never as a crash deeper in.

Unknown fields and unknown block types are accepted: clients send newer block types before
ccr knows them, and the converter passes over what it does not understand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ccr.errors import InvalidRequest

_ROLES = ("user", "assistant", "system")


def _fail(path: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{path}: {message}")


def _string(value: Any, path: str, *, required: bool = True) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise _fail(path, "must be a string")


def _number(value: Any, path: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _fail(path, "must be a number")


def _integer(value: Any, path: str, *, low: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(path, f"must be an integer of at least {low}")


def _boolean(value: Any, path: str) -> None:
    if value is not None and not isinstance(value, bool):
        raise _fail(path, "must be a boolean")


def _object(value: Any, path: str, *, required: bool = True) -> dict[str, Any] | None:
    if value is None and not required:
        return None
    if not isinstance(value, dict):
        raise _fail(path, "must be an object")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(path, "must be a list")
    return value


def _source(block: dict[str, Any], path: str) -> None:
    """``image`` and ``document`` sources: each kind's payload must be text."""
    source = _object(block.get("source"), f"{path}.source")
    assert source is not None
    kind = source.get("type")
    _string(kind, f"{path}.source.type")
    _string(source.get("media_type"), f"{path}.source.media_type", required=False)
    if kind in ("base64", "text"):
        _string(source.get("data"), f"{path}.source.data")
    elif kind == "url":
        _string(source.get("url"), f"{path}.source.url")
    elif kind == "content":
        content = source.get("content")
        if not isinstance(content, str):
            _blocks(content, f"{path}.source.content")


def _text_block(block: dict[str, Any], path: str) -> None:
    _string(block.get("text"), f"{path}.text")


def _image_block(block: dict[str, Any], path: str) -> None:
    _source(block, path)


def _document_block(block: dict[str, Any], path: str) -> None:
    _source(block, path)
    _string(block.get("title"), f"{path}.title", required=False)
    _string(block.get("context"), f"{path}.context", required=False)


def _tool_use_block(block: dict[str, Any], path: str) -> None:
    _string(block.get("id"), f"{path}.id")
    _string(block.get("name"), f"{path}.name")
    value = block.get("input")
    if value is not None and not isinstance(value, dict | str):
        raise _fail(f"{path}.input", "must be an object")


def _tool_result_block(block: dict[str, Any], path: str) -> None:
    _string(block.get("tool_use_id"), f"{path}.tool_use_id")
    _boolean(block.get("is_error"), f"{path}.is_error")
    content = block.get("content")
    if content is not None and not isinstance(content, str):
        _blocks(content, f"{path}.content")


def _thinking_block(block: dict[str, Any], path: str) -> None:
    _string(block.get("thinking"), f"{path}.thinking")
    _string(block.get("signature"), f"{path}.signature", required=False)


def _redacted_thinking_block(block: dict[str, Any], path: str) -> None:
    _string(block.get("data"), f"{path}.data")


_BLOCKS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "text": _text_block,
    "image": _image_block,
    "document": _document_block,
    "tool_use": _tool_use_block,
    "server_tool_use": _tool_use_block,
    "tool_result": _tool_result_block,
    "thinking": _thinking_block,
    "redacted_thinking": _redacted_thinking_block,
}


def _block(block: Any, path: str) -> None:
    if not isinstance(block, dict):
        raise _fail(path, "must be an object with a \"type\"")
    kind = block.get("type")
    if not isinstance(kind, str):
        raise _fail(f"{path}.type", "must be a string")
    check = _BLOCKS.get(kind)
    if check is not None:
        check(block, path)
    elif "text" in block:  # an unknown kind is read for its text, if it has one
        _string(block["text"], f"{path}.text")


def _blocks(value: Any, path: str) -> None:
    for i, block in enumerate(_list(value, path)):
        _block(block, f"{path}.{i}")


def _content(value: Any, path: str) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list):
        raise _fail(path, "must be a string or a list of content blocks")
    _blocks(value, path)


def _messages(value: Any) -> None:
    if value is None:
        raise _fail("messages", "Field required (a list of messages)")
    for i, message in enumerate(_list(value, "messages")):
        path = f"messages.{i}"
        if not isinstance(message, dict):
            raise _fail(path, "must be an object with a role and content")
        if message.get("role") not in _ROLES:
            raise _fail(f"{path}.role", 'must be "user" or "assistant"')
        if "content" not in message:
            raise _fail(f"{path}.content", "Field required")
        _content(message["content"], f"{path}.content")


def _system(value: Any) -> None:
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list):
        raise _fail("system", "must be a string or a list of text blocks")
    for i, block in enumerate(value):
        _block(block, f"system.{i}")


def _tools(value: Any) -> None:
    if value is None:
        return
    for i, tool in enumerate(_list(value, "tools")):
        path = f"tools.{i}"
        if not isinstance(tool, dict):
            raise _fail(path, "must be an object")
        _string(tool.get("type"), f"{path}.type", required=False)
        _string(tool.get("name"), f"{path}.name", required=tool.get("type") in (None, "custom"))
        _string(tool.get("description"), f"{path}.description", required=False)
        if tool.get("type") in (None, "custom"):
            _object(tool.get("input_schema"), f"{path}.input_schema", required=False)


def _tool_choice(value: Any) -> None:
    choice = _object(value, "tool_choice", required=False)
    if choice is None:
        return
    _string(choice.get("type"), "tool_choice.type")
    if choice["type"] == "tool":
        _string(choice.get("name"), "tool_choice.name")
    _boolean(choice.get("disable_parallel_tool_use"), "tool_choice.disable_parallel_tool_use")


def _thinking(value: Any) -> None:
    thinking = _object(value, "thinking", required=False)
    if thinking is None:
        return
    _string(thinking.get("type"), "thinking.type")
    _integer(thinking.get("budget_tokens"), "thinking.budget_tokens", low=0)


def _metadata(value: Any) -> None:
    metadata = _object(value, "metadata", required=False)
    if metadata is None:
        return
    user_id = metadata.get("user_id")
    if user_id is not None and not isinstance(user_id, str | dict):
        raise _fail("metadata.user_id", "must be a string")


def check_messages_request(body: dict[str, Any]) -> None:
    """Raise :class:`InvalidRequest` naming the first field of ``body`` with a wrong type."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _fail("model", 'Field required (a model name or "provider,model")')
    _messages(body.get("messages"))
    _system(body.get("system"))
    _integer(body.get("max_tokens"), "max_tokens", low=1)
    for key in ("temperature", "top_p", "top_k"):
        _number(body.get(key), key)
    stops = body.get("stop_sequences")
    if stops is not None:
        for i, stop in enumerate(_list(stops, "stop_sequences")):
            _string(stop, f"stop_sequences.{i}")
    _boolean(body.get("stream"), "stream")
    _tools(body.get("tools"))
    _tool_choice(body.get("tool_choice"))
    _thinking(body.get("thinking"))
    _metadata(body.get("metadata"))
    _object(body.get("output_config"), "output_config", required=False)


def check_count_tokens_request(body: dict[str, Any]) -> None:
    """``/v1/messages/count_tokens`` takes the same fields (``max_tokens`` is not needed)."""
    check_messages_request(body)
