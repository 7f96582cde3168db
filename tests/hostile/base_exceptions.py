# HOSTILE: raise the BaseException family that could stop the server's event loop.
# EXPECT: NameError
# EXPECT: 'KeyboardInterrupt'
def router(req, config):
    raise KeyboardInterrupt()
