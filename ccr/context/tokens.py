"""Token counts for Anthropic Messages requests, used for routing and for ``usage`` numbers.

Counts use tiktoken's ``cl100k_base`` loaded from the copy shipped with ccr (never downloaded).
Claude Code resends ~17K tokens of system prompt and tools on every turn, so counts are cached
per piece of text by the string's hash: a later turn only encodes what is new, and a large
batch of new text is encoded off the event loop (:meth:`TokenCounter.acount_request`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import hashlib
import json
import math
import os
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import tiktoken

from ccr.config.paths import ccr_home_str
from ccr.context.ranks_cache import cache_path, read_ranks, write_ranks
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
    """The cl100k_base encoding, built once per process from the file shipped in the package.

    Its decoded ranks are cached (see :mod:`ccr.context.ranks_cache`): decoding the file takes
    longer than the rest of a ``ccr route --dry-run``."""
    cache = ranks_cache_file()
    ranks = read_ranks(cache) if cache is not None else None
    if ranks is not None:
        try:
            return _encoding(ranks)
        except (TypeError, ValueError, OverflowError):
            pass  # not a table of bytes to ranks: decoded again and rewritten below
    from importlib import resources  # only here: it imports tempfile and shutil

    resource = resources.files(__package__).joinpath("data", ENCODING_FILE)
    try:
        contents = resource.read_bytes()
    except OSError as exc:
        raise TokenizerDataError(
            f"cannot read the tokeniser file {resource}: {exc}; reinstall ccr"
        ) from exc
    ranks = _ranks_from_bytes(contents, source=str(resource))
    encoding = _encoding(ranks)
    if cache is not None:
        write_ranks(cache, ranks)
    return encoding


def ranks_cache_file() -> str | None:
    """Where the decoded ranks are cached: ``$TIKTOKEN_CACHE_DIR`` when set (empty turns the
    cache off, as in tiktoken), else ``<CCR_HOME>/cache``."""
    folder = os.environ.get("TIKTOKEN_CACHE_DIR")
    if folder is None:
        folder = os.path.join(ccr_home_str(), "cache")
    return cache_path(folder, ENCODING_NAME, ENCODING_SHA256) if folder else None


def _encoding_from_bytes(contents: bytes, *, source: str) -> tiktoken.Encoding:
    return _encoding(_ranks_from_bytes(contents, source=source))


def _ranks_from_bytes(contents: bytes, *, source: str) -> dict[bytes, int]:
    """The ``{token bytes: rank}`` table of a ``.tiktoken`` file, checked against its sha256."""
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
    return ranks


def _encoding(ranks: dict[bytes, int]) -> tiktoken.Encoding:
    encoding = tiktoken.Encoding(
        name=ENCODING_NAME,
        pat_str=_CL100K_PAT_STR,
        mergeable_ranks=ranks,
        special_tokens=dict(_CL100K_SPECIAL_TOKENS),
    )
    # The tokeniser (Rust) has its own copy; tiktoken keeps the Python dict only to pickle the
    # encoding, which ccr never does. Its 100K entries would cost ~15 MiB per process and make
    # every full garbage collection 3x longer (a pause every open stream feels).
    encoding._mergeable_ranks = {}
    return encoding


def count_text(text: str) -> int:
    """Tokens in ``text`` with cl100k_base; special-token markers count as plain text."""
    return len(cl100k_encoding().encode_ordinary(text))


#: Uncached text up to this many characters is encoded on the calling thread; more goes to a
#: worker thread (tiktoken releases the GIL), so a cold 700 KB conversation does not stall
#: every other open stream for the 50-150 ms it takes to encode.
INLINE_CHARS = 8_000
#: How much lower the encoding thread's CPU priority is than the serving thread's.
ENCODER_NICE = 10


@functools.cache
def _encoder() -> ThreadPoolExecutor:
    """The one thread large counts are encoded on, at a lower CPU priority: several cold
    requests at once queue there instead of taking every core from the event loop."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccr-tokens",
                              initializer=_lower_priority)


def _lower_priority() -> None:
    """Nice this thread (Linux schedules threads individually), so the serving thread wins."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ENCODER_NICE)


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

    A count is a walk over the request that looks every text up in an LRU cache keyed by the
    string's own hash (computed once per string, at C speed; nothing is re-serialised or
    copied), collecting the texts not seen before; only those are encoded, in one batch. The
    whole ``tools`` list has its own entry, keyed by the hash of its compact JSON bytes, so
    the warm path for it is one orjson call. A growing conversation therefore encodes only its
    new turns, and :meth:`acount_request` encodes a large batch in a worker thread.
    """

    def __init__(
        self,
        *,
        cache_size: int = 4096,
        encoding: Callable[[], tiktoken.Encoding] = cl100k_encoding,
    ) -> None:
        self._encoding = encoding
        self._cache = _LRU(cache_size)
        #: The body :meth:`acount_request` counted last, and its count: the synchronous
        #: :meth:`count_request` that routing runs next on the same object uses it (once).
        self._last: tuple[Any, int] | None = None

    # -- public ---------------------------------------------------------------------------

    def count_text(self, text: str) -> int:
        """Tokens in ``text``, from the cache when the same text was counted before."""
        if not text:
            return 0
        plan = _Plan()
        self._text(text, plan)
        return self._resolve(plan, self._encode_all(plan))

    def count_request(self, body: Mapping[str, Any]) -> int:
        """Input tokens of a Messages request: system, messages and tool definitions."""
        last = self._last
        if last is not None and last[0] is body:
            self._last = None
            return last[1]
        plans = self._plan_request(body)
        return self._finish_request(plans, self._encode_all(*plans))

    async def acount_request(self, body: Mapping[str, Any], *,
                             inline_chars: int = INLINE_CHARS) -> int:
        """:meth:`count_request` for the event loop: when more than ``inline_chars`` of text
        are not cached, they are encoded in a worker thread while other requests go on."""
        plans = self._plan_request(body)
        if sum(plan.missing_chars for plan in plans) <= inline_chars:
            counts = self._encode_all(*plans)
        else:
            counts = await asyncio.get_running_loop().run_in_executor(
                _encoder(), self._encode_all, *plans)
        total = self._finish_request(plans, counts)
        self._last = (body, total)
        return total

    def count_system(self, system: Any) -> int:
        """Tokens of a ``system`` prompt given as a string or a list of text blocks."""
        return self.count_content(system)

    def count_content(self, content: Any) -> int:
        """Tokens of message content: a string or a list of content blocks."""
        plan = _Plan()
        self._content(content, plan)
        return self._resolve(plan, self._encode_all(plan))

    def count_tools(self, tools: Any) -> int:
        """Tokens of the ``tools`` definitions; an identical list is one cache lookup."""
        plan = _Plan()
        key = self._tools(tools, plan)
        total = self._resolve(plan, self._encode_all(plan))
        if key is not None:
            self._cache.set(key, total)
        return total

    # -- planning: cached counts are added up, the other texts collected ----------------------

    def _plan_request(self, body: Any) -> tuple[_Plan, _Plan]:
        """Two plans: everything but the tools, and the tools (whose total is cached whole)."""
        plan, tools_plan = _Plan(), _Plan()
        if isinstance(body, Mapping):
            self._content(body.get("system"), plan)
            messages = body.get("messages")
            if isinstance(messages, list):
                for message in messages:
                    if isinstance(message, Mapping):
                        self._content(message.get("content"), plan)
            tools_plan.key = self._tools(body.get("tools"), tools_plan)
        return plan, tools_plan

    def _finish_request(self, plans: tuple[_Plan, _Plan], counts: dict[int, int]) -> int:
        plan, tools_plan = plans
        tools_total = self._resolve(tools_plan, counts)
        if tools_plan.key is not None:
            self._cache.set(tools_plan.key, tools_total)
        return self._resolve(plan, counts) + tools_total

    def _text(self, text: str, plan: _Plan) -> None:
        if not text:
            return
        key = hash(text)
        cached = self._cache.get(key)
        if cached is not None:
            plan.counted += cached
        else:
            plan.miss(key, text)

    def _str(self, value: Any, plan: _Plan) -> None:
        if isinstance(value, str):
            self._text(value, plan)

    def _json(self, value: Any, plan: _Plan) -> None:
        """``value`` as the JSON a model would see (non-ASCII kept as is), keyed by its compact
        orjson bytes so a cached value is never dumped by the (slower) stdlib."""
        try:
            key = hash((b"J", codec.dumps(value)))
        except (TypeError, ValueError):
            return
        cached = self._cache.get(key)
        if cached is not None:
            plan.counted += cached
            return
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            return
        plan.miss(key, text)

    def _content(self, content: Any, plan: _Plan) -> None:
        if isinstance(content, str):
            self._text(content, plan)
        elif isinstance(content, list):
            for block in content:
                self._block(block, plan)

    def _tools(self, tools: Any, plan: _Plan) -> Any:
        """Plan the tool definitions; returns the whole list's cache key when it has one."""
        if not isinstance(tools, list) or not tools:
            return None
        try:
            key: Any = ("T", hash(codec.dumps(tools)))
        except (TypeError, ValueError):
            key = None
        if key is not None:
            cached = self._cache.get(key)
            if cached is not None:
                plan.counted += cached
                return None
        for tool in tools:
            self._tool(tool, plan)
        return key

    # -- blocks ---------------------------------------------------------------------------

    def _block(self, block: Any, plan: _Plan) -> None:
        if isinstance(block, str):
            self._text(block, plan)
            return
        if not isinstance(block, Mapping):
            return
        kind = block.get("type")
        if kind == "text":
            self._str(block.get("text"), plan)
        elif kind == "thinking":
            self._str(block.get("thinking"), plan)
        elif kind == "redacted_thinking":
            self._str(block.get("data"), plan)
        elif kind in ("tool_use", "server_tool_use"):
            self._str(block.get("name"), plan)
            self._json(block.get("input", {}), plan)
        elif kind == "tool_result":
            self._content(block.get("content"), plan)
        elif kind == "image":
            source = block.get("source")
            plan.counted += estimate_image_tokens(source if isinstance(source, Mapping) else {})
        elif kind == "document":
            self._document(block, plan)
        elif kind == "search_result":
            self._str(block.get("title"), plan)
            self._str(block.get("source"), plan)
            self._content(block.get("content"), plan)
        else:
            self._json(block, plan)

    def _document(self, block: Mapping[str, Any], plan: _Plan) -> None:
        self._str(block.get("title"), plan)
        self._str(block.get("context"), plan)
        source = block.get("source")
        if isinstance(source, Mapping):
            if source.get("type") == "text":
                self._str(source.get("data"), plan)
            elif source.get("type") == "content":
                self._content(source.get("content"), plan)

    def _tool(self, tool: Any, plan: _Plan) -> None:
        if not isinstance(tool, Mapping):
            return
        kind = tool.get("type")
        if kind not in (None, "custom"):
            self._json(tool, plan)
            return
        self._str(tool.get("name"), plan)
        self._str(tool.get("description"), plan)
        self._json(tool.get("input_schema", {}), plan)

    # -- encoding -------------------------------------------------------------------------

    def _encode_all(self, *plans: _Plan) -> dict[int, int]:
        """Encode every missing text of ``plans`` once (safe in a worker thread)."""
        encoding = self._encoding()
        counts: dict[int, int] = {}
        for plan in plans:
            for key, text in plan.texts.items():
                if key not in counts:
                    counts[key] = len(encoding.encode_ordinary(text))
        return counts

    def _resolve(self, plan: _Plan, counts: dict[int, int]) -> int:
        """The plan's total, caching the counts just encoded."""
        total = plan.counted
        for key, times in plan.times.items():
            count = counts[key]
            self._cache.set(key, count)
            total += count * times
        return total


class _Plan:
    """One walk's result: tokens found in the cache, and the texts still to encode (each
    once, with how many times it occurs)."""

    __slots__ = ("counted", "key", "missing_chars", "texts", "times")

    def __init__(self) -> None:
        self.counted = 0
        self.texts: dict[int, str] = {}
        self.times: dict[int, int] = {}
        self.missing_chars = 0
        self.key: Any = None

    def miss(self, key: Any, text: str) -> None:
        times = self.times.get(key)
        if times is None:
            self.texts[key] = text
            self.times[key] = 1
            self.missing_chars += len(text)
        else:
            self.times[key] = times + 1


class _LRU:
    """A least-recently-used map on :class:`collections.OrderedDict` (C code throughout; a
    count's warm path is one lookup per text). Each operation holds a lock, so counts may run
    in several threads."""

    __slots__ = ("_data", "_lock", "_maxsize")

    def __init__(self, maxsize: int) -> None:
        self._data: OrderedDict[Any, int] = OrderedDict()
        self._maxsize = max(1, maxsize)
        self._lock = threading.Lock()

    def get(self, key: Any) -> int | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def set(self, key: Any, value: int) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            if len(self._data) > self._maxsize:
                self._data.popitem(last=False)


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

