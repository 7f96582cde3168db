# HOSTILE: type(x).__subclasses__() with the dunder name built at run time.
# EXPECT: NameError
# EXPECT: 'type'
def router(req, config):
    return str(getattr(type(1), "__sub" + "classes__")())  # noqa: UP003
