# HOSTILE: the same with a bare except that swallows GeneratorExit and keeps the generator
#   going; the yield sits in a nested block of the try body. Refused at compile time.
# EXPECT: custom_router.py:9: SyntaxError: yield inside a try with a finally or a bare except
def stuck():
    while True:
        try:
            for n in range(3):
                if n:
                    yield n
        except:  # noqa: E722 - the point of the test
            while True:
                pass


def router(req, config):
    parked = stuck()
    next(parked)
    return "openrouter,x"
