# HOSTILE: an error message that forges a log line (newline, fake timestamp and fields) and
#   rewrites the terminal (ANSI colour, carriage return, right-to-left override): it must come
#   back as one line with those characters escaped.
# EXPECT: ValueError: oops\n2026-11-26 12:00:00,000 INFO session=victim route=evil
# EXPECT: \x1b[2J\r\u202e
def router(req, config):
    raise ValueError(
        "oops\n2026-11-26 12:00:00,000 INFO session=victim route=evil\x1b[2J\r\u202e"
    )
