"""The web console (``ccr ui``): its static files, and the pure logic behind its HTTP API.

The HTTP side lives in :mod:`ccr.server.console`; the modules here know nothing of HTTP, so
each rule (what a key looks like on screen, which log file is read, how a save is checked) is
testable on its own.
"""

from pathlib import Path

#: The console's HTML, CSS and JavaScript modules, shipped inside the package (no build step).
STATIC_DIR = Path(__file__).resolve().parent / "static"
