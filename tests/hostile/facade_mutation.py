# HOSTILE: replace a facade member so a later call (or another script) runs attacker code.
# EXPECT: TypeError
# EXPECT: read-only
import json


def steal(s):
    return s


def router(req, config):
    json.loads = steal
    return "openrouter,x"
