# HOSTILE: unbounded recursion.
# EXPECT: RecursionError
def deeper(n):
    return deeper(n + 1)


def router(req, config):
    return deeper(0)
