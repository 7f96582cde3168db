"""Client authentication against ccr's own ``APIKEY``, and refusals a user can act on.

A wrong key is answered at once with a message that names ccr's ``APIKEY`` (not the client's
login) and ``x-should-retry: false``, and leaves one log line, never the key; a client stuck
in a retry loop cannot fill the disk, as refusals are logged at most once per interval.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Mapping

from ccr.errors import AuthenticationFailed

log = logging.getLogger("ccr")

#: At most one refusal line per this many seconds (the others are counted in the next one).
LOG_INTERVAL_S = 60.0

WRONG_KEY = ("ccr refused the request: the key it was sent does not match ccr's APIKEY "
             "(in ccr's config.json). Set ANTHROPIC_AUTH_TOKEN (or ANTHROPIC_API_KEY) to ccr's "
             "APIKEY, or run `ccr code`, which does it for you.")
NO_KEY = ("ccr refused the request: no key was sent, and ccr's config.json sets an APIKEY. "
          "Set ANTHROPIC_AUTH_TOKEN (or ANTHROPIC_API_KEY) to ccr's APIKEY, or run `ccr code`.")


def given_key(headers: Mapping[str, str]) -> str | None:
    """The key a client sent, as ``x-api-key`` or ``Authorization: Bearer``."""
    given = headers.get("x-api-key")
    if given is None:
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
    return given


class RefusalLog:
    """Logs refusals at most once per ``interval_s``, saying how many were not logged."""

    def __init__(self, interval_s: float = LOG_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.clock = clock
        self.last: float | None = None
        self.suppressed = 0

    def refused(self, why: str, path: str) -> bool:
        """Log one refusal unless one was logged lately; True when a line was written."""
        now = self.clock()
        if self.last is not None and now - self.last < self.interval_s:
            self.suppressed += 1
            return False
        more = f" ({self.suppressed} more since the last such line)" if self.suppressed else ""
        log.warning("refused %s: %s%s", path, why, more)
        self.last, self.suppressed = now, 0
        return True


def check_client(headers: Mapping[str, str], apikey: str, path: str,
                 refusals: RefusalLog) -> None:
    """Raise :class:`AuthenticationFailed` (logged, rate-limited) unless the key matches."""
    given = given_key(headers)
    if given is not None and hmac.compare_digest(given.encode(), apikey.encode()):
        return
    if given is None:
        refusals.refused("no client key sent (APIKEY is set)", path)
        error = AuthenticationFailed(NO_KEY)
    else:
        refusals.refused("the client key does not match APIKEY", path)
        error = AuthenticationFailed(WRONG_KEY)
    error.headers["x-should-retry"] = "false"
    raise error
