# HOSTILE: keep growing a hoard of strings (each four times the last) until memory runs out.
# EXPECT: MemoryError
def router(req, config):
    hoard = []
    size = 1000000
    while True:
        hoard.append(" " * size)
        size = size * 4
