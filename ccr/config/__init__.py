"""ccr's configuration: CCR-compatible JSON5 files loaded into immutable, validated objects."""

from ccr.config.load import load_config, parse_config, substitute_env
from ccr.config.model import ROUTE_SLOTS, Config, Provider, RouterConfig
from ccr.config.paths import ccr_home, default_config_path
from ccr.config.redact import REDACTED, is_secret_key, redact, redact_text, script_view
from ccr.config.validate import LOG_LEVELS, InvalidConfig, build_config, is_loopback_host

__all__ = [
    "LOG_LEVELS",
    "REDACTED",
    "ROUTE_SLOTS",
    "Config",
    "InvalidConfig",
    "Provider",
    "RouterConfig",
    "build_config",
    "ccr_home",
    "default_config_path",
    "is_loopback_host",
    "is_secret_key",
    "load_config",
    "parse_config",
    "redact",
    "redact_text",
    "script_view",
    "substitute_env",
]
