"""Read a CCR-style config file: JSON5 text, then ``$VAR`` substitution, then validation.

Configs written for the Node.js claude-code-router load unchanged; a missing default config
file means "run on defaults" so a fresh install still starts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import json5

from ccr.config.env import substitute
from ccr.config.model import Config
from ccr.config.paths import default_config_path
from ccr.config.validate import InvalidConfig, build_config
from ccr.errors import ConfigError

_JSON5_LOCATION = re.compile(r"^<string>:(\d+)\s*")


def substitute_env(value: Any, env: Mapping[str, str], path: str = "") -> Any:
    """A copy of ``value`` with ``$VAR`` and ``${VAR}`` replaced in every string (keys untouched).

    ``$$`` is a literal ``$`` and a ``$`` not followed by a name stays as written. Raises a
    :class:`ConfigError` naming each unset variable and the key path where it is used.
    """
    result, problems = substitute(value, env, path)
    if problems:
        raise InvalidConfig(problems)
    return result


def parse_config(data: dict[str, Any], *, env: Mapping[str, str] | None = None,
                 file: str | None = None) -> Config:
    """Substitute and validate an already-parsed config dict (used for reloads and tests)."""
    env = os.environ if env is None else env
    if not isinstance(data, dict):
        raise ConfigError(f"the config must be a JSON object, got {type(data).__name__}",
                          file=file)
    try:
        substituted = substitute_env(data, env)
    except InvalidConfig as exc:
        raise InvalidConfig(exc.problems, file=file) from None
    return build_config(substituted, file=file, home=env.get("HOME"), env=env)


def _read(path: Path) -> Any:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except IsADirectoryError:
        raise ConfigError("is a directory, not a config file", file=file) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"is not UTF-8 text ({exc.reason} at byte {exc.start})",
                          file=file) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot read the config file: {reason}", file=file) from None
    if not text.strip():
        raise ConfigError("the file is empty; write {} to run on defaults", file=file)
    try:
        return json5.loads(text)
    except (ValueError, RecursionError) as exc:
        detail = _JSON5_LOCATION.sub(lambda m: f"line {m.group(1)}: ", str(exc))
        raise ConfigError(f"not valid JSON5: {detail}", file=file) from None


def load_config(path: Path | str | None = None, *,
                env: Mapping[str, str] | None = None) -> Config:
    """Load the config at ``path``, or at the default location when ``path`` is None.

    A missing explicit file is an error; a missing default file gives ``Config()`` on defaults.
    """
    explicit = path is not None
    config_path = Path(path).expanduser() if path is not None else default_config_path()
    if not config_path.exists():
        if explicit:
            raise ConfigError(f"config file not found: {config_path}")
        return Config()
    return parse_config(_read(config_path), env=env, file=str(config_path))
