"""Matching streamed tool-call fragments to the call they continue, shared by the transformers
that hold calls back (keyed as :class:`ccr.convert.stream.StreamConverter` keys them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar


class _Keyed(Protocol):
    id: str | None
    index: int | None


C = TypeVar("C", bound=_Keyed)


def find_call(calls: Sequence[C], index: Any, call_id: str | None, name: str | None) -> C | None:
    """The call a fragment continues: by id first, then by index (unless a named fragment
    brings a new id to a used index: a new call), else the latest call for an id-less one."""
    if call_id:
        for call in reversed(calls):
            if call.id == call_id:
                return call
    if isinstance(index, int):
        for call in reversed(calls):
            if call.index == index:
                if call_id and call.id and name:
                    return None  # a new call reusing the index
                return call
        return None
    if call_id is None and calls:
        return calls[-1]
    return None
