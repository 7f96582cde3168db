# HOSTILE: a C loop that never checks for signals, so the worker's own SIGALRM deadline cannot
#   interrupt it: only the server's SIGKILL at the hard deadline ends it.
# EXPECT: timed out
# EXPECT: the sandbox process was stopped
# EXPECT-TIMEOUT
def router(req, config):
    return "openrouter,x" + str(sum(range(10 ** 12)))
