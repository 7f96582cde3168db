"""Text a script produced (error messages, printed output), made safe to log and to show.

A script chooses its exception messages and what it prints: raw control characters there could
forge log lines (a newline followed by a fake timestamp), rewrite a terminal (ANSI escapes, carriage
returns) or reorder what a reader sees (bidirectional overrides). They are shown escaped instead.
"""

from __future__ import annotations

import re

#: Line/paragraph separators and bidirectional formatting characters.
_INVISIBLE = "\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
#: Every C0 and C1 control and DEL, and the characters above.
_ANY_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
#: The same, minus the newlines and tabs that printed output keeps.
_UNSAFE_IN_OUTPUT = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_INVISIBLE}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _utf8(text: str) -> str:
    """Text that encodes as UTF-8 (a script can print lone surrogates)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def clean_error(text: str) -> str:
    """An error message as one line of printable text."""
    return _ANY_UNSAFE.sub(_escape, _utf8(text))


def clean_output(text: str) -> str:
    """Printed output: lines and tabs kept, every other control character escaped."""
    return _UNSAFE_IN_OUTPUT.sub(_escape, _utf8(text))
