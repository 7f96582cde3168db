"""The Router's route slots: a leaf module, so every config module can name them."""

#: Router slots that hold a ``provider,model`` route, in the order the rules consult them.
ROUTE_SLOTS = ("default", "background", "think", "longContext", "webSearch", "image")
