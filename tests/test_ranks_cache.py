"""The tokeniser's decoded ranks cache: written once, read back by later processes, and never
trusted when it does not check out (a bad file is ignored, then rewritten)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ccr.context import ranks_cache, tokens
from ccr.context.tokens import cl100k_encoding

SAMPLES = [
    "hello world",
    "def f(x):\n    return x ** 2  # ünïcödé — 日本語\n\n\n",
    "I'm   you'll\t\tWE'VE 12345678 <|endoftext|>",
    "\ud83d lone surrogate",
]


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private cache folder, with the per-process encoding built afresh around the test."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(folder))
    cl100k_encoding.cache_clear()
    yield folder
    cl100k_encoding.cache_clear()


def cache_file() -> Path:
    found = tokens.ranks_cache_file()
    assert found is not None
    return Path(found)


def reference_ids() -> list[list[int]]:
    """The ids of :data:`SAMPLES` from an encoding decoded straight from the shipped file."""
    data = (Path(tokens.__file__).parent / "data" / tokens.ENCODING_FILE).read_bytes()
    encoding = tokens._encoding_from_bytes(data, source="shipped")
    return [encoding.encode_ordinary(s) for s in SAMPLES]


def forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def decode(*_args: object, **_kwargs: object) -> dict[bytes, int]:
        raise AssertionError("the shipped file was decoded although the cache is valid")

    monkeypatch.setattr(tokens, "_ranks_from_bytes", decode)


def test_the_first_encoding_writes_the_cache_named_after_the_file_and_interpreter(
    cache_dir: Path,
) -> None:
    cl100k_encoding()
    written = list(cache_dir.iterdir())
    assert written == [cache_file()]
    name = written[0].name
    assert name.startswith(f"cl100k_base.{tokens.ENCODING_SHA256[:16]}.")
    assert name.endswith(".ranks")


def test_a_later_process_builds_the_encoding_from_the_cache_with_the_same_ids(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = reference_ids()
    cl100k_encoding()
    cl100k_encoding.cache_clear()
    forbid_decoding(monkeypatch)
    cached = cl100k_encoding()
    assert [cached.encode_ordinary(s) for s in SAMPLES] == expected


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped byte", "empty"])
def test_a_damaged_cache_is_ignored_and_rewritten(cache_dir: Path, damage: str) -> None:
    cl100k_encoding()
    path = cache_file()
    good = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not a cache at all")
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "flipped byte":
        middle = len(good) // 2
        path.write_bytes(good[:middle] + bytes([good[middle] ^ 0xFF]) + good[middle + 1:])
    else:
        path.write_bytes(b"")
    assert ranks_cache.read_ranks(str(path)) is None
    cl100k_encoding.cache_clear()

    encoding = cl100k_encoding()

    assert [encoding.encode_ordinary(s) for s in SAMPLES] == reference_ids()
    assert path.read_bytes() == good


def test_a_cache_of_the_wrong_shape_is_rewritten(cache_dir: Path) -> None:
    path = Path(tokens.ranks_cache_file() or "")
    assert ranks_cache.write_ranks(str(path), {"not bytes": "not a rank"})  # type: ignore[dict-item]

    encoding = cl100k_encoding()

    assert encoding.encode_ordinary("hello world") == [15339, 1917]
    ranks = ranks_cache.read_ranks(str(path))
    assert ranks is not None and ranks[b"hello"] == 15339


def test_an_unwritable_cache_folder_only_costs_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache folder cannot be created under a file")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(blocker / "cache"))
    cl100k_encoding.cache_clear()
    try:
        assert cl100k_encoding().encode_ordinary("hello world") == [15339, 1917]
    finally:
        cl100k_encoding.cache_clear()
    assert blocker.read_text().startswith("the cache folder")


def test_an_empty_tiktoken_cache_dir_turns_the_cache_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    assert tokens.ranks_cache_file() is None


def test_without_tiktoken_cache_dir_the_cache_is_under_ccr_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.setenv("CCR_HOME", str(tmp_path / "home"))
    assert Path(tokens.ranks_cache_file() or "").parent == tmp_path / "home" / "cache"


def test_writing_leaves_only_the_finished_file(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "x.ranks"
    assert ranks_cache.write_ranks(str(path), {b"a": 0, b"b": 1})
    assert os.listdir(tmp_path / "cache") == ["x.ranks"]
    assert ranks_cache.read_ranks(str(path)) == {b"a": 0, b"b": 1}


def test_a_missing_cache_file_reads_as_none(tmp_path: Path) -> None:
    assert ranks_cache.read_ranks(str(tmp_path / "absent.ranks")) is None
