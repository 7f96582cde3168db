# HOSTILE: reach host frames through an exception's traceback, names built at run time.
# EXPECT: AttributeError
# EXPECT: __traceback__
def router(req, config):
    try:
        ratio = 1 / 0
        return str(ratio)
    except ZeroDivisionError as exc:
        tb = getattr(exc, "__" + "traceback__")
        frame = getattr(tb, "tb_" + "frame")
        return "openrouter," + str(getattr(frame, "f_" + "globals"))
