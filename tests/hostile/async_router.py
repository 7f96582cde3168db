# HOSTILE (or just mistaken): an async router, as CCR's JavaScript routers are.
# EXPECT: async def is not supported: define a plain def router(req, config)
async def router(req, config):
    return None
