"""Deep read-only views over the JSON data a router script receives.

Each call parses fresh copies in the worker, so a change could never reach the server; the views
make that contract visible (a clear ``TypeError`` instead of a change silently thrown away) and
let big body fields (``tools``, ``system``, ``messages``) cross the process boundary only when the
script actually reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from types import UnionType
from typing import Any, NoReturn

READ_ONLY_MESSAGE = (
    "req and config are read-only: build a modified copy instead, e.g. dict(x) or list(x)"
)


class _Pending:
    """Marks a body field that has not been fetched from the server yet."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<pending>"


PENDING = _Pending()

Fetch = Callable[[str], Any]


def _refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError(READ_ONLY_MESSAGE)


def wrap(value: Any) -> Any:
    """A read-only view of ``value`` if it is a JSON object or array, else ``value`` itself."""
    cls = type(value)
    if cls is dict:
        return ReadOnlyDict(value)
    if cls is list:
        return ReadOnlyList(value)
    return value


_PLAIN_SCALARS = (str, int, float, bool, type(None))


def same_json(ours: Any, theirs: Any) -> bool:
    """``ours == theirs`` by value, where ``ours`` is data behind a view and ``theirs`` comes
    from a script.

    ``dict.__eq__`` hands the real dict to the other side's ``__eq__`` when it does not know the
    other type, so a script class defining ``__eq__`` would receive the objects behind the
    views. Here a script's own object only ever sees a read-only view (or an immutable scalar).
    """
    theirs = unwrap(theirs)
    kind = type(theirs)
    if kind is dict or kind is list or kind is tuple or kind in _PLAIN_SCALARS:
        if type(ours) is dict:
            return kind is dict and ours.keys() == theirs.keys() and all(
                same_json(value, theirs[key]) for key, value in ours.items())
        if type(ours) is list:
            return kind in (list, tuple) and len(ours) == len(theirs) and all(
                same_json(a, b) for a, b in zip(ours, theirs, strict=True))
        return kind in _PLAIN_SCALARS and bool(ours == theirs)
    # Their __eq__ directly: ``theirs == view`` would come back here when it says NotImplemented.
    answer = theirs.__eq__(wrap(ours))
    return answer is not NotImplemented and bool(answer)


def unwrap(value: Any) -> Any:
    """The plain JSON data behind a view (everything fetched); other values unchanged."""
    if isinstance(value, ReadOnlyDict | ReadOnlyList):
        return value._raw_data()
    return value


class ReadOnlyDict(Mapping[str, Any]):
    """A JSON object seen through ``Mapping``: reads work, every kind of write is refused."""

    __slots__ = ("_data", "_fetch")

    def __init__(self, data: dict[str, Any], fetch: Fetch | None = None) -> None:
        self._data = data
        self._fetch = fetch

    def _value(self, key: str) -> Any:
        value = self._data[key]
        if value is PENDING and self._fetch is not None:
            value = self._data[key] = self._fetch(key)
        return value

    def __getitem__(self, key: str) -> Any:
        return wrap(self._value(key))

    def get(self, key: str, default: Any = None) -> Any:
        if key in self._data:
            return wrap(self._value(key))
        return default

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def _raw_data(self) -> dict[str, Any]:
        """The underlying dict with every pending field fetched (never handed to scripts)."""
        for key in self._data:
            self._value(key)
        return self._data

    def __eq__(self, other: object) -> bool:
        return same_json(self._raw_data(), other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._raw_data())

    __guarded_setitem__ = __guarded_delitem__ = _refuse
    __guarded_setattr__ = __guarded_delattr__ = _refuse
    update = pop = popitem = clear = setdefault = _refuse


class ReadOnlyList(Sequence[Any]):
    """A JSON array seen through ``Sequence``: indexing, slicing and iteration give views."""

    __slots__ = ("_data",)

    def __init__(self, data: list[Any]) -> None:
        self._data = data

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return ReadOnlyList(self._data[index])
        return wrap(self._data[index])

    def __iter__(self) -> Iterator[Any]:
        return map(wrap, self._data)

    def __len__(self) -> int:
        return len(self._data)

    def _raw_data(self) -> list[Any]:
        return self._data

    def __eq__(self, other: object) -> bool:
        return same_json(self._data, other)

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Any) -> list[Any]:
        return list(self) + list(other)

    def __radd__(self, other: Any) -> list[Any]:
        return list(other) + list(self)

    def __repr__(self) -> str:
        return repr(self._data)

    __guarded_setitem__ = __guarded_delitem__ = _refuse
    __guarded_setattr__ = __guarded_delattr__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse


class Request(ReadOnlyDict):
    """``req``: request fields as attributes (``req.body``) as well as items (``req["body"]``)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._data:
            known = ", ".join(sorted(self._data))
            raise AttributeError(f"req has no field {name!r} (fields: {known})")
        return self[name]


def sandbox_isinstance(obj: Any, classinfo: Any) -> bool:
    """``isinstance`` that treats the views as the ``dict``/``list`` they stand for."""
    if isinstance(obj, ReadOnlyDict | ReadOnlyList):
        if isinstance(classinfo, UnionType):
            classinfo = classinfo.__args__
        wanted = classinfo if isinstance(classinfo, tuple) else (classinfo,)
        plain = dict if isinstance(obj, ReadOnlyDict) else list
        if any(c is plain for c in wanted):
            return True
    return isinstance(obj, classinfo)
