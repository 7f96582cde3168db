# HOSTILE: json.codecs leads to the codecs module and from there to builtins.
# EXPECT: AttributeError
# EXPECT: 'codecs'
import json


def router(req, config):
    return "openrouter," + str(json.codecs)
