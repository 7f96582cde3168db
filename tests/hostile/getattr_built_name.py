# HOSTILE: build "__class__" and the views' private "_data" at run time and pass them to getattr.
# EXPECT: AttributeError
# EXPECT: starts with "_"
def router(req, config):
    u = "_"
    data = getattr(req.body, u + "data")
    cls = getattr(data, u + u + "class" + u + u)
    return "openrouter," + str(cls)
