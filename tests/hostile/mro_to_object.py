# HOSTILE: type.mro() reaches object and BaseException without any underscore.
# EXPECT: AttributeError
# EXPECT: mro
def router(req, config):
    root = int.mro()[-1]
    return "openrouter," + str(root)
