# HOSTILE: json.loads with an object_hook / cls, to get code called with decoder internals.
# EXPECT: TypeError
import json


def hook(d):
    return d


def router(req, config):
    return json.loads("{}", object_hook=hook)
