# HOSTILE: `import os` at call time, and the subprocess module behind it.
# EXPECT: ImportError
# EXPECT: 'os' may not be imported
def router(req, config):
    import os

    return "openrouter," + os.popen("id").read()
