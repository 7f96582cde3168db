"""Who is calling: a request's key to a client name, compared in constant time.

Every configured key is compared on every request (no early exit), so the time taken says
nothing about which key, or how much of one, matched.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ccr.config.keys import KeySettings
from ccr.errors import AuthenticationFailed

log = logging.getLogger("ccr")


@dataclass(frozen=True)
class Identity:
    #: The client key's name; None for the single APIKEY or when no key is configured.
    client: str | None = None
    admin: bool = False
    #: Whether a configured key matched (False when ccr has no keys at all).
    authenticated: bool = False


ANONYMOUS = Identity()


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a client sent: ``x-api-key``, else ``Authorization: Bearer``."""
    given = headers.get("x-api-key")
    if given is None:
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
    return given


class Authenticator:
    def __init__(self, apikey: str | None, keys: KeySettings) -> None:
        entries: list[tuple[bytes, Identity]] = []
        if apikey:
            entries.append((apikey.encode(), Identity(None, False, True)))
        for client in keys.clients:
            entries.append((client.key.encode(), Identity(client.name, False, True)))
        if keys.admin_key:
            entries.append((keys.admin_key.encode(), Identity("admin", True, True)))
        self._entries = entries

    @property
    def required(self) -> bool:
        """Whether any key is configured (then every non-open path needs one)."""
        return bool(self._entries)

    def identify(self, given: str | None) -> Identity | None:
        """The identity for ``given``, None when it matches no key; ANONYMOUS when ccr has no
        keys at all."""
        if not self._entries:
            return ANONYMOUS
        if given is None:
            return None
        # Header bytes that are not UTF-8 reach us as surrogates: they must fail to match,
        # not fail to encode (a 401, never a 500).
        candidate = given.encode("utf-8", "surrogatepass")
        found: Identity | None = None
        for key, identity in self._entries:
            if hmac.compare_digest(candidate, key) and found is None:
                found = identity
        return found


# -- refusals a user can act on ----------------------------------------------------------------
#
# A wrong key is answered at once with a message that names ccr's APIKEY (not the client's
# login) and ``x-should-retry: false``, and leaves one log line, never the key; a client stuck
# in a retry loop cannot fill the disk, as refusals are logged at most once per interval.

#: At most one refusal line per this many seconds (the others are counted in the next one).
LOG_INTERVAL_S = 60.0

WRONG_KEY = ("ccr refused the request: the key it was sent does not match ccr's APIKEY "
             "(in ccr's config.json). Set ANTHROPIC_AUTH_TOKEN (or ANTHROPIC_API_KEY) to ccr's "
             "APIKEY, or run `ccr code`, which does it for you.")
NO_KEY = ("ccr refused the request: no key was sent, and ccr's config.json sets an APIKEY. "
          "Set ANTHROPIC_AUTH_TOKEN (or ANTHROPIC_API_KEY) to ccr's APIKEY, or run `ccr code`.")


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


def refusal(given: str | None, path: str, refusals: RefusalLog) -> AuthenticationFailed:
    """The error for a request whose key matched none (logged, rate-limited, never the key)."""
    if given is None:
        refusals.refused("no client key sent (APIKEY is set)", path)
        error = AuthenticationFailed(NO_KEY)
    else:
        refusals.refused("the client key does not match APIKEY", path)
        error = AuthenticationFailed(WRONG_KEY)
    error.headers["x-should-retry"] = "false"
    return error
