"""The built-in routing rules, in the order they are tried.

Each rule is a plain function ``(ctx, config) -> "provider,model" | None`` registered with
:func:`rule`; the first that answers decides. A user's router script runs before all of them
(see :mod:`ccr.routing.decide`) and falls through to them by returning None.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ccr.config.model import Config
from ccr.errors import InvalidRequest
from ccr.routing.context import RequestContext

RuleFn = Callable[[RequestContext, Config], "str | None"]

#: A long session keeps routing to longContext while its last turn was large and this one
#: is not tiny (a short follow-up does not need the big model).
LONG_SESSION_MIN_TOKENS = 20000


@dataclass(frozen=True)
class Rule:
    name: str
    fn: RuleFn


RULES: list[Rule] = []


def rule(name: str) -> Callable[[RuleFn], RuleFn]:
    def deco(fn: RuleFn) -> RuleFn:
        RULES.append(Rule(name, fn))
        return fn

    return deco


@rule("explicit")
def explicit_model(ctx: RequestContext, config: Config) -> str | None:
    """``model: "provider,model"`` (Claude Code's ``/model p,m``) wins if it is configured."""
    model = ctx.body.get("model")
    if not isinstance(model, str) or "," not in model:
        return None
    resolved = config.resolve(model)
    if resolved is None:
        raise InvalidRequest(
            f"model {model!r} is not configured in ccr; configured routes: "
            + (", ".join(config.routes()) or "none")
        )
    provider, canonical = resolved
    return f"{provider.name},{canonical}"


_TAG = re.compile(r"^\s*<CCR-SUBAGENT-MODEL>(.*?)</CCR-SUBAGENT-MODEL>\s*", re.S)


@rule("subagent")
def subagent_tag(ctx: RequestContext, config: Config) -> str | None:
    """The route of a ``<CCR-SUBAGENT-MODEL>`` tag (removed earlier by take_subagent_tag)."""
    return ctx.notes.get("subagent_tag")


def take_subagent_tag(body: dict[str, Any]) -> str | None:
    """Remove ``<CCR-SUBAGENT-MODEL>p,m</CCR-SUBAGENT-MODEL>`` from the start of any system block
    or of the first user message and return ``p,m``; the model must never see the tag."""
    for block in _tag_candidates(body):
        match = _TAG.match(block["text"])
        if match:
            block["text"] = block["text"][match.end():]
            return match.group(1).strip()
    return None


def _tag_candidates(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Text blocks that may carry the tag, made editable in place (strings become blocks)."""
    found: list[dict[str, Any]] = []
    system = body.get("system")
    if isinstance(system, str) and "<CCR-SUBAGENT-MODEL>" in system:
        body["system"] = system = [{"type": "text", "text": system}]
    if isinstance(system, list):
        found += [b for b in system if isinstance(b, dict) and isinstance(b.get("text"), str)]
    for message in body.get("messages") or []:
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str) and "<CCR-SUBAGENT-MODEL>" in content:
                message["content"] = content = [{"type": "text", "text": content}]
            if isinstance(content, list):
                found += [
                    b for b in content
                    if isinstance(b, dict) and b.get("type") == "text"
                    and isinstance(b.get("text"), str)
                ]
            break
    return [b for b in found if "<CCR-SUBAGENT-MODEL>" in b["text"]]


@rule("longContext")
def long_context(ctx: RequestContext, config: Config) -> str | None:
    router = ctx.router
    if not router.longContext:
        return None
    threshold = router.longContextThreshold
    if ctx.token_count > threshold:
        return router.longContext
    last = getattr(ctx.session_usage, "total_input", None)
    if last is not None and last > threshold and ctx.token_count > LONG_SESSION_MIN_TOKENS:
        return router.longContext
    return None


@rule("background")
def background(ctx: RequestContext, config: Config) -> str | None:
    model = ctx.body.get("model")
    if ctx.router.background and isinstance(model, str) and "haiku" in model.lower():
        return ctx.router.background
    return None


@rule("webSearch")
def web_search(ctx: RequestContext, config: Config) -> str | None:
    if not ctx.router.webSearch:
        return None
    for tool in ctx.body.get("tools") or []:
        if isinstance(tool, dict) and str(tool.get("type", "")).startswith("web_search"):
            return ctx.router.webSearch
    return None


@rule("think")
def think(ctx: RequestContext, config: Config) -> str | None:
    """Only explicit ``thinking.type == "enabled"``: Claude Code 2.1 sends ``adaptive`` on every
    main turn, and routing that to ``think`` would leave ``default`` unused."""
    thinking = ctx.body.get("thinking")
    if ctx.router.think and isinstance(thinking, dict) and thinking.get("type") == "enabled":
        return ctx.router.think
    return None


@rule("image")
def image(ctx: RequestContext, config: Config) -> str | None:
    """With ``forceUseImageAgent`` the main model keeps the turn and the image agent answers
    its questions about the images instead (see :mod:`ccr.agents.image`)."""
    if not ctx.router.image or config.force_use_image_agent:
        return None
    for message in reversed(ctx.body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return ctx.router.image if _has_image(message.get("content")) else None
    return None


def _has_image(content: Any) -> bool:
    if not isinstance(content, list):
        return False
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "image":
            return True
        if block.get("type") == "tool_result" and _has_image(block.get("content")):
            return True
    return False


@rule("default")
def default(ctx: RequestContext, config: Config) -> str | None:
    return ctx.router.default
