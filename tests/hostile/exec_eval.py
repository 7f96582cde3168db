# HOSTILE: exec/eval/compile to run code the compiler never checked.
# EXPECT: SyntaxError
# EXPECT: Exec calls are not allowed
def router(req, config):
    exec("import os")
    return eval("1")
