# HOSTILE: str.format_map with an attribute walk in the template.
# EXPECT: NotImplementedError
def router(req, config):
    template = "{x.__class__.__init__.__globals__}"
    return template.format_map({"x": req})
