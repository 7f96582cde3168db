# HOSTILE: str.format taken from the type, then called unbound.
# EXPECT: NotImplementedError
def router(req, config):
    fmt = getattr(str, "format")  # noqa: B009 - the guard is what is tested
    return fmt("{0.__class__}", req)
