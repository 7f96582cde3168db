# time_of_day.py - send night-time work to a cheap or local model.
#
# Between 02:00 and 05:59 every request goes to a cheap/local model; the rest of the day this
# script returns None and ccr's built-in Router rules decide. A model picked with /model
# ("provider,model") always wins.
#
# Use it: copy this file to ~/.claude-code-router/custom_router.py and set in config.json
#
#   "CUSTOM_ROUTER_PATH": "~/.claude-code-router/custom_router.py",
#   "CUSTOM_ROUTER_OPTIONS": {
#     "night_route": "ollama,qwen2.5-coder:latest",  // where night-time requests go
#     "night_hours": [2, 6],       // start hour (included), end hour (excluded), 0-24;
#                                  // [22, 6] wraps past midnight (22:00 to 05:59)
#     "timezone": "+09:00"         // optional: read the hours at this UTC offset instead of
#   }                              // the server's local time ("UTC", "-05:30", or hours: 9)
#
# All options are optional; the values above (bar timezone) are the defaults. The route must be
# a "provider,model" configured in "Providers".
#
# The clock is req.now: the server's local time (its TZ environment variable, else the
# system's), timezone-aware. Use it rather than datetime.now(): a dry run can set it, and a
# replay of recorded traffic sets it to each request's recorded time.
#
# Try it: ccr route --dry-run request.json --now 2026-12-06T03:30 --explain
#         ccr route --dry-run request.json --now 2026-12-06T12:00

import datetime
import re

DEFAULT_ROUTE = "ollama,qwen2.5-coder:latest"
DEFAULT_HOURS = [2, 6]


def zone(value):
    """A fixed-offset timezone from "+09:00", "-05:30", "UTC" or a number of hours; None for
    none given."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.timezone(datetime.timedelta(hours=value))
    text = str(value).strip().upper()
    if text in ("UTC", "Z", "GMT"):
        return datetime.timezone(datetime.timedelta(0))
    match = re.fullmatch(r"(?:UTC)?([+-])(\d{1,2})(?::?(\d{2}))?", text)
    if match is None:
        raise ValueError("timezone must be an offset like +09:00, -05:30 or UTC, not "
                         + repr(value))
    minutes = int(match.group(2)) * 60 + int(match.group(3) or 0)
    sign = -1 if match.group(1) == "-" else 1
    return datetime.timezone(datetime.timedelta(minutes=sign * minutes))


def in_window(hour, start, end):
    """Whether hour is in [start, end); a window with start > end wraps past midnight."""
    if start <= end:
        return start <= hour < end
    return hour >= start or hour < end


def router(req, config):
    if req.explicit_route:
        return req.explicit_route
    options = config.get("CUSTOM_ROUTER_OPTIONS") or {}
    hours = options.get("night_hours") or DEFAULT_HOURS
    if len(hours) != 2:
        raise ValueError("night_hours must be [start_hour, end_hour], e.g. [2, 6]")
    start, end = int(hours[0]), int(hours[1])
    tz = zone(options.get("timezone", options.get("utc_offset_hours")))
    now = req.now.astimezone(tz) if tz is not None else req.now
    if in_window(now.hour, start, end):
        return options.get("night_route") or DEFAULT_ROUTE
    return None
