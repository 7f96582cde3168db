# HOSTILE: globals()/vars()/locals() to see the guards and swap them out.
# EXPECT: NameError
# EXPECT: 'globals'
def router(req, config):
    g = globals()
    g["_getattr_"] = None
    return str(vars()) + str(locals())
