"""Run users' scripts in a real sandbox: RestrictedPython inside killable worker processes.

``RouterScript(path)`` is the whole interface for router scripts: ``await script.call(req,
config)`` returns a :class:`ScriptResult` and never raises for anything the script does. User
transformer files use :mod:`ccr.sandbox.transformer` (checked at load, then
``TransformerScript.run``), in the same workers.

The names are imported lazily so that a worker process, which imports ``ccr.sandbox.worker``,
does not pay for asyncio and the server-side pool at every start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ccr.sandbox.result import ScriptResult
    from ccr.sandbox.router import RouterScript

__all__ = ["RouterScript", "ScriptResult"]


def __getattr__(name: str) -> Any:
    if name == "RouterScript":
        from ccr.sandbox.router import RouterScript

        return RouterScript
    if name == "ScriptResult":
        from ccr.sandbox.result import ScriptResult

        return ScriptResult
    raise AttributeError(f"module 'ccr.sandbox' has no attribute {name!r}")
