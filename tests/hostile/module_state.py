# HOSTILE: module-level state that would survive between calls (and between users).
# EXPECT: ValueError
# EXPECT: seen 1 call
SEEN = []


def router(req, config):
    SEEN.append(req.session_id)
    raise ValueError("seen " + str(len(SEEN)) + " call(s)")
