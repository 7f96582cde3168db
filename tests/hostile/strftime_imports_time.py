# HOSTILE: datetime.strftime imports the time module for itself, through the script's own
#   __import__; that must work, yet hand the script nothing: `import time` stays refused.
# EXPECT: custom_router.py:12: ImportError
# EXPECT: 'time' may not be imported
import datetime


def router(req, config):
    day = datetime.datetime(2024, 1, 2).strftime("%Y-%m-%d")
    if day != "2024-01-02" or f"{datetime.date(2024, 1, 2):%d}" != "02":
        raise ValueError("strftime did not work: " + day)
    import time

    return "openrouter," + str(time)
