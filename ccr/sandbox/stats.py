"""What a user's script has done since it was loaded, for ``/health`` and ``ccr status``: a
script that breaks at run time never fails a request, so without these counts it would be
visible only in the log."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass
class ScriptStats:
    #: Calls the script ran (calls refused while it was switched off are not counted).
    calls: int = 0
    #: Calls that ended in an error (a timeout is one too).
    errors: int = 0
    timeouts: int = 0
    #: Calls answered without running, because the script was switched off.
    refused: int = 0
    #: The latest error, as ``file:line: Type: message``, and when it happened (epoch seconds).
    last_error: str | None = None
    last_error_at: float | None = None

    def note(self, error: str | None, *, timed_out: bool = False,
             disabled: bool = False) -> None:
        if disabled:
            self.refused += 1
            return
        self.calls += 1
        if timed_out:
            self.timeouts += 1
        if error:
            self.errors += 1
            self.last_error, self.last_error_at = error, time.time()

    def as_json(self) -> dict[str, Any]:
        return {"calls": self.calls, "errors": self.errors, "timeouts": self.timeouts,
                "refused": self.refused, "last_error": self.last_error,
                "last_error_at": self.last_error_at}
