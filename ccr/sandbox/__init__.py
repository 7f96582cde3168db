"""Run users' router scripts in a real sandbox: RestrictedPython inside killable worker processes.

``RouterScript(path)`` is the whole interface: ``await script.call(req, config)`` returns a
:class:`ScriptResult` and never raises for anything the script does.
"""

from ccr.sandbox.pool import RouterScript
from ccr.sandbox.result import ScriptResult

__all__ = ["RouterScript", "ScriptResult"]
