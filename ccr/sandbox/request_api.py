"""``req`` as a router script sees it: the request's fields plus read-only helpers that know
Claude Code's message layout (``req.prompt``, ``req.is_subagent``, ``req.now``, ...).

The helpers run inside the worker, and only when a script reads them, so a script that does
not use them costs the server nothing; each is computed at most once per call. They read the
body through the lazy view, so ``req.prompt`` fetches ``messages`` (and ``req.cwd`` fetches
``system``) from the server only when asked.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ccr.protocol import claude_code as cc
from ccr.sandbox import views
from ccr.sandbox.views import ReadOnlyDict

#: The helpers, in the order the documentation lists them.
HELPERS = (
    "prompt", "first_prompt", "is_tool_result", "is_subagent", "subagent_type",
    "is_background", "requested_model", "explicit_route", "thinking", "thinking_budget",
    "has_images", "tool_names", "has_web_search", "message_count", "cwd", "now",
)


class _RawBody(Mapping[str, Any]):
    """The body's plain data, field by field (pending fields fetched as they are read)."""

    __slots__ = ("_view",)

    def __init__(self, view: ReadOnlyDict) -> None:
        self._view = view

    def __getitem__(self, key: str) -> Any:
        return self._view._value(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self._view._value(key) if key in self._view else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._view)

    def __len__(self) -> int:
        return len(self._view)


class Request(views.Request):
    """``req``: the fields the server sent, and the helpers below as read-only properties."""

    __slots__ = ("_memo",)

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self._memo: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError as exc:
            if name.startswith("_"):
                raise
            known = ", ".join(sorted({*self._data, *HELPERS}))
            raise AttributeError(f"req has no field {name!r} (fields: {known})") from exc

    def _once(self, name: str, compute: Callable[[Mapping[str, Any]], Any]) -> Any:
        if name not in self._memo:
            self._memo[name] = compute(self._body())
        return self._memo[name]

    def _body(self) -> Mapping[str, Any]:
        body = self._data.get("body")
        if isinstance(body, ReadOnlyDict):
            return _RawBody(body)
        return body if isinstance(body, dict) else {}

    def _headers(self) -> Mapping[str, str]:
        headers = self._data.get("headers")
        return headers if isinstance(headers, dict) else {}

    # -- the person's words ---------------------------------------------------------------

    @property
    def prompt(self) -> str:
        """What the person typed in the latest human turn (the task's prompt on a tool-result
        turn; a subagent's task), without reminders and injected context."""
        return str(self._once("prompt", cc.prompt))

    @property
    def first_prompt(self) -> str:
        """The first prompt of the conversation."""
        return str(self._once("first_prompt", cc.first_prompt))

    @property
    def is_tool_result(self) -> bool:
        """The latest user turn hands back tool results: the model is in the middle of a task."""
        return bool(self._once("is_tool_result", cc.is_tool_result))

    # -- who asks -------------------------------------------------------------------------

    @property
    def is_subagent(self) -> bool:
        """A Claude Code subagent (Agent/Task tool) sent this request."""
        return bool(self._once("is_subagent", lambda b: cc.is_subagent(b, self._headers())))

    @property
    def subagent_type(self) -> str | None:
        """``general-purpose``, ``Explore``, ``Plan``... for Claude Code's own agents, else None."""
        value = self._once("subagent_type", lambda b: cc.subagent_type(b, self._headers()))
        return value if isinstance(value, str) else None

    @property
    def is_background(self) -> bool:
        """The request asks for Claude Code's small fast model (a Haiku model)."""
        return bool(self._once("is_background", cc.is_background))

    @property
    def requested_model(self) -> str | None:
        """The ``model`` the client asked for."""
        value = self._once("requested_model", cc.requested_model)
        return value if isinstance(value, str) else None

    @property
    def explicit_route(self) -> str | None:
        """``provider,model`` chosen with Claude Code's ``/model``, else None."""
        value = self._once("explicit_route", cc.explicit_route)
        return value if isinstance(value, str) else None

    @property
    def thinking(self) -> str | None:
        """``"adaptive"``, ``"enabled"`` or None (no thinking, or disabled)."""
        value = self._once("thinking", cc.thinking)
        return value if isinstance(value, str) else None

    @property
    def thinking_budget(self) -> int | None:
        """The thinking budget in tokens when thinking is ``"enabled"``, else None."""
        value = self._once("thinking_budget", cc.thinking_budget)
        return value if isinstance(value, int) else None

    # -- what it carries --------------------------------------------------------------------

    @property
    def has_images(self) -> bool:
        return bool(self._once("has_images", cc.has_images))

    @property
    def tool_names(self) -> tuple[str, ...]:
        """The names of the tools offered, in order (a tuple)."""
        value = self._once("tool_names", cc.tool_names)
        return value if isinstance(value, tuple) else ()

    @property
    def has_web_search(self) -> bool:
        """The request offers the server-side web search tool."""
        return bool(self._once("has_web_search", cc.has_web_search))

    @property
    def message_count(self) -> int:
        return int(self._once("message_count", cc.message_count))

    # -- where and when ---------------------------------------------------------------------

    @property
    def cwd(self) -> str | None:
        """The working directory Claude Code states in its system prompt."""
        value = self._once("cwd", cc.cwd)
        return value if isinstance(value, str) else None

    @property
    def now(self) -> datetime.datetime:
        """The current local time, timezone-aware, as the server (or a dry run's ``--now``)
        gives it: the only clock a script should use."""
        if "now" not in self._memo:
            self._memo["now"] = _parse_now(self._data.get("now"))
        value: datetime.datetime = self._memo["now"]
        return value


def _parse_now(value: Any) -> datetime.datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo is not None else parsed.astimezone()
    return datetime.datetime.now().astimezone()
