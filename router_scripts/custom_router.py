# custom_router.py - a starting point for your own routing policy.
#
# Set in ~/.claude-code-router/config.json:
#   "CUSTOM_ROUTER_PATH": "~/.claude-code-router/custom_router.py",
#   "CUSTOM_ROUTER_OPTIONS": { ...anything your script wants to read... }
#
# THE CONTRACT
# ccr calls router(req, config) for every /v1/messages request, before its built-in Router
# rules, including the one for Claude Code's /model. Return
#   "provider,model"  a pair configured in "Providers" (case-insensitive): the request goes there;
#   None              the built-in rules decide (explicit "provider,model" model, subagent tag,
#                     longContext, background, webSearch, think, image, default).
# To let /model win, return req.explicit_route first when it is set (this template does).
#
# req, about what Claude Code sent (computed only when read):
#   prompt          what the person typed in the latest turn (no system reminders, tool results
#                   or Claude Code's injected context); on a tool-result turn, the prompt that
#                   started the task; in a subagent, its task
#   first_prompt    the conversation's first prompt
#   is_tool_result  the latest turn hands back tool results
#   is_subagent     a subagent's request; subagent_type: "general-purpose", "Explore", ...
#   is_background   asks for a Haiku model (Claude Code's small fast model)
#   requested_model, explicit_route   the model asked for; "provider,model" from /model or None
#   thinking        None, "adaptive" or "enabled"; thinking_budget
#   has_images, tool_names, has_web_search, message_count
#   cwd, project    the working directory and its folder name under ~/.claude/projects
#   now             the current local time, timezone-aware (use it, not datetime.now())
# and as ccr knows it:
#   token_count    ccr's count of the request's input tokens (int)
#   session_id     Claude Code's session id, or None
#   session_usage  the session's previous turn as the provider reported it, or None:
#                  input_tokens, output_tokens, cache_read_input_tokens,
#                  cache_creation_input_tokens, total_input, turns, last_route,
#                  session_input_tokens, session_output_tokens
#   client         the client key's name (APIKEYS), or None with a single APIKEY
#   spend          USD spent so far at the configured PRICES: session, project_today,
#                  client_today, router_today
#   providers      provider health by provider name (empty until ccr reports it)
#   body, headers  the request as sent (headers lower-cased, without credentials)
#
# config (no API keys, no URLs):
#   Providers              [{"name": ..., "models": [...]}, ...]
#   Router                 default, background, think, longContext, longContextThreshold,
#                          webSearch, image
#   CUSTOM_ROUTER_OPTIONS  your options; entries whose names look like secrets (key, token,
#                          secret, password, ...) arrive as "***"
#
# req and config are read-only: to change something, copy it first (dict(x), list(x)).
#
# THE SANDBOX
# Scripts run with RestrictedPython in separate worker processes:
#   - imports: datetime, json, math, random, re (and only their everyday functions);
#   - no files, network, environment or os/sys; no open, eval or exec;
#   - no names or attributes that start with "_";
#   - the module runs afresh for every call: nothing (counters, caches) survives between calls.
# Limits, from config.json: CUSTOM_ROUTER_TIMEOUT_MS per call (default 100), CUSTOM_ROUTER_MEMORY_MB
# per worker (default 256), CUSTOM_ROUTER_WORKERS processes (default 2). A call that runs over
# is stopped; after 3 timeouts in a row the script is switched off for a minute.
#
# WHEN THINGS GO WRONG
# An exception, a bad return value or a route that is not configured never fails the request:
# it is routed by the built-in rules and the log line carries the error, for example
#   script_error="custom_router.py:57: KeyError: 'model_routes'".
# Edits are picked up within a second, without a restart; a version that does not load is
# reported and the previous one keeps serving.
#
# TESTING
#   ccr route --dry-run request.json --config ~/.claude-code-router/config.json
# prints the route, the rule that chose it and the script's error and time. request.json is an
# Anthropic request body, or {"method", "path", "headers", "body"}; give a folder or a .jsonl file
# for many requests at once. --header K:V adds a header, --session-id routes as a session, --json
# prints JSON, --now 2026-12-06T23:30 sets req.now, --explain shows every rule's verdict. To look
# at a value while writing a script, print it: a dry run shows what the script printed.
#
# THIS EXAMPLE
# Routes by a word in what the person typed (req.prompt), else by the model the client asked for
# (both matched as case-insensitive substrings, first match wins):
#   "CUSTOM_ROUTER_OPTIONS": {
#     "keyword_routes": {"quick question": "ollama,qwen2.5-coder:latest"},
#     "model_routes": {"opus": "openrouter,anthropic/claude-opus-4",
#                      "haiku": "ollama,qwen2.5-coder:latest"}
#   }
# Replace it with your own policy.


def first_match(routes, text):
    """The route of the first key found in text (case-insensitive), or None."""
    text = text.lower()
    for fragment, route in (routes or {}).items():
        if fragment.lower() in text:
            return route
    return None


def router(req, config):
    if req.explicit_route:  # /model provider,model wins
        return req.explicit_route
    options = config.get("CUSTOM_ROUTER_OPTIONS") or {}
    keyword_routes = options.get("keyword_routes")
    if keyword_routes:
        route = first_match(keyword_routes, req.prompt)
        if route:
            return route
    return first_match(options.get("model_routes"), str(req.body.get("model") or ""))
