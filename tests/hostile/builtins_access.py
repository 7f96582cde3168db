# HOSTILE: reach the builtins dict (and its __import__) by name.
# EXPECT: SyntaxError
# EXPECT: __builtins__
def router(req, config):
    return __builtins__["__import__"]("os").environ
