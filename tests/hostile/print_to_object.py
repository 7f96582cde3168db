# HOSTILE: print(file=...) to an object whose write() is attacker code, plus getattr default.
# EXPECT: AttributeError
def router(req, config):
    print("x", file=getattr(req, "_data", req))
    return "openrouter,x"
