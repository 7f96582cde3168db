# provider_health.py - prefer the first healthy provider, and move on when one fails.
#
# routes lists where requests should go, best first. router() picks the first whose provider
# ccr does not currently report as unhealthy in req.providers (provider name -> its health,
# e.g. {"deepseek": {"healthy": false, ...}}; a provider missing from it counts as healthy, so
# with no health reports the first route is used). on_error() is called when the chosen route
# failed before anything reached the client: it returns the next route to try (one on another
# provider), or None to let ccr answer with the error.
#
# Options (config.json):
#
#   "CUSTOM_ROUTER_OPTIONS": {
#     "routes": ["deepseek,deepseek-chat", "openrouter,anthropic/claude-sonnet-4",
#                "ollama,qwen2.5-coder:latest"]
#   }
#
# A model picked with /model ("provider,model") always wins in router(); on_error() still
# offers the next route when it fails.
#
# Try it: ccr route --dry-run request.json --explain

DEFAULT_ROUTES = ["deepseek,deepseek-chat", "openrouter,anthropic/claude-sonnet-4"]


def provider_of(route):
    return route.split(",", 1)[0].strip().lower()


def healthy(req, route):
    health = (req.providers or {}).get(provider_of(route))
    if not health:
        return True
    return health.get("healthy", True) is not False


def routes_of(config):
    options = config.get("CUSTOM_ROUTER_OPTIONS") or {}
    return list(options.get("routes") or DEFAULT_ROUTES)


def router(req, config):
    if req.explicit_route:
        return req.explicit_route
    for route in routes_of(config):
        if healthy(req, route):
            return route
    return None


def on_error(req, error, config):
    """The next route after the one that failed: on another provider, and healthy."""
    failed = str((error or {}).get("route") or "")
    failed_provider = provider_of(failed) if failed else None
    for route in routes_of(config):
        if provider_of(route) != failed_provider and healthy(req, route):
            return route
    return None
