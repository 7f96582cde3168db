"""The built-in routing rules, in the order they are tried.

Each rule is a plain function ``(ctx, config) -> "provider,model" | None`` registered with
:func:`rule`; the first that answers decides. A user's router script runs before all of them
(see :mod:`ccr.routing.decide`) and falls through to them by returning None.

Beside each rule, a ``because`` function says in words why it answered as it did
(``longContext: 17,413 tokens ≤ threshold 60,000``). Only :func:`explain` calls them, for dry
runs that ask; the server's path never builds a reason.
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
ReasonFn = Callable[[RequestContext, Config, "str | None"], str]

#: A long session keeps routing to longContext while its last turn was large and this one
#: is not tiny (a short follow-up does not need the big model).
LONG_SESSION_MIN_TOKENS = 20000


@dataclass(frozen=True)
class Rule:
    name: str
    fn: RuleFn


RULES: list[Rule] = []
#: Why each rule answered as it did: ``(ctx, config, its answer) -> reason``, by rule name.
REASONS: dict[str, ReasonFn] = {}


def rule(name: str) -> Callable[[RuleFn], RuleFn]:
    def deco(fn: RuleFn) -> RuleFn:
        RULES.append(Rule(name, fn))
        return fn

    return deco


def because(name: str) -> Callable[[ReasonFn], ReasonFn]:
    """Register the reason function of rule ``name``."""

    def deco(fn: ReasonFn) -> ReasonFn:
        REASONS[name] = fn
        return fn

    return deco


@dataclass(frozen=True)
class Verdict:
    """One rule's answer for one request, with the reason in words."""

    rule: str
    #: The route the rule named (configured or not), or None when it passed.
    route: str | None
    reason: str
    #: Whether the route it named is configured (a stale override may name one that is not).
    configured: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "route": self.route, "reason": self.reason,
                "configured": self.configured}


def explain(ctx: RequestContext, config: Config) -> list[Verdict]:
    """Every built-in rule in order, with its verdict and reason. Run it after the decision (it
    reads what the decision noted, such as a removed subagent tag); it never raises."""
    verdicts: list[Verdict] = []
    for r in RULES:
        try:
            route = r.fn(ctx, config)
        except InvalidRequest as exc:
            verdicts.append(Verdict(r.name, None, exc.message))
            continue
        why = REASONS.get(r.name)
        reason = why(ctx, config, route) if why is not None else ("answered" if route else
                                                                   "passed")
        configured = route is None or config.resolve(route) is not None
        if route and not configured:
            reason += f"; but {route!r} is not configured"
        verdicts.append(Verdict(r.name, route or None, reason, configured))
    return verdicts


def _n(value: int) -> str:
    return f"{value:,}"


def _unset(slot: str) -> str:
    return f"Router.{slot} is not set"


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


@because("explicit")
def _explicit_reason(ctx: RequestContext, config: Config, route: str | None) -> str:
    model = ctx.body.get("model")
    if route:
        return f"model {model!r} names a configured provider,model"
    return f"model {model!r} is not a provider,model pair"


_TAG = re.compile(r"^\s*<CCR-SUBAGENT-MODEL>(.*?)</CCR-SUBAGENT-MODEL>\s*", re.S)


@rule("subagent")
def subagent_tag(ctx: RequestContext, config: Config) -> str | None:
    """The route of a ``<CCR-SUBAGENT-MODEL>`` tag (removed earlier by take_subagent_tag)."""
    return ctx.notes.get("subagent_tag")


@because("subagent")
def _subagent_reason(ctx: RequestContext, config: Config, route: str | None) -> str:
    if route:
        return "<CCR-SUBAGENT-MODEL> tag names it"
    return "no <CCR-SUBAGENT-MODEL> tag"


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


@because("longContext")
def _long_context_reason(ctx: RequestContext, config: Config, route: str | None) -> str:
    router = ctx.router
    if not router.longContext:
        return _unset("longContext")
    threshold, tokens = router.longContextThreshold, ctx.token_count
    if tokens > threshold:
        return f"{_n(tokens)} tokens > threshold {_n(threshold)}"
    last = getattr(ctx.session_usage, "total_input", None)
    if route and last is not None:
        return (f"the session's last turn had {_n(last)} tokens > threshold {_n(threshold)} "
                f"and this request {_n(tokens)} > {_n(LONG_SESSION_MIN_TOKENS)}")
    reason = f"{_n(tokens)} tokens ≤ threshold {_n(threshold)}"
    if last is not None and last > threshold:
        reason += (f" (the session's last turn had {_n(last)}, but this request has "
                   f"≤ {_n(LONG_SESSION_MIN_TOKENS)})")
    return reason


@rule("background")
def background(ctx: RequestContext, config: Config) -> str | None:
    model = ctx.body.get("model")
    if ctx.router.background and isinstance(model, str) and "haiku" in model.lower():
        return ctx.router.background
    return None


@because("background")
def _background_reason(ctx: RequestContext, config: Config, route: str | None) -> str:
    if not ctx.router.background:
        return _unset("background")
    model = ctx.body.get("model")
    return f"model {model!r} {'is' if route else 'is not'} a haiku model"


@rule("webSearch")
def web_search(ctx: RequestContext, config: Config) -> str | None:
    if not ctx.router.webSearch:
        return None
    for tool in ctx.body.get("tools") or []:
        if isinstance(tool, dict) and str(tool.get("type", "")).startswith("web_search"):
            return ctx.router.webSearch
    return None


@because("webSearch")
def _web_search_reason(ctx: RequestContext, config: Config, route: str | None) -> str:
    if not ctx.router.webSearch:
        return _unset("webSearch")
    return "a web_search tool is offered" if route else "no web_search tool"


@rule("think")
def think(ctx: RequestContext, config: Config) -> str | None:
    """Only explicit ``thinking.type == "enabled"``: Claude Code 2.1 sends ``adaptive`` on every
    main turn, and routing that to ``think`` would leave ``default`` unused."""
    thinking = ctx.body.get("thinking")
    if ctx.router.think and isinstance(thinking, dict) and thinking.get("type") == "enabled":
        return ctx.router.think
    return None


@because("think")
def _think_reason(ctx: RequestContext, config: Config, route: str | None) -> str:
    if not ctx.router.think:
        return _unset("think")
    thinking = ctx.body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if route:
        return "thinking is enabled"
    if kind is None:
        return "no thinking requested"
    return f"thinking is {kind}; only enabled counts"


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


@because("image")
def _image_reason(ctx: RequestContext, config: Config, route: str | None) -> str:
    if not ctx.router.image:
        return _unset("image")
    if config.force_use_image_agent:
        return "forceUseImageAgent: the image agent answers about images instead"
    return "the last user message has an image" if route else "no image in the last user message"


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


@because("default")
def _default_reason(ctx: RequestContext, config: Config, route: str | None) -> str:
    return "Router.default" if route else _unset("default")
