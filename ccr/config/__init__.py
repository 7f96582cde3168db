"""ccr's configuration: CCR-compatible JSON5 files loaded into immutable, validated objects.

Names are imported on first use (PEP 562), so a command that needs only ``ccr_home`` or the
``$VAR`` resolver does not load the validator, JSON5 and the writer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Eager: the submodule of the same name would otherwise shadow the function once imported.
from ccr.config.redact import redact

_WHERE = {
    "load_config": "load", "parse_config": "load", "substitute_env": "load",
    "ROUTE_SLOTS": "model", "Config": "model", "Provider": "model", "RouterConfig": "model",
    "TransformerEntry": "model",
    "ccr_home": "paths", "default_config_path": "paths",
    "REDACTED": "redact", "is_secret_key": "redact",
    "redact_text": "redact", "script_view": "redact",
    "LOG_LEVELS": "validate", "InvalidConfig": "validate", "build_config": "validate",
    "is_loopback_host": "validate",
    "Written": "write", "backup_config": "write", "has_comments": "write",
    "list_backups": "write", "read_config_data": "write", "validate_config_data": "write",
    "write_config": "write", "write_text_atomic": "write",
}

__all__ = [
    "LOG_LEVELS",
    "REDACTED",
    "ROUTE_SLOTS",
    "Config",
    "InvalidConfig",
    "Provider",
    "RouterConfig",
    "TransformerEntry",
    "Written",
    "backup_config",
    "build_config",
    "ccr_home",
    "default_config_path",
    "has_comments",
    "is_loopback_host",
    "is_secret_key",
    "list_backups",
    "load_config",
    "parse_config",
    "read_config_data",
    "redact",
    "redact_text",
    "script_view",
    "substitute_env",
    "validate_config_data",
    "write_config",
    "write_text_atomic",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ccr.config' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ccr.config.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from ccr.config.load import load_config, parse_config, substitute_env
    from ccr.config.model import ROUTE_SLOTS, Config, Provider, RouterConfig, TransformerEntry
    from ccr.config.paths import ccr_home, default_config_path
    from ccr.config.redact import REDACTED, is_secret_key, redact_text, script_view
    from ccr.config.validate import LOG_LEVELS, InvalidConfig, build_config, is_loopback_host
    from ccr.config.write import (
        Written,
        backup_config,
        has_comments,
        list_backups,
        read_config_data,
        validate_config_data,
        write_config,
        write_text_atomic,
    )
