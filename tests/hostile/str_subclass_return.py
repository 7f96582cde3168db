# HOSTILE: return a str subclass (its methods could run code in the host when it is used).
# EXPECT: must return "provider,model" or None, got Route
class Route(str):
    pass


def router(req, config):
    return Route("openrouter,x")
