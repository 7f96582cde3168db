# HOSTILE: read the server's config (API keys) straight from disk.
# EXPECT: NameError
# EXPECT: 'open'
def router(req, config):
    return "openrouter," + open("config.json").read()[:100]
