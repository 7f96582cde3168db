# subagent_aware.py - a cheaper model for Claude Code's subagents.
#
# When Claude Code hands work to a subagent (the Task/Agent tool: Explore, general-purpose,
# your own agents), the subagent's requests carry two marks (Claude Code 2.1):
#   - an "x-claude-code-agent-id" header, and
#   - "cc_is_subagent=true" in the billing line that is system[0]:
#     "x-anthropic-billing-header: cc_version=2.1.197.a39; cc_entrypoint=sdk-cli;
#      cc_is_subagent=true;"
# Either mark is enough here. Subagents mostly search, read and summarise, which a cheaper model
# does well; the main conversation keeps its model.
#
# Options (config.json):
#
#   "CUSTOM_ROUTER_OPTIONS": {
#     "subagent_route": "deepseek,deepseek-chat",   // default: this value
#     "main_route": null                            // optional: a route for the main agent;
#   }                                               // null lets the built-in rules decide
#
# (ccr also honours a "<CCR-SUBAGENT-MODEL>provider,model</CCR-SUBAGENT-MODEL>" tag at the start
# of an agent's prompt, per agent; this script sets one model for every subagent.)
#
# Routes must be "provider,model" pairs configured in "Providers".
# Try it: ccr route --dry-run request.json --header x-claude-code-agent-id:test

DEFAULT_SUBAGENT_ROUTE = "deepseek,deepseek-chat"
SUBAGENT_MARK = "cc_is_subagent=true"


def billing_line(body):
    """The text of system[0] (Claude Code's billing line), or ""."""
    system = body.get("system")
    if isinstance(system, str):
        return system
    if isinstance(system, list) and system:
        first = system[0]
        if isinstance(first, dict):
            return first.get("text") or ""
    return ""


def is_subagent(req):
    # Header names arrive lower-cased. Checking the header first is also cheaper: reading
    # body["system"] makes the sandbox fetch it.
    if req.headers.get("x-claude-code-agent-id"):
        return True
    return SUBAGENT_MARK in billing_line(req.body)


def router(req, config):
    options = config.get("CUSTOM_ROUTER_OPTIONS") or {}
    if is_subagent(req):
        return options.get("subagent_route") or DEFAULT_SUBAGENT_ROUTE
    return options.get("main_route") or None
