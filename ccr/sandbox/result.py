"""What one router-script call produced, as the routing code consumes it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScriptResult:
    """The route a script chose (``value``), or None with the reason in ``error``."""

    #: The ``"provider,model"`` the script returned (an exact ``str``), or None.
    value: str | None
    #: ``custom_router.py:12: ZeroDivisionError: division by zero`` and the like; None if fine.
    error: str | None
    elapsed_ms: float
    #: What the script printed (truncated).
    output: str = ""
    timed_out: bool = False
    #: The script is switched off for a while after repeated timeouts.
    disabled: bool = False
    #: Routes to try when ``value`` fails, when the script returned a dict naming them.
    fallback: tuple[str, ...] | None = None
    #: The script's short reason for its choice (a returned dict's ``"reason"``).
    reason: str | None = None
    #: ``on_error`` calls only: the script defines no ``on_error``.
    missing: bool = False
