# HOSTILE: an endless loop that swallows the deadline exception with a bare except.
# EXPECT: timed out
# EXPECT-TIMEOUT
def router(req, config):
    while True:
        try:
            while True:
                pass
        except:  # noqa: E722 - the point of the test
            pass
