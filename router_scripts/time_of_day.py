# time_of_day.py - send night-time work to a cheap or local model.
#
# Between 02:00 and 05:59 (the server's local time) every request goes to a cheap/local model;
# the rest of the day this script returns None and ccr's built-in Router rules decide.
#
# Use it: copy this file to ~/.claude-code-router/custom_router.py and set in config.json
#
#   "CUSTOM_ROUTER_PATH": "~/.claude-code-router/custom_router.py",
#   "CUSTOM_ROUTER_OPTIONS": {
#     "night_route": "ollama,qwen2.5-coder:latest",  // where night-time requests go
#     "night_hours": [2, 6],       // start hour (included), end hour (excluded), 0-24;
#                                  // [22, 6] wraps past midnight (22:00 to 05:59)
#     "utc_offset_hours": 1        // optional: use UTC+1 instead of the server's local time
#   }
#
# All options are optional; the values above (bar utc_offset_hours) are the defaults.
# The route must be a "provider,model" configured in "Providers".
#
# "Local time" is the time zone of the ccr server (its TZ environment variable, else the
# system's); set utc_offset_hours when ccr runs somewhere else, e.g. in a UTC container.
#
# Try it: ccr route --dry-run request.json --config ~/.claude-code-router/config.json
#         (TZ=Asia/Tokyo ccr route ... shows what happens at another hour)

import datetime

DEFAULT_ROUTE = "ollama,qwen2.5-coder:latest"
DEFAULT_HOURS = [2, 6]


def now_hour(options):
    """The current hour, 0-23: server local time, or UTC plus utc_offset_hours if set."""
    offset = options.get("utc_offset_hours")
    if isinstance(offset, (int, float)) and not isinstance(offset, bool):
        zone = datetime.timezone(datetime.timedelta(hours=offset))
        return datetime.datetime.now(zone).hour
    return datetime.datetime.now().hour


def in_window(hour, start, end):
    """Whether hour is in [start, end); a window with start > end wraps past midnight."""
    if start <= end:
        return start <= hour < end
    return hour >= start or hour < end


def router(req, config):
    options = config.get("CUSTOM_ROUTER_OPTIONS") or {}
    hours = options.get("night_hours") or DEFAULT_HOURS
    if len(hours) != 2:
        raise ValueError("night_hours must be [start_hour, end_hour], e.g. [2, 6]")
    start, end = int(hours[0]), int(hours[1])
    if in_window(now_hour(options), start, end):
        return options.get("night_route") or DEFAULT_ROUTE
    return None
