# task_type.py - pick the model by what the user asks for.
#
# Looks at what the person typed (req.prompt) and routes:
#   review / audit / critique ...            -> "review"    (a strong model)
#   implement / write / add / create / fix   -> "implement" (a coding model)
#   why / explain / solve / debug ...        -> "reasoning" (a reasoning model)
# When several kinds of word appear, the one that comes FIRST in the message wins
# ("Why does this fail? Fix it." is reasoning; "Add a test and explain it" is implement).
# Anything else returns None, and ccr's built-in Router rules decide.
#
# Which text: req.prompt, what the person typed in the latest human turn. Claude Code's system
# reminders, the agent and skill lists it sends as mid-conversation "system" messages, and tool
# results are not part of it; on a tool-result turn it is the prompt that started the task, so
# every turn of one task routes alike; in a subagent it is the task the subagent was given.
#
# /model wins: when the person picked "provider,model" with /model, this script returns that
# route (req.explicit_route) instead of classifying the prompt.
#
# Options (config.json), all optional:
#
#   "CUSTOM_ROUTER_OPTIONS": {
#     "task_routes": {
#       "review": "openrouter,anthropic/claude-sonnet-4",
#       "implement": "deepseek,deepseek-chat",
#       "reasoning": "deepseek,deepseek-reasoner"   // null switches a kind off
#     },
#     "task_patterns": {                            // replace a kind's regular expression
#       "review": "\\b(review|audit)\\b"            // (matched case-insensitively)
#     }
#   }
#
# A new kind needs both a route and a pattern, e.g. "task_routes": {"docs": "p,m"} with
# "task_patterns": {"docs": "\\b(document|docstring|readme)\\b"}. Kind names are made of
# letters, digits and "_" (they become regex group names).
#
# Every route must be a "provider,model" configured in "Providers".
# Try it: ccr route --dry-run request.json --config ~/.claude-code-router/config.json

import re

DEFAULT_ROUTES = {
    "review": "openrouter,anthropic/claude-sonnet-4",
    "implement": "deepseek,deepseek-chat",
    "reasoning": "deepseek,deepseek-reasoner",
}
DEFAULT_PATTERNS = {
    "review": r"\b(review|audit|critique|proofread|look over|code quality)\b",
    "implement": r"\b(implement|write|add|create|build|refactor|fix|rename|port)\b",
    "reasoning": r"\b(why|explain|solve|debug|diagnose|investigate|figure out|root cause)\b",
}


def task_kind(text, patterns):
    """The kind whose pattern matches earliest in text, or None.

    One search with an alternative per kind: the regex engine reports the leftmost match, and
    lastgroup names the kind that made it."""
    if not patterns:
        return None
    combined = "|".join("(?P<" + kind + ">" + pattern + ")" for kind, pattern in patterns.items())
    match = re.search(combined, text, re.I)
    return match.lastgroup if match is not None else None


def router(req, config):
    if req.explicit_route:
        return req.explicit_route
    options = config.get("CUSTOM_ROUTER_OPTIONS") or {}
    routes = dict(DEFAULT_ROUTES)
    routes.update(options.get("task_routes") or {})
    patterns = dict(DEFAULT_PATTERNS)
    patterns.update(options.get("task_patterns") or {})
    active = {kind: patterns[kind] for kind in routes if routes[kind] and kind in patterns}
    text = req.prompt
    kind = task_kind(text, active) if text else None
    return routes[kind] if kind else None
