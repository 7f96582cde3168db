# HOSTILE: a compiled pattern is a real object: walk its class at run time.
# EXPECT: AttributeError
import re


def router(req, config):
    pattern = re.compile("x")
    cls = getattr(pattern, "__" + "class__")
    return "openrouter," + str(cls)
