# HOSTILE: str.format reads attributes inside the format string, out of the compiler's sight.
# EXPECT: NotImplementedError
# EXPECT: format
def router(req, config):
    return "{0.__class__.__mro__}".format(req)  # noqa: UP030, UP032
