# session_spend.py - a cheaper model once a session has spent its budget.
#
# req.session_usage is what the provider reported for this Claude Code session so far:
# session_input_tokens and session_output_tokens add up every turn ccr served (cached input
# included), turns counts them. This script prices them with your rates and, once the estimate
# passes budget_usd, sends the rest of the session to cheap_route. New sessions (and requests
# without a session) start under budget. A model picked with /model always wins.
#
# Options (config.json):
#
#   "CUSTOM_ROUTER_OPTIONS": {
#     "budget_usd": 2.0,                        // per session
#     "cheap_route": "deepseek,deepseek-chat",  // after the budget is spent
#     "price_per_million": {"input": 3.0, "output": 15.0}   // what the usual model costs
#   }
#
# Prices are USD per million tokens; cached input is priced as input (an upper bound).
# The session's usage lives in the running server: a dry run has none unless you pass
# --session-input N, and a replay of records builds it up request by request.
# Try it: ccr route --dry-run request.json --session-input 900000 --explain

DEFAULT_BUDGET_USD = 2.0
DEFAULT_PRICES = {"input": 3.0, "output": 15.0}


def spent_usd(usage, prices):
    """The session's estimated spend so far, in USD."""
    if not usage:
        return 0.0
    tokens_in = usage.get("session_input_tokens") or usage.get("total_input") or 0
    tokens_out = usage.get("session_output_tokens") or usage.get("output_tokens") or 0
    return (tokens_in * prices["input"] + tokens_out * prices["output"]) / 1000000


def router(req, config):
    if req.explicit_route:
        return req.explicit_route
    options = config.get("CUSTOM_ROUTER_OPTIONS") or {}
    cheap = options.get("cheap_route")
    if not cheap:
        raise ValueError("set CUSTOM_ROUTER_OPTIONS.cheap_route to a configured provider,model")
    prices = dict(DEFAULT_PRICES)
    prices.update(options.get("price_per_million") or {})
    budget = options.get("budget_usd") or DEFAULT_BUDGET_USD
    if spent_usd(req.session_usage, prices) > budget:
        return cheap
    return None
