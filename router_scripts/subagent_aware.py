# subagent_aware.py - a cheaper model for Claude Code's subagents.
#
# When Claude Code hands work to a subagent (the Agent/Task tool: Explore, general-purpose,
# Plan, your own agents), req.is_subagent is True, and req.subagent_type names Claude Code's
# built-in agent ("general-purpose", "Explore", "Plan", ...; None for your own agents).
# req.prompt is the task the subagent was given. Subagents mostly search, read and summarise,
# which a cheaper model does well; the main conversation keeps its model.
#
# Options (config.json):
#
#   "CUSTOM_ROUTER_OPTIONS": {
#     "subagent_route": "deepseek,deepseek-chat",     // default: this value
#     "subagent_routes": {                            // optional: per agent type
#       "Explore": "ollama,qwen2.5-coder:latest"
#     },
#     "main_route": null                              // optional: a route for the main agent;
#   }                                                 // null lets the built-in rules decide
#
# A model picked with /model ("provider,model") always wins. (ccr also honours a
# "<CCR-SUBAGENT-MODEL>provider,model</CCR-SUBAGENT-MODEL>" tag at the start of an agent's
# prompt, per agent; this script sets models without editing the agents.)
#
# Routes must be "provider,model" pairs configured in "Providers".
# Try it: ccr route --dry-run subagent-request.json --explain

DEFAULT_SUBAGENT_ROUTE = "deepseek,deepseek-chat"


def router(req, config):
    if req.explicit_route:
        return req.explicit_route
    options = config.get("CUSTOM_ROUTER_OPTIONS") or {}
    if req.is_subagent:
        by_type = options.get("subagent_routes") or {}
        if req.subagent_type and by_type.get(req.subagent_type):
            return by_type[req.subagent_type]
        return options.get("subagent_route") or DEFAULT_SUBAGENT_ROUTE
    return options.get("main_route") or None
