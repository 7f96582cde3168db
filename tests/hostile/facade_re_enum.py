# HOSTILE: re.enum -> enum.bltns is the real builtins module on Python 3.11.
# EXPECT: AttributeError
# EXPECT: 'enum'
import re


def router(req, config):
    return "openrouter," + str(re.enum.bltns.open)
