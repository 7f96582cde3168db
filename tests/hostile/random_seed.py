# HOSTILE: seed the shared generator so other calls' draws become predictable.
# EXPECT: AttributeError
# EXPECT: 'seed'
import random


def router(req, config):
    random.seed(1)
    return "openrouter,x"
