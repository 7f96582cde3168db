# HOSTILE: an enormous route string (log and header flooding).
# EXPECT: must return "provider,model" or None, got a str of
def router(req, config):
    return "openrouter," + "x" * 100000
