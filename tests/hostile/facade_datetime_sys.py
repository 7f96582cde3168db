# HOSTILE: datetime.sys is the real sys module on Python 3.11; from there, os.
# EXPECT: AttributeError
# EXPECT: 'sys'
import datetime


def router(req, config):
    return "openrouter," + str(datetime.sys.modules["os"].environ)
