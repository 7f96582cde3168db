"""Token counts for Anthropic Messages requests, used for routing and for ``usage`` numbers.

Counts use tiktoken's ``cl100k_base`` loaded from the copy shipped with ccr (never downloaded).
Claude Code resends ~17K tokens of system prompt and tools on every turn, so counts are cached
per content block by a hash of the block's text: a later turn only encodes what is new.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import math
import struct
import threading
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import tiktoken
from cachetools import LRUCache

from ccr.errors import CcrError
from ccr.protocol import codec

ENCODING_NAME = "cl100k_base"
ENCODING_FILE = "cl100k_base.tiktoken"
ENCODING_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"

#: cl100k_base's pre-tokeniser, as tiktoken defines it.
_CL100K_PAT_STR = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_CL100K_SPECIAL_TOKENS = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}

#: Anthropic's estimate for an image whose size cannot be read (and the cap for any image).
DEFAULT_IMAGE_TOKENS = 1600
#: Anthropic scales images down so the long edge is at most this many pixels.
_IMAGE_MAX_EDGE = 1568
#: Sanity bound on dimensions read from a header; anything larger is treated as unreadable.
_IMAGE_MAX_DIMENSION = 100_000


class TokenizerDataError(CcrError, RuntimeError):
    """The shipped tokeniser file is missing or corrupt; reinstalling ccr fixes it."""


@functools.cache
def cl100k_encoding() -> tiktoken.Encoding:
    """The cl100k_base encoding, built once per process from the file shipped in the package."""
    resource = resources.files(__package__).joinpath("data", ENCODING_FILE)
    try:
        contents = resource.read_bytes()
    except OSError as exc:
        raise TokenizerDataError(
            f"cannot read the tokeniser file {resource}: {exc}; reinstall ccr"
        ) from exc
    return _encoding_from_bytes(contents, source=str(resource))


def _encoding_from_bytes(contents: bytes, *, source: str) -> tiktoken.Encoding:
    actual = hashlib.sha256(contents).hexdigest()
    if actual != ENCODING_SHA256:
        raise TokenizerDataError(
            f"the tokeniser file {source} is corrupt: sha256 is {actual}, expected "
            f"{ENCODING_SHA256}; reinstall ccr"
        )
    ranks: dict[bytes, int] = {}
    for line in contents.splitlines():
        if not line:
            continue
        token, rank = line.split()
        ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(
        name=ENCODING_NAME,
        pat_str=_CL100K_PAT_STR,
        mergeable_ranks=ranks,
        special_tokens=dict(_CL100K_SPECIAL_TOKENS),
    )


def count_text(text: str) -> int:
    """Tokens in ``text`` with cl100k_base; special-token markers count as plain text."""
    return len(cl100k_encoding().encode_ordinary(text))


class TokenCounter:
    """Counts the input tokens of Anthropic Messages requests, caching each piece of text.

    What counts, per block: ``text``; ``thinking`` (the signature is opaque and not counted);
    ``redacted_thinking`` data; ``tool_use`` / ``server_tool_use`` name + JSON of ``input``;
    ``tool_result`` content (string or blocks, recursively); ``document`` title, context and
    text source (a base64 PDF or URL document is not estimated); ``search_result`` title,
    source and content; an image by :func:`estimate_image_tokens`; any other block by its JSON.
    Tool definitions count name + description + JSON of ``input_schema``; server tools
    (those with a ``type`` such as ``web_search_20250305``) count their JSON.
    No per-message overhead is added, so string and block content count the same.

    The cache maps a blake2b digest of each text to its count; the whole ``tools`` list has
    its own entry so the warm path for it is one JSON dump and one hash. One lock keeps the
    cache consistent when counts run in worker threads; encoding happens outside it.
    """

    def __init__(
        self,
        *,
        cache_size: int = 4096,
        encoding: Callable[[], tiktoken.Encoding] = cl100k_encoding,
    ) -> None:
        self._encoding = encoding
        self._cache: LRUCache[bytes, int] = LRUCache(maxsize=cache_size)
        self._lock = threading.Lock()

    # -- public ---------------------------------------------------------------------------

    def count_text(self, text: str) -> int:
        """Tokens in ``text``, from the cache when the same text was counted before."""
        if not text:
            return 0
        key = _digest(b"t", text)
        cached = self._cache_get(key)
        if cached is not None:
            return cached
        count = len(self._encoding().encode_ordinary(text))
        self._cache_set(key, count)
        return count

    def count_request(self, body: Mapping[str, Any]) -> int:
        """Input tokens of a Messages request: system, messages and tool definitions."""
        if not isinstance(body, Mapping):
            return 0
        total = self.count_system(body.get("system"))
        messages = body.get("messages")
        if isinstance(messages, list):
            for message in messages:
                if isinstance(message, Mapping):
                    total += self.count_content(message.get("content"))
        total += self.count_tools(body.get("tools"))
        return total

    def count_system(self, system: Any) -> int:
        """Tokens of a ``system`` prompt given as a string or a list of text blocks."""
        return self.count_content(system)

    def count_content(self, content: Any) -> int:
        """Tokens of message content: a string or a list of content blocks."""
        if isinstance(content, str):
            return self.count_text(content)
        if not isinstance(content, list):
            return 0
        return sum(self._count_block(block) for block in content)

    def count_tools(self, tools: Any) -> int:
        """Tokens of the ``tools`` definitions; an identical list is one cache lookup."""
        if not isinstance(tools, list) or not tools:
            return 0
        serialised = _dumps_for_key(tools)
        if serialised is None:
            return sum(self._count_tool(tool) for tool in tools)
        key = hashlib.blake2b(b"T" + serialised, digest_size=16).digest()
        cached = self._cache_get(key)
        if cached is not None:
            return cached
        count = sum(self._count_tool(tool) for tool in tools)
        self._cache_set(key, count)
        return count

    # -- blocks ---------------------------------------------------------------------------

    def _count_block(self, block: Any) -> int:
        if isinstance(block, str):
            return self.count_text(block)
        if not isinstance(block, Mapping):
            return 0
        kind = block.get("type")
        if kind == "text":
            return self._count_str(block.get("text"))
        if kind == "thinking":
            return self._count_str(block.get("thinking"))
        if kind == "redacted_thinking":
            return self._count_str(block.get("data"))
        if kind in ("tool_use", "server_tool_use"):
            return self._count_str(block.get("name")) + self._count_json(block.get("input", {}))
        if kind == "tool_result":
            return self.count_content(block.get("content"))
        if kind == "image":
            source = block.get("source")
            return estimate_image_tokens(source if isinstance(source, Mapping) else {})
        if kind == "document":
            return self._count_document(block)
        if kind == "search_result":
            return (
                self._count_str(block.get("title"))
                + self._count_str(block.get("source"))
                + self.count_content(block.get("content"))
            )
        return self._count_json(block)

    def _count_document(self, block: Mapping[str, Any]) -> int:
        total = self._count_str(block.get("title")) + self._count_str(block.get("context"))
        source = block.get("source")
        if isinstance(source, Mapping):
            if source.get("type") == "text":
                total += self._count_str(source.get("data"))
            elif source.get("type") == "content":
                total += self.count_content(source.get("content"))
        return total

    def _count_tool(self, tool: Any) -> int:
        if not isinstance(tool, Mapping):
            return 0
        kind = tool.get("type")
        if kind not in (None, "custom"):
            return self._count_json(tool)
        return (
            self._count_str(tool.get("name"))
            + self._count_str(tool.get("description"))
            + self._count_json(tool.get("input_schema", {}))
        )

    def _count_str(self, value: Any) -> int:
        return self.count_text(value) if isinstance(value, str) else 0

    def _count_json(self, value: Any) -> int:
        """Tokens of ``value`` as the JSON a model would see (non-ASCII kept as is)."""
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            return 0
        return self.count_text(text)

    # -- cache ----------------------------------------------------------------------------

    def _cache_get(self, key: bytes) -> int | None:
        with self._lock:
            return self._cache.get(key)

    def _cache_set(self, key: bytes, count: int) -> None:
        with self._lock:
            self._cache[key] = count


def _digest(kind: bytes, text: str) -> bytes:
    """Cache key for ``text``; ``kind`` keeps texts apart from serialised structures."""
    digest = hashlib.blake2b(kind, digest_size=16)
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.digest()


def _dumps_for_key(value: Any) -> bytes | None:
    """Fast JSON used only as a cache key."""
    try:
        return codec.dumps(value)
    except (TypeError, ValueError):
        return None


# -- images -------------------------------------------------------------------------------


def estimate_image_tokens(source: Mapping[str, Any]) -> int:
    """Anthropic's image estimate: ``width * height / 750`` tokens, at most 1600.

    The long edge is first scaled down to 1568 px as Anthropic does. The size is read from the
    header of a base64 PNG, JPEG, GIF or WebP (only the few bytes needed are decoded); a URL,
    file reference or unreadable image counts a flat 1600 tokens.
    """
    size = None
    if source.get("type") == "base64":
        data = source.get("data")
        if isinstance(data, str):
            size = image_size(data)
    if size is None:
        return DEFAULT_IMAGE_TOKENS
    width, height = size
    scale = min(1.0, _IMAGE_MAX_EDGE / max(width, height))
    pixels = (width * scale) * (height * scale)
    return max(1, min(DEFAULT_IMAGE_TOKENS, math.ceil(pixels / 750)))


def image_size(data: str) -> tuple[int, int] | None:
    """``(width, height)`` of a base64 PNG, JPEG, GIF or WebP, or None when unreadable."""
    if data.startswith("data:"):
        data = data.partition(",")[2]
    reader = _Base64Reader(data)
    try:
        head = reader.read(0, 30)
        size = _header_size(head, reader)
    except (binascii.Error, ValueError, struct.error):
        return None
    if size is None:
        return None
    width, height = size
    if not (0 < width <= _IMAGE_MAX_DIMENSION and 0 < height <= _IMAGE_MAX_DIMENSION):
        return None
    return size


def _header_size(head: bytes, reader: _Base64Reader) -> tuple[int, int] | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return width, height
    if head[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", head[6:10])
        return width, height
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _webp_size(head)
    if head[:2] == b"\xff\xd8":
        return _jpeg_size(reader)
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and head[20:21] == b"\x2f":
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
        return width, height
    return None


#: JPEG start-of-frame markers, the segments that carry the image size.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_MAX_SEGMENTS = 256


def _jpeg_size(reader: _Base64Reader) -> tuple[int, int] | None:
    """Walk the JPEG segments to the start-of-frame, decoding only each segment header."""
    offset = 2
    for _ in range(_JPEG_MAX_SEGMENTS):
        header = reader.read(offset, 9)
        if len(header) < 4 or header[0] != 0xFF:
            return None
        marker = header[1]
        if marker == 0xFF:  # fill byte before a marker
            offset += 1
            continue
        if marker in _JPEG_SOF:
            if len(header) < 9:
                return None
            height, width = struct.unpack(">HH", header[5:9])
            return width, height
        if marker in (0xD9, 0xDA):  # end of image / start of scan: no frame seen
            return None
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            offset += 2
            continue
        (length,) = struct.unpack(">H", header[2:4])
        offset += 2 + length
    return None


class _Base64Reader:
    """Random access to the bytes of a base64 string, decoding only the 4-char groups needed."""

    def __init__(self, data: str) -> None:
        self._data = data

    def read(self, offset: int, size: int) -> bytes:
        first_group = offset // 3
        last_group = -(-(offset + size) // 3)
        chunk = self._data[first_group * 4 : last_group * 4]
        decoded = base64.b64decode(chunk)
        start = offset - first_group * 3
        return decoded[start : start + size]

