"""Who is calling: a request's key to a client name, compared in constant time.

Every configured key is compared on every request (no early exit), so the time taken says
nothing about which key, or how much of one, matched.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from ccr.config.keys import KeySettings


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
