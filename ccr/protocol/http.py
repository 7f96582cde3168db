"""The upstream HTTP call in ccr's own terms, prepared by endpoint transformers and sent by the
engine's upstream client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class HttpRequest:
    """The upstream call an endpoint transformer prepares."""

    url: str
    headers: dict[str, str]
    body: dict[str, Any]
