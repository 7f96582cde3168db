"""``deepseek``: DeepSeek's output limits, thinking switch and reasoning hand-back.

DeepSeek's thinking mode (``deepseek-reasoner``, or ``deepseek-chat`` with ``thinking:
{"type": "enabled"}``; newer models think by default) returns its reasoning as
``reasoning_content``, which the core already turns into Anthropic thinking blocks. Once a turn
involved tool calls, DeepSeek requires that reasoning back on the assistant messages of every
later request and answers 400 "Missing `reasoning_content` field" otherwise. Claude Code sends
the thinking blocks back; this transformer puts their text into ``reasoning_content``.

Options (all optional):

- ``max_tokens``: a positive integer capping every model, or ``{"<model>": N}`` per model. Without
  it: 8192 for ``deepseek-chat`` answering without thinking, 65536 in thinking mode (DeepSeek's
  documented maximum output); other models are not capped.
- ``thinking``: ``true`` or ``false`` forces thinking mode on or off whatever the client asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.registry import register

#: Output limits from DeepSeek's "Models & Pricing" and reasoning-model pages.
NON_THINKING_MAX_TOKENS = 8192
THINKING_MAX_TOKENS = 65536

#: The alias that answers without thinking unless asked; every other DeepSeek model thinks by
#: default ("Thinking mode is enabled by default").
_NON_THINKING_DEFAULT = "deepseek-chat"

#: Anthropic ``output_config.effort`` -> DeepSeek ``reasoning_effort`` (DeepSeek knows low, high
#: and max and maps the rest onto these).
_EFFORT = {"low": "low", "medium": "high", "high": "high", "xhigh": "max", "max": "max"}

#: What DeepSeek gets for an assistant turn that carries no reasoning (another model wrote it, or
#: the client dropped its thinking block): the field must be present, and an empty reasoning is
#: what DeepSeek itself sends when it answered without thinking.
NO_REASONING = ""


@register
class DeepSeek(Transformer):
    name = "deepseek"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.max_tokens = _max_tokens_option(self.options.get("max_tokens"))
        forced = self.options.get("thinking")
        if forced is not None and not isinstance(forced, bool):
            raise ValueError('"thinking" must be true or false')
        self.forced_thinking: bool | None = forced

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        model = ctx.model
        thinking = self._thinking_on(model, request)
        _set_thinking_fields(request, model, thinking)
        self._cap_max_tokens(request, model, thinking)
        if thinking:
            _hand_back_reasoning(request.get("messages"))
        return request

    def _thinking_on(self, model: str, request: dict[str, Any]) -> bool:
        if self.forced_thinking is not None:
            return self.forced_thinking
        if _is_reasoner(model):
            return True
        wanted = request.get("_thinking")
        kind = wanted.get("type") if isinstance(wanted, Mapping) else None
        if kind in ("enabled", "adaptive"):
            return True
        if kind == "disabled":
            return False
        return model.lower() != _NON_THINKING_DEFAULT

    def _cap_max_tokens(self, request: dict[str, Any], model: str, thinking: bool) -> None:
        limit = self._limit(model, thinking)
        current = request.get("max_tokens")
        if limit is not None and isinstance(current, int) and current > limit:
            request["max_tokens"] = limit

    def _limit(self, model: str, thinking: bool) -> int | None:
        if isinstance(self.max_tokens, int):
            return self.max_tokens
        if model in self.max_tokens:
            return self.max_tokens[model]
        if thinking and (_is_reasoner(model) or model.lower() == _NON_THINKING_DEFAULT):
            return THINKING_MAX_TOKENS
        if model.lower() == _NON_THINKING_DEFAULT:
            return NON_THINKING_MAX_TOKENS
        return None


def _is_reasoner(model: str) -> bool:
    return "reasoner" in model.lower()


def _set_thinking_fields(request: dict[str, Any], model: str, thinking: bool) -> None:
    """DeepSeek's switch and effort, never contradicting each other (DeepSeek rejects
    ``reasoning_effort`` next to ``thinking: disabled``)."""
    if thinking:
        if not _is_reasoner(model):
            request["thinking"] = {"type": "enabled"}
        effort = _EFFORT.get(str(request.get("_effort", "")).lower())
        if effort:
            request["reasoning_effort"] = effort
        return
    request.pop("reasoning_effort", None)
    if model.lower() == _NON_THINKING_DEFAULT:
        request.pop("thinking", None)  # already its default
    else:
        request["thinking"] = {"type": "disabled"}


def _hand_back_reasoning(messages: Any) -> None:
    """Give every assistant message its ``reasoning_content``.

    Required on those of a turn with tool calls, including the text answer that closes the turn;
    DeepSeek ignores it elsewhere, so setting it everywhere cannot miss a case.
    """
    if not isinstance(messages, list):
        return
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        if isinstance(message.get("reasoning_content"), str):
            continue
        thought = message.get("thinking")
        content = thought.get("content") if isinstance(thought, Mapping) else None
        message["reasoning_content"] = content if isinstance(content, str) else NO_REASONING


def _max_tokens_option(value: Any) -> int | dict[str, int]:
    if value is None:
        return {}
    if _positive_int(value):
        return value
    if isinstance(value, Mapping) and all(
        isinstance(k, str) and _positive_int(v) for k, v in value.items()
    ):
        return dict(value)
    raise ValueError(
        '"max_tokens" must be a positive integer or an object of model name to positive integer'
    )


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
