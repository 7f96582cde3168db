# token_budget.py - route by how much context a request needs.
#
#   big request (token_count above big_request_tokens)            -> long_context_route
#   long session (the session's last turn used more input than
#     long_session_tokens, and this request is not tiny)          -> long_context_route
#   tiny request (token_count at most tiny_request_tokens)        -> cheap_route
#   anything else                                                 -> None (built-in rules)
#
# req.token_count is ccr's count of this request's input tokens. req.session_usage is what the
# provider reported for the session's previous turn (None for a new session or one ccr has not
# seen); its "total_input" includes cached tokens, i.e. what Claude Code's context meter shows.
# A whole Claude Code turn is ~19K tokens (its tool list alone is ~16K), so "tiny" requests are
# mostly Claude Code's own small side calls (titles, summaries) and short API chats.
#
# Options (config.json), all optional:
#
#   "CUSTOM_ROUTER_OPTIONS": {
#     "long_context_route": "openrouter,google/gemini-2.5-pro",  // default: Router.longContext
#     "cheap_route": "ollama,qwen2.5-coder:latest",              // default: Router.background
#     "big_request_tokens": 60000,   // default: Router.longContextThreshold
#     "long_session_tokens": 60000,  // default: Router.longContextThreshold
#     "tiny_request_tokens": 3000    // default: 3000
#   }
#
# A route that is unset (and has no default in Router) switches its branch off. Routes must be
# "provider,model" pairs configured in "Providers".
# Try it: ccr route --dry-run request.json --config ~/.claude-code-router/config.json
# (a dry run has no session history, so req.session_usage is None there)

DEFAULT_TINY_TOKENS = 3000


def number(options, name, default):
    value = options.get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return value
    return default


def router(req, config):
    if req.explicit_route:  # a model picked with /model wins
        return req.explicit_route
    options = config.get("CUSTOM_ROUTER_OPTIONS") or {}
    router_slots = config.get("Router") or {}
    threshold = router_slots.get("longContextThreshold") or 60000
    long_route = options.get("long_context_route") or router_slots.get("longContext")
    cheap_route = options.get("cheap_route") or router_slots.get("background")
    big = number(options, "big_request_tokens", threshold)
    long_session = number(options, "long_session_tokens", threshold)
    tiny = number(options, "tiny_request_tokens", DEFAULT_TINY_TOKENS)

    tokens = req.token_count or 0
    usage = req.session_usage or {}
    last_turn_input = usage.get("total_input") or 0

    if long_route and tokens > big:
        return long_route
    if long_route and last_turn_input > long_session and tokens > tiny:
        return long_route
    if cheap_route and tokens <= tiny:
        return cheap_route
    return None
