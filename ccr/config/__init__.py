"""ccr's configuration: CCR-compatible JSON5 files loaded into immutable, validated objects."""

from ccr.config.load import load_config, parse_config, substitute_env
from ccr.config.model import ROUTE_SLOTS, Config, Provider, RouterConfig
from ccr.config.paths import ccr_home, default_config_path
from ccr.config.redact import REDACTED, is_secret_key, redact, redact_text, script_view
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

__all__ = [
    "LOG_LEVELS",
    "REDACTED",
    "ROUTE_SLOTS",
    "Config",
    "InvalidConfig",
    "Provider",
    "RouterConfig",
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
