# HOSTILE: catastrophic backtracking: one C call that may never look at signals.
# EXPECT: timed out
# EXPECT-TIMEOUT
import re


def router(req, config):
    re.match("(a+)+$", "a" * 40 + "b")
    return "openrouter,x"
