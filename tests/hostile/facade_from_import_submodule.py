# HOSTILE: `from json import decoder`: when the attribute is missing, CPython falls back to
#   sys.modules["<module __name__>.decoder"], the REAL json.decoder module (whose `re` is real).
# EXPECT: ImportError
# EXPECT: decoder
from json import decoder


def router(req, config):
    return "openrouter," + str(decoder.re)
