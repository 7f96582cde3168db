# HOSTILE (or just mistaken): no router function at all.
# EXPECT: no router function
def route(req, config):
    return "openrouter,x"
