# HOSTILE: hand a live object back to the host instead of a string.
# EXPECT: must return "provider,model" or None, got Request
def router(req, config):
    return req
