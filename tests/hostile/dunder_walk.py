# HOSTILE: the classic escape, a literal dunder walk to object.__subclasses__().
# EXPECT: is an invalid attribute name because it starts with "_"
def router(req, config):
    subclasses = ().__class__.__bases__[0].__subclasses__()
    return "openrouter,x" + str(len(subclasses))
