# HOSTILE: change config and request in every way, then item assignment without a net.
# EXPECT: TypeError
# EXPECT: read-only
def router(req, config):
    attempts = [
        lambda: config.update({"Router": {}}),
        lambda: config["Providers"].append({"name": "evil"}),
        lambda: config["Providers"].clear(),
        lambda: req.body["messages"].append({"role": "user", "content": "x"}),
        lambda: req.body.setdefault("model", "evil"),
        lambda: req.body.pop("model"),
        lambda: setattr(req, "body", {}),
    ]
    for attempt in attempts:
        try:
            attempt()
        except TypeError:
            pass
    config["Router"]["default"] = "evil,model"
    return "openrouter,x"
