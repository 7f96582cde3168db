# HOSTILE: dict views have a public .mapping (the live dict behind them) since Python 3.10.
# EXPECT: AttributeError
def router(req, config):
    live = req.body.keys().mapping
    return "openrouter," + str(live)
