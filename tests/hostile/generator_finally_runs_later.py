# HOSTILE: leave a generator suspended inside try/finally and return a route at once: the finally
#   block (an endless loop) would run whenever the garbage collector closes the generator, after
#   the call, outside its deadline, in the worker's idle time or during another call. Refused
#   at compile time.
# EXPECT: custom_router.py:9: SyntaxError: yield inside a try with a finally
def stuck():
    try:
        n = 0
        yield n
    finally:
        while True:
            pass


def router(req, config):
    parked = stuck()
    next(parked)
    cycle = [parked]
    cycle.append(cycle)
    return "openrouter,x"
