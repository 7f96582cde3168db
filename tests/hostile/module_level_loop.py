# HOSTILE: hang at import time, before router() is ever looked up.
# EXPECT: module code timed out
while True:
    pass


def router(req, config):
    return None
