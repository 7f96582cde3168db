"""Check a parsed (and ``$VAR``-substituted) config dict and build the immutable :class:`Config`.

Every problem is collected before failing, so one run of ``ccr`` shows the user everything to
fix, each as ``<key path>: <what is wrong and how to fix it>``.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ccr.config import model as defaults
from ccr.config.gateway import GatewaySettings, gateway_problems
from ccr.config.keypath import child_path
from ccr.config.known_keys import unknown_key_warnings
from ccr.config.model import (
    DEFAULT_API_TIMEOUT_MS,
    DEFAULT_HOST,
    DEFAULT_LONG_CONTEXT_THRESHOLD,
    DEFAULT_PORT,
    ROUTE_SLOTS,
    Config,
    Provider,
    RouterConfig,
    TransformerEntry,
)
from ccr.config.proxy import proxy_settings
from ccr.config.records import RecordSettings
from ccr.config.redact import redact_text
from ccr.config.resilience import parse_api_keys, parse_max_concurrency, parse_resilience
from ccr.errors import ConfigError

LOG_LEVELS = ("debug", "info", "warn", "warning", "error", "fatal", "trace")
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")
_EXAMPLE_URL = "https://api.deepseek.com/chat/completions"
_MAX_LISTED = 8
_DIGITS = re.compile(r"\s*[0-9]+\s*\Z")


class InvalidConfig(ConfigError):
    """Every problem found in one config; ``problems`` holds them as ``(key path, message)``."""

    def __init__(self, problems: Sequence[tuple[str, str]], *, file: str | None = None) -> None:
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            key_path, message = self.problems[0]
            super().__init__(message, path=key_path or None, file=file)
            return
        lines = [f"{len(self.problems)} problems:"]
        lines += [f"{p}: {m}" if p else m for p, m in self.problems]
        super().__init__("\n".join(lines), file=file)


def _show(value: Any, limit: int = 60) -> str:
    """A short JSON rendering of a user's value for an error message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value: Any) -> str:
    """What a value is, for messages that must not echo it (secrets)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (", ..." if len(names) > _MAX_LISTED else "")


def _as_int(value: Any) -> int | None:
    """An integer from a number or a numeric string (CCR configs write ``"600000"``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DIGITS.match(value):
        return int(value)
    return None


def _as_bool(value: Any) -> bool | None:
    """A boolean from ``true``/``false`` or their string forms (as ``$VAR`` substitution yields)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _is_http_url(value: str, schemes: Sequence[str] = ("http", "https")) -> bool:
    try:
        parts = urlsplit(value)
        return parts.scheme.lower() in schemes and bool(parts.hostname)
    except ValueError:
        return False


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` only accepts local connections (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name in ("localhost", "localhost."):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _blank(value: Any) -> bool:
    """Absent, ``null`` and ``""`` all mean "not set" in CCR configs."""
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass
class _Checker:
    """Accumulates problems while converting raw values into typed ones."""

    problems: list[tuple[str, str]] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    # -- scalars -----------------------------------------------------------------------------

    def optional_str(self, raw: Mapping[str, Any], key: str, *, secret: bool = False) -> str | None:
        value = raw.get(key)
        if _blank(value):
            return None
        if not isinstance(value, str):
            shown = _kind(value) if secret else _show(value)
            self.add(key, f"expected a string, got {shown}")
            return None
        return value if secret else value.strip()

    def integer(self, raw: Mapping[str, Any], key: str, path: str, default: int, *,
                low: int, high: int | None = None, expected: str | None = None) -> int:
        """The one check for every whole-number option: a number or numeric string (not a
        boolean) within ``low``..``high``, else a problem and ``default``."""
        value = raw.get(key)
        if value is None:
            return default
        number = _as_int(value)
        if number is None or number < low or (high is not None and number > high):
            if expected is None:
                expected = f"an integer of at least {low}"
            self.add(path, f"expected {expected}, got {_show(value)}")
            return default
        return number

    def milliseconds(self, raw: Mapping[str, Any], key: str, default: int, *, low: int = 1,
                     path: str | None = None, example: int | None = None) -> int:
        shown = f" (e.g. {example})" if example else ""
        what = "a positive" if low == 1 else f"at least {low}, an"
        return self.integer(raw, key, path or key, default, low=low,
                            expected=f"{what} integer number of milliseconds{shown}")

    def boolean(self, raw: Mapping[str, Any], key: str, default: bool) -> bool:
        value = raw.get(key)
        if value is None:
            return default
        flag = _as_bool(value)
        if flag is None:
            self.add(key, f"expected true or false, got {_show(value)}")
            return default
        return flag

    def log_level(self, raw: Mapping[str, Any]) -> str:
        value = raw.get("LOG_LEVEL")
        if _blank(value):
            return "info"
        if isinstance(value, str) and value.strip().lower() in LOG_LEVELS:
            return value.strip().lower()
        self.add("LOG_LEVEL", f"expected one of {', '.join(LOG_LEVELS)}, got {_show(value)}")
        return "info"

    def proxy_url(self, raw: Mapping[str, Any]) -> str | None:
        value = self.optional_str(raw, "PROXY_URL")
        if value is not None and not _is_http_url(value, _PROXY_SCHEMES):
            self.add("PROXY_URL", f"{_show(redact_text(value))} is not a proxy URL "
                     "(e.g. http://127.0.0.1:7890 or socks5://127.0.0.1:1080)")
            return None
        return value

    def custom_router_path(self, raw: Mapping[str, Any], home: str | None,
                           file: str | None) -> str | None:
        """``~`` expanded; a relative path is taken from the config file's folder (as
        transformer paths are), so the server finds it whatever folder it starts in."""
        value = self.optional_str(raw, "CUSTOM_ROUTER_PATH")
        if value is None:
            return None
        return str(_file_path(value, home, file))

    def host(self, raw: Mapping[str, Any], apikey: str | None, apikey_ok: bool) -> str:
        host = self.optional_str(raw, "HOST") or DEFAULT_HOST
        named_keys = isinstance(raw.get("APIKEYS"), list) and bool(raw.get("APIKEYS"))
        if apikey is None and apikey_ok and not named_keys and not is_loopback_host(host):
            self.add("HOST", f"ccr refuses to listen on {_show(host)} without APIKEY: anyone who "
                     "can reach it could spend your provider credits. Set \"APIKEY\" to a secret "
                     "that clients must send, or set \"HOST\" to \"127.0.0.1\"")
        return host

    # -- free-form sections ------------------------------------------------------------------

    def section(self, raw: Mapping[str, Any], key: str, purpose: str) -> Mapping[str, Any]:
        """A free-form object (its contents are for someone else to read)."""
        value = raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(key, f"expected an object ({purpose}), got {_show(value)}")
            return {}
        return copy.deepcopy(value)

    def transformer_files(self, raw: Mapping[str, Any], home: str | None,
                          file: str | None) -> tuple[TransformerEntry, ...]:
        """Each entry's shape, limits and file (readable, Python, compiles), all checked here so
        transformer problems are reported with every other one, each naming its file."""
        value = raw.get("transformers")
        if value is None:
            return ()
        if not isinstance(value, list):
            self.add("transformers", 'expected a list like [{"path": "/path/to/transformer.py"}], '
                     f"got {_show(value)}")
            return ()
        entries: list[TransformerEntry] = []
        for i, entry in enumerate(value):
            path = child_path("transformers", i)
            if not isinstance(entry, dict):
                self.add(path, f'expected an object with a "path", got {_show(entry)}')
                continue
            before = len(self.problems)
            file_path = self._transformer_path(entry, path, home, file)
            options = entry.get("options")
            if options is not None and not isinstance(options, dict):
                self.add(child_path(path, "options"), f"expected an object, got {_show(options)}")
            on_error = entry.get("on_error", "fail")
            if on_error not in ("fail", "skip"):
                self.add(child_path(path, "on_error"), 'expected "fail" (the request fails) or '
                         '"skip" (the request goes on without the transformer), got '
                         f"{_show(on_error)}")
            limits = {
                name: self.integer(entry, name, child_path(path, name), default, low=low)
                for name, default, low in (
                    ("timeout_ms", defaults.DEFAULT_TRANSFORMER_TIMEOUT_MS, 1),
                    ("memory_mb", defaults.DEFAULT_TRANSFORMER_MEMORY_MB, 16),
                    ("workers", defaults.DEFAULT_TRANSFORMER_WORKERS, 1),
                )
            }
            if file_path is not None and len(self.problems) == before:
                entries.append(TransformerEntry(path=file_path, options=dict(options or {}),
                                                on_error=on_error, **limits))
        return tuple(entries)

    def _transformer_path(self, entry: Mapping[str, Any], path: str, home: str | None,
                          file: str | None) -> Path | None:
        if "path" not in entry:
            self.add(path, 'missing "path" (the transformer file to load)')
            return None
        value = entry["path"]
        ppath = child_path(path, "path")
        if not isinstance(value, str) or not value.strip():
            self.add(ppath, f"expected a non-empty file path string, got {_show(value)}")
            return None
        file_path = _file_path(value.strip(), home, file)
        if file_path.suffix.lower() in (".js", ".mjs", ".cjs", ".ts"):
            self.add(ppath, f"{file_path.name} is a JavaScript transformer (CCR's format); ccr "
                     "runs transformers written as Python classes: port it to a .py file (see "
                     "examples/transformers in the ccr repository), or remove this entry")
            return None
        problem = _python_file_problem(file_path)
        if problem is not None:
            self.add(ppath, problem)
            return None
        return file_path

    # -- providers ---------------------------------------------------------------------------

    def providers(self, raw: Mapping[str, Any]) -> tuple[tuple[Provider, ...], set[str]]:
        """The valid providers, and the lowercased names of those that were rejected.

        Routes naming a rejected provider are not reported again: its own error says enough.
        """
        key = "Providers" if "Providers" in raw else "providers"
        value = raw.get(key)
        if value is None:
            return (), set()
        if not isinstance(value, list):
            self.add(key, f"expected a list of providers, got {_show(value)}")
            return (), set()
        providers: list[Provider] = []
        rejected: set[str] = set()
        first_seen: dict[str, str] = {}
        for i, entry in enumerate(value):
            path = child_path(key, i)
            before = len(self.problems)
            provider = self._provider(entry, path)
            name = entry.get("name") if isinstance(entry, dict) else None
            if isinstance(name, str) and name.strip():
                lowered = name.strip().lower()
                if lowered in first_seen:
                    self.add(child_path(path, "name"), f"duplicate provider name {_show(name)} "
                             f"(also {first_seen[lowered]}); give each provider a unique name")
                    continue
                first_seen[lowered] = path
                if provider is None or len(self.problems) > before:
                    rejected.add(lowered)
            if provider is not None and len(self.problems) == before:
                providers.append(provider)
        return tuple(providers), rejected

    def _provider(self, entry: Any, path: str) -> Provider | None:
        if not isinstance(entry, dict):
            self.add(path, 'expected an object with "name", "api_base_url" and "models", '
                     f"got {_show(entry)}")
            return None
        name = self._provider_name(entry, path)
        url = self._provider_url(entry, path)
        models = self._provider_models(entry, path)
        api_keys = parse_api_keys(entry.get("api_key"), child_path(path, "api_key"), self.add)
        max_concurrency = parse_max_concurrency(entry, path, self.add)
        transformer = entry.get("transformer")
        if transformer is not None:
            self._transformer(transformer, child_path(path, "transformer"))
        if name is None or url is None or models is None:
            return None
        return Provider(
            name=name,
            api_base_url=url,
            models=models,
            api_key=api_keys[0] if api_keys else None,
            transformer=copy.deepcopy(transformer) if transformer else None,
            api_keys=api_keys or (),
            max_concurrency=max_concurrency,
        )

    def _provider_name(self, entry: Mapping[str, Any], path: str) -> str | None:
        if "name" not in entry or entry["name"] is None:
            self.add(path, 'missing "name" (used in routes, e.g. "deepseek" in '
                     '"deepseek,deepseek-chat")')
            return None
        name = entry["name"]
        if not isinstance(name, str) or not name.strip():
            self.add(child_path(path, "name"), f"expected a non-empty string, got {_show(name)}")
            return None
        if "," in name:
            self.add(child_path(path, "name"), f"{_show(name)} must not contain a comma "
                     '(routes are written "provider,model")')
            return None
        return name.strip()

    def _provider_url(self, entry: Mapping[str, Any], path: str) -> str | None:
        url = entry.get("api_base_url")
        if _blank(url):
            self.add(path, 'missing "api_base_url" (the full chat-completions URL, '
                     f"e.g. {_EXAMPLE_URL})")
            return None
        if not isinstance(url, str) or not _is_http_url(url.strip()):
            shown = _show(redact_text(url) if isinstance(url, str) else url)
            self.add(child_path(path, "api_base_url"),
                     f"{shown} is not a full http(s) URL (e.g. {_EXAMPLE_URL})")
            return None
        return url.strip()

    def _provider_models(self, entry: Mapping[str, Any], path: str) -> tuple[str, ...] | None:
        models = entry.get("models")
        if models is None:
            self.add(path, 'missing "models" (a non-empty list of model names, '
                     'e.g. ["deepseek-chat"])')
            return None
        mpath = child_path(path, "models")
        if not isinstance(models, list):
            self.add(mpath, f"expected a list of model names, got {_show(models)}")
            return None
        if not models:
            self.add(mpath, "is empty; list at least one model name")
            return None
        ok = True
        for i, model in enumerate(models):
            if not isinstance(model, str) or not model.strip():
                self.add(child_path(mpath, i), f"expected a model name, got {_show(model)}")
                ok = False
        return tuple(m.strip() for m in models) if ok else None

    def _transformer(self, value: Any, path: str) -> None:
        """Shape only: ``{"use": [...], "<model>": {"use": [...]}}``; names are checked later."""
        if not isinstance(value, dict):
            self.add(path, f'expected an object like {{"use": ["deepseek"]}}, got {_show(value)}')
            return
        for key, item in value.items():
            if key == "use":
                self._use_list(item, child_path(path, "use"))
                continue
            kpath = child_path(path, key)
            if not isinstance(item, dict) or "use" not in item:
                self.add(kpath, "expected a per-model object like "
                         f'{{"use": ["tooluse"]}}, got {_show(item)}')
                continue
            self._use_list(item["use"], child_path(kpath, "use"))

    def _use_list(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.add(path, f"expected a list of transformer names, got {_show(value)}")
            return
        for i, entry in enumerate(value):
            if isinstance(entry, str) and entry.strip():
                continue
            if (isinstance(entry, list) and 1 <= len(entry) <= 2
                    and isinstance(entry[0], str) and entry[0].strip()
                    and (len(entry) == 1 or isinstance(entry[1], dict))):
                continue
            self.add(child_path(path, i), "expected a transformer name or [name, {options}], "
                     f"got {_show(entry)}")

    # -- router ------------------------------------------------------------------------------

    def router(self, raw: Mapping[str, Any], config: Config, rejected: set[str]) -> RouterConfig:
        section = raw.get("Router")
        if section is None:
            return RouterConfig()
        if not isinstance(section, dict):
            self.add("Router", 'expected an object like {"default": "provider,model"}, '
                     f"got {_show(section)}")
            return RouterConfig()
        routes = {slot: self._route(section.get(slot), child_path("Router", slot), config,
                                    rejected) for slot in ROUTE_SLOTS}
        threshold = self.integer(section, "longContextThreshold", "Router.longContextThreshold",
                                 DEFAULT_LONG_CONTEXT_THRESHOLD, low=1, high=None,
                                 expected="a positive integer number of tokens (e.g. 60000)")
        return RouterConfig(**routes, longContextThreshold=threshold)

    def _route(self, value: Any, path: str, config: Config, rejected: set[str]) -> str | None:
        if _blank(value):
            return None
        if not isinstance(value, str):
            self.add(path, f'expected a "provider,model" string, got {_show(value)}')
            return None
        pname, _, model = value.partition(",")
        if not pname.strip() or not model.strip():
            self.add(path, f'{_show(value)} is not a "provider,model" route '
                     f"(e.g. {_show(_example_route(config, value))})")
            return None
        if pname.strip().lower() in rejected:
            return None
        provider = config.provider(pname)
        if provider is None:
            names = [p.name for p in config.providers]
            if names:
                configured = f"configured: {_listing(names)}"
            else:
                configured = "no valid providers configured" if rejected else (
                    "no providers configured")
            self.add(path, f"provider {_show(pname.strip())} is not configured ({configured})")
            return None
        canonical = provider.canonical_model(model)
        if canonical is None:
            self.add(path, f"model {_show(model.strip())} is not in provider "
                     f"{_show(provider.name)}'s models ({_listing(provider.models)})")
            return None
        return f"{provider.name},{canonical}"


def _example_route(config: Config, written: str) -> str:
    """A route to suggest for a malformed one: the named provider's first model if it exists."""
    provider = config.provider(written.strip(" ,"))
    if provider is not None:
        return f"{provider.name},{provider.models[0]}"
    routes = config.routes()
    return routes[0] if routes else "deepseek,deepseek-chat"


def _file_path(value: str, home: str | None, file: str | None) -> Path:
    """``~`` expanded (from ``home`` when given); a relative path is taken from the config
    file's folder, so the server finds it whatever folder it starts in."""
    if home and (value == "~" or value.startswith("~/")):
        return Path(home.rstrip("/") + value[1:])
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (Path(file).resolve().parent if file else Path.cwd()) / path
    return path


def _python_file_problem(path: Path) -> str | None:
    """Why the transformer file at ``path`` cannot be used, or None (compiled, never run)."""
    limit = defaults.MAX_TRANSFORMER_SOURCE_BYTES
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        return f"cannot read the transformer file {str(path)!r} ({exc.strerror})"
    if len(data) > limit:
        return f"{path.name} is too big (at most {limit} bytes)"
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"{path.name} is not valid UTF-8 (byte {exc.start})"
    try:
        compile(source, str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"{path.name}:{exc.lineno}: SyntaxError: {exc.msg} ({path})"
    except ValueError as exc:  # e.g. a NUL byte
        return f"{path.name}: {exc}"
    return None


def build_config(raw: dict[str, Any], *, file: str | None = None, home: str | None = None,
                 env: Mapping[str, str] | None = None) -> Config:
    """Validate a substituted config dict and build its :class:`Config`.

    ``home`` expands ``~`` in ``CUSTOM_ROUTER_PATH`` (defaults to the process's home directory);
    ``env`` supplies the proxy variables used when ``PROXY_URL`` is unset (none when None).
    Raises :class:`InvalidConfig` listing every problem; what is merely ignored (unknown keys,
    CCR features ccr lacks) goes to ``Config.warnings``.
    """
    if not isinstance(raw, dict):
        raise InvalidConfig([("", f"the config must be a JSON object, got {_show(raw)}")],
                            file=file)
    check = _Checker()
    providers, rejected = check.providers(raw)
    apikey_problems = len(check.problems)
    apikey = check.optional_str(raw, "APIKEY", secret=True)
    apikey_ok = len(check.problems) == apikey_problems
    explicit_proxy = check.proxy_url(raw)
    proxy_url, no_proxy = proxy_settings(explicit_proxy, env or {})
    config = Config(
        providers=providers,
        apikey=apikey,
        host=check.host(raw, apikey, apikey_ok),
        port=check.integer(raw, "PORT", "PORT", DEFAULT_PORT, low=1, high=65535,
                           expected="an integer 1-65535"),
        log=check.boolean(raw, "LOG", True),
        log_level=check.log_level(raw),
        api_timeout_ms=check.milliseconds(raw, "API_TIMEOUT_MS", DEFAULT_API_TIMEOUT_MS,
                                          example=600000),
        proxy_url=proxy_url,
        no_proxy=no_proxy,
        custom_router_path=check.custom_router_path(raw, home, file),
        non_interactive_mode=check.boolean(raw, "NON_INTERACTIVE_MODE", False),
        connect_timeout_ms=check.milliseconds(raw, "CONNECT_TIMEOUT_MS",
                                              defaults.DEFAULT_CONNECT_TIMEOUT_MS),
        stream_idle_timeout_ms=check.milliseconds(raw, "STREAM_IDLE_TIMEOUT_MS", 0) or None,
        ping_interval_ms=check.milliseconds(raw, "PING_INTERVAL_MS",
                                            defaults.DEFAULT_PING_INTERVAL_MS),
        shutdown_timeout_ms=check.milliseconds(raw, "SHUTDOWN_TIMEOUT_MS",
                                               defaults.DEFAULT_SHUTDOWN_TIMEOUT_MS, low=0),
        custom_router_timeout_ms=check.milliseconds(
            raw, "CUSTOM_ROUTER_TIMEOUT_MS", defaults.DEFAULT_CUSTOM_ROUTER_TIMEOUT_MS),
        custom_router_memory_mb=check.integer(
            raw, "CUSTOM_ROUTER_MEMORY_MB", "CUSTOM_ROUTER_MEMORY_MB",
            defaults.DEFAULT_CUSTOM_ROUTER_MEMORY_MB, low=16),
        custom_router_workers=check.integer(
            raw, "CUSTOM_ROUTER_WORKERS", "CUSTOM_ROUTER_WORKERS",
            defaults.DEFAULT_CUSTOM_ROUTER_WORKERS, low=1),
        workers=check.integer(raw, "WORKERS", "WORKERS", 1, low=0),
        custom_router_options=check.section(raw, "CUSTOM_ROUTER_OPTIONS",
                                            "passed to your router script"),
        transformers=check.transformer_files(raw, home, file),
        force_use_image_agent=check.boolean(raw, "forceUseImageAgent", False),
        status_line=check.section(raw, "StatusLine", "read by ccr statusline"),
        claude_path=check.optional_str(raw, "CLAUDE_PATH"),
        has_client_keys=isinstance(raw.get("APIKEYS"), list) and bool(raw["APIKEYS"]),
        warnings=tuple(unknown_key_warnings(raw)),
        raw=raw,
        path=Path(file) if file else None,
    )
    router = check.router(raw, config, rejected)
    resilience = parse_resilience(
        raw, check.add, lambda value, path: check._route(value, path, config, rejected),
        {p.name.lower(): p.max_concurrency for p in providers if p.max_concurrency},
    )
    check.problems.extend(gateway_problems(raw))
    if check.problems:
        raise InvalidConfig(check.problems, file=file)
    return replace(config, router=router, resilience=resilience,
                   gateway=GatewaySettings.parse(raw), record=RecordSettings.from_config(raw))
