"""The router script's "try it": a dry run of one request through the server's own routing.

It calls the running engine's own ``route()``, as the server and ``ccr route --dry-run`` do,
so what it shows is what the server would do; a draft of the script can be tried in its own
short-lived sandbox before it is saved.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

from ccr.context.sessions import SessionUsage
from ccr.engine.request import ClientRequest
from ccr.errors import ApiError

#: Sample requests offered on the page: one per built-in rule (Claude Code's shapes, small).
SAMPLES: dict[str, dict[str, Any]] = {
    "plain turn": {
        "model": "claude-sonnet-4-5", "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Explain this stack trace."}],
    },
    "haiku (background)": {
        "model": "claude-haiku-4-5", "max_tokens": 512,
        "messages": [{"role": "user", "content": "Summarise the conversation in 5 words."}],
    },
    "thinking enabled": {
        "model": "claude-sonnet-4-5", "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": [{"role": "user", "content": "Plan the refactor step by step."}],
    },
    "web search tool": {
        "model": "claude-sonnet-4-5", "max_tokens": 1024,
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        "messages": [{"role": "user", "content": "What changed in Python 3.13?"}],
    },
    "review request": {
        "model": "claude-sonnet-4-5", "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Please review this diff for bugs."}],
    },
}


def explain(rule: str, route: str, ctx: Any, threshold: int | None) -> str:
    """Why the rule chose the route, in one sentence."""
    reasons = {
        "custom": f"the router script returned {route}",
        "explicit": f"the request's model names {route} (provider,model)",
        "subagent": f"a <CCR-SUBAGENT-MODEL> tag names {route}",
        "longContext": (f"{ctx.token_count:,} tokens is more than longContextThreshold "
                        f"{threshold:,}" if threshold is not None and ctx.token_count > threshold
                        else "the session's last turn was over longContextThreshold")
        + " → Router.longContext",
        "background": "the model name contains \"haiku\" → Router.background",
        "webSearch": "a web_search tool is offered → Router.webSearch",
        "think": "thinking.type is \"enabled\" → Router.think",
        "image": "the last user message carries an image → Router.image",
        "default": "no other rule applied → Router.default",
    }
    return reasons.get(rule, f"rule {rule} chose {route}")


def split_request(item: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """An Anthropic request body, or a recorded ``{"method","path","headers","body"}``."""
    if not isinstance(item, dict):
        raise ValueError("the request must be a JSON object")
    if "body" in item and ("headers" in item or "path" in item or "method" in item):
        body, headers = item.get("body"), item.get("headers") or {}
    else:
        body, headers = item, {}
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        raise ValueError("not an Anthropic Messages request (no messages list)")
    if not isinstance(headers, dict):
        raise ValueError("headers must be an object")
    return body, {str(k): str(v) for k, v in headers.items()}


async def dry_run(engine: Any, item: Any, *, session_id: str | None = None,
                  session_input: int | None = None, draft: str | None = None,
                  ) -> dict[str, Any]:
    """Route ``item`` as the server would; with ``draft``, through that script text instead."""
    started = time.perf_counter()
    result: dict[str, Any] = {"route": None, "rule": None, "explanation": None, "error": None,
                              "script_error": None, "script_ms": None, "prints": "",
                              "warnings": [], "rules": None, "token_count": None,
                              "session_id": None,
                              "project": None, "script": "draft" if draft is not None else (
                                  "saved" if engine.script is not None else None)}
    try:
        body, headers = split_request(item)
        request = ClientRequest(
            body=body, headers=headers, session_id=session_id or None,
            session_usage=(SessionUsage(input_tokens=session_input, turns=1)
                           if session_input is not None else None))
        if draft is not None:
            decision = await _route_with_draft(engine, request, draft)
        else:
            decision = await engine.route(request)
        ctx = decision.ctx
        route = decision.route.name
        reason = getattr(decision, "reason", None)  # a script may say why, with its route
        result.update(
            route=route, rule=decision.rule, script_error=decision.script_error,
            script_ms=round(decision.script_ms, 3) if decision.script_ms is not None else None,
            prints=decision.script_output, warnings=list(decision.warnings),
            token_count=ctx.token_count, session_id=ctx.session_id, project=ctx.project,
            explanation=explain(decision.rule, route, ctx, ctx.router.longContextThreshold)
            + (f": {reason}" if isinstance(reason, str) and reason else ""),
        )
        if decision.script_error:
            result["explanation"] += (" (the router script failed, so the built-in rules "
                                      "decided)")
        result["rules"] = rule_verdicts(ctx, engine.config)
    except ApiError as exc:
        result["error"] = exc.message
    except ValueError as exc:
        result["error"] = str(exc)
    result["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return result


def rule_verdicts(ctx: Any, config: Any) -> list[dict[str, Any]] | None:
    """Every built-in rule's verdict and reason, as ``ccr route --explain`` shows them, where
    the routing layer can explain itself (else None)."""
    from ccr.routing import rules

    explain_rules = getattr(rules, "explain", None)
    if not callable(explain_rules):
        return None
    try:
        return [v.as_json() for v in explain_rules(ctx, config)]
    except Exception:  # an explanation must never break the dry run
        return None


async def _route_with_draft(engine: Any, request: ClientRequest, draft: str) -> Any:
    """The engine's own ``route()``, on a copy of the engine whose script is the draft."""
    from ccr.sandbox import RouterScript

    current = engine.script
    with tempfile.TemporaryDirectory(prefix="ccr-try-") as folder:
        path = Path(folder) / "custom_router.py"
        path.write_text(draft, encoding="utf-8")
        script: Any = RouterScript(
            str(path), workers=1,
            timeout_ms=getattr(current, "timeout_ms", 100),
            memory_mb=getattr(current, "memory_mb", 256),
        )
        async with script:
            if script.load_error:
                raise ValueError(f"the draft does not load: {script.load_error}")
            # the serving engine's provider health too (built on first use), not a copy's own
            trial = dataclasses.replace(engine, script=script, _owns_upstream=False,
                                        _resilience=engine.resilience)
            return await trial.route(request)


async def load_problem(text: str) -> str | None:
    """Why ``text`` would not load as a router script (compiled in a short-lived sandbox)."""
    from ccr.sandbox import RouterScript

    with tempfile.TemporaryDirectory(prefix="ccr-check-") as folder:
        path = Path(folder) / "custom_router.py"
        path.write_text(text, encoding="utf-8")
        async with RouterScript(str(path), workers=1) as script:
            return script.load_error
