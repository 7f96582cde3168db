# HOSTILE: a long C-level computation (math.factorial of ten million).
# EXPECT: timed out
# EXPECT-TIMEOUT
import math


def router(req, config):
    return "openrouter," + str(math.factorial(10 ** 7) % 7)
