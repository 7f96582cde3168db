# session_spend.py - a cheaper model once a session has spent its budget.
#
# With PRICES configured, req.spend["session"] is what ccr's ledger says this session has cost
# so far (USD), and this script uses it. Without it, the script estimates the spend from
# req.session_usage, what the provider reported for the session so far (session_input_tokens
# and session_output_tokens add up every turn ccr served, cached input included), at your
# price_per_million. Once the spend passes budget_usd the rest of the session goes to
# cheap_route. New sessions (and requests without a session) start under budget. A model picked
# with /model always wins.
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


def spent_usd(req, prices):
    """The session's spend so far, in USD: the ledger's figure, else an estimate."""
    ledger = (req.spend or {}).get("session")
    if isinstance(ledger, (int, float)) and not isinstance(ledger, bool):
        return ledger
    usage = req.session_usage
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
    if spent_usd(req, prices) > budget:
        return cheap
    return None
