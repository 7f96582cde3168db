"""Transformers: one catalog of built-in and user transformers, and the chains built from it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ccr.config.model import Config

__all__ = ["check_chains"]


def check_chains(config: Config) -> None:
    """Fail with ConfigError as the server's load would on an unknown transformer name or bad
    options (a ``check`` for :func:`ccr.config.write_config`). Imports the catalog only here."""
    from ccr.transformers.chain import build_chains

    build_chains(config)
