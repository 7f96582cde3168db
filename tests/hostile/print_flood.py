# HOSTILE: flood the collected output (memory, logs).
# EXPECT: ValueError
# EXPECT: flooded
def router(req, config):
    for _ in range(20000):
        print("x" * 1000)
    raise ValueError("flooded")
