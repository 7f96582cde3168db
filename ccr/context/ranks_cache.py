"""The tokeniser's decoded ranks, kept on disk in a form that loads in C.

Building cl100k_base from the shipped ``.tiktoken`` file means base64-decoding 100K lines in
Python, which costs more than everything else a ``ccr route --dry-run`` does. The decoded
``{token bytes: rank}`` table is written once (``marshal``, the format ``.pyc`` files use) and
read back by later processes. A cache file is named after the shipped file's sha256 and the
interpreter, carries the sha256 of its own payload, and is written atomically; one that does
not check out is ignored (and then rewritten), never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys

#: First bytes of a cache file; a new layout gets a new magic.
MAGIC = b"ccr-bpe-ranks 1\n"
_DIGEST_SIZE = hashlib.sha256().digest_size


def cache_path(folder: str, name: str, source_sha256: str) -> str:
    """Where the ranks decoded from a file with ``source_sha256`` are cached for this
    interpreter (``marshal``'s format may change between Python versions)."""
    tag = sys.implementation.cache_tag or sys.implementation.name
    return os.path.join(folder, f"{name}.{source_sha256[:16]}.{tag}.ranks")


def read_ranks(path: str) -> dict[bytes, int] | None:
    """The ranks cached at ``path``; None when the file is missing, truncated or altered."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError:
        return None
    start = len(MAGIC) + _DIGEST_SIZE
    if len(data) <= start or not data.startswith(MAGIC):
        return None
    payload = memoryview(data)[start:]
    if hashlib.sha256(payload).digest() != data[len(MAGIC):start]:
        return None
    try:
        ranks = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    return ranks if isinstance(ranks, dict) else None


def write_ranks(path: str, ranks: dict[bytes, int]) -> bool:
    """Write ``ranks`` to ``path`` through a temporary file and a rename, so a reader sees the
    old file or the whole new one; False when the folder cannot be written (no cache then)."""
    import tempfile  # only here: readers do without it

    payload = marshal.dumps(ranks)
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".ranks-", suffix=".tmp", dir=folder)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(MAGIC)
            file.write(hashlib.sha256(payload).digest())
            file.write(payload)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return False
    return True
