# HOSTILE: the same forged log line raised by module code, which fails the load: the load error
#   (logged by the server and shown by `ccr route`) must be one line too.
# EXPECT: ValueError: boom\n2026-11-26 12:00:00,000 WARNING forged
raise ValueError("boom\n2026-11-26 12:00:00,000 WARNING forged")


def router(req, config):
    return "openrouter,x"
