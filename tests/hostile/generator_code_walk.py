# HOSTILE: a generator's gi_code / gi_yieldfrom, fetched with getattr at run time.
# EXPECT: AttributeError
# EXPECT: gi_code
def router(req, config):
    g = (x for x in [1, 2])
    code = getattr(g, "gi" + "_code")
    return "openrouter," + str(code)
