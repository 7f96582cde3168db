"""``ccr model``: see and change Router slots, providers and models, by menu or by flags.

Every change is made on the file as written (``$VAR`` references kept), checked as the server
would load it, and written atomically with a backup (:func:`ccr.config.write_config`); a
running server picks the new file up by itself.
"""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from ccr.cli.options import ConfigOption
from ccr.config import (
    REDACTED,
    ROUTE_SLOTS,
    default_config_path,
    read_config_data,
    redact_text,
    validate_config_data,
    write_config,
)
from ccr.config.model import DEFAULT_LONG_CONTEXT_THRESHOLD
from ccr.errors import CcrError, ConfigError
from ccr.transformers import check_chains

_HELP = (
    "See and change the Router slots, providers and models in the config.\n\n"
    "Without a subcommand (in a terminal) an arrow-key menu opens. Each change is checked as "
    "the server would load it and refused if invalid (the file is left as it was). It is "
    "written atomically, the previous file is kept as config.json.<time>.bak (the 3 newest are "
    "kept), and a running ccr picks it up by itself.\n\n"
    "Only what changed is edited in the file: comments and layout are kept.\n\n"
    "Example: ccr model set think deepseek,deepseek-reasoner"
)

DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

#: ``$NAME`` or ``${NAME}``: an api_key read from the environment.
_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_CLEAR_WORDS = ("none", "-", "")

model_app = typer.Typer(name="model", help=_HELP, invoke_without_command=True,
                        no_args_is_help=False, add_completion=False)


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")


class ChangeError(CcrError):
    """A change that cannot be made as asked (unknown slot, provider or route)."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# -- editing the data (pure functions on the config dict as written) ----------------------------


def providers_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The provider list of a config dict (``Providers``, or CCR's older ``providers``)."""
    key = "providers" if "providers" in data and "Providers" not in data else "Providers"
    value = data.setdefault(key, [])
    if not isinstance(value, list):
        raise ChangeError(f'"{key}" is not a list', "fix the file by hand first")
    return [p for p in value if isinstance(p, dict)]


def find_provider(data: dict[str, Any], name: str) -> dict[str, Any]:
    want = name.strip().lower()
    for provider in providers_of(data):
        if str(provider.get("name", "")).strip().lower() == want:
            return provider
    names = [str(p.get("name")) for p in providers_of(data)]
    raise ChangeError(f"provider {name!r} is not configured (configured: "
                      f"{', '.join(names) or 'none'})",
                      "add it with `ccr model add-provider --name ... --url ... --models ...`")


def routes_of(data: dict[str, Any]) -> list[str]:
    """Every ``provider,model`` pair in the config as written, in file order."""
    routes = []
    for provider in providers_of(data):
        models = provider.get("models")
        if isinstance(models, list):
            routes += [f"{provider.get('name')},{m}" for m in models if isinstance(m, str)]
    return routes


def canonical_slot(slot: str) -> str:
    """The Router key for ``slot`` (case-insensitive), e.g. ``longcontext`` → ``longContext``."""
    for name in (*ROUTE_SLOTS, "longContextThreshold"):
        if name.lower() == slot.strip().lower():
            return name
    raise ChangeError(f"unknown Router slot {slot!r}",
                      f"use one of: {', '.join(ROUTE_SLOTS)}, longContextThreshold")


def canonical_route(data: dict[str, Any], route: str) -> str:
    """``route`` spelled as configured, or :class:`ChangeError` naming what is missing."""
    pname, comma, model = route.partition(",")
    if not comma or not pname.strip() or not model.strip():
        raise ChangeError(f'{route!r} is not a "provider,model" route',
                          "write it like deepseek,deepseek-chat (see `ccr model show`)")
    provider = find_provider(data, pname)
    models = [m for m in provider.get("models") or [] if isinstance(m, str)]
    for m in models:
        if m.strip().lower() == model.strip().lower():
            return f"{provider['name']},{m}"
    raise ChangeError(f"model {model.strip()!r} is not in provider {provider['name']!r}'s "
                      f"models ({', '.join(models)})",
                      f"add it first: ccr model add-model {provider['name']} {model.strip()}")


def set_slot(data: dict[str, Any], slot: str, value: str) -> str:
    """Point a Router slot at a configured route (``none`` clears it); returns what was set."""
    name = canonical_slot(slot)
    router = data.setdefault("Router", {})
    if not isinstance(router, dict):
        raise ChangeError('"Router" is not an object', "fix the file by hand first")
    if name == "longContextThreshold":
        if not value.strip().isdigit() or int(value) < 1:
            raise ChangeError(f"longContextThreshold must be a positive number of tokens, "
                              f"got {value!r}", "e.g. ccr model set longContextThreshold 60000")
        router[name] = int(value)
        return str(router[name])
    if value.strip().lower() in _CLEAR_WORDS:
        router.pop(name, None)
        return "(not set)"
    router[name] = canonical_route(data, value.strip())
    return router[name]


def add_models(data: dict[str, Any], provider_name: str, models: list[str]) -> list[str]:
    """Append ``models`` to a provider, skipping ones it has; returns the ones added."""
    provider = find_provider(data, provider_name)
    current = provider.setdefault("models", [])
    if not isinstance(current, list):
        raise ChangeError(f"provider {provider_name!r} has no models list",
                          "fix the file by hand first")
    have = {m.strip().lower() for m in current if isinstance(m, str)}
    added = []
    for model in models:
        clean = model.strip()
        if clean and clean.lower() not in have:
            current.append(clean)
            have.add(clean.lower())
            added.append(clean)
    return added


def transformer_name(name: str) -> str:
    """A registered transformer name in its registered spelling, or :class:`ChangeError`."""
    from ccr.transformers.registry import names

    available = names()
    for known in available:
        if known.lower() == name.strip().lower():
            return known
    raise ChangeError(f"unknown transformer {name!r}", f"available: {', '.join(available)}")


def add_provider(data: dict[str, Any], *, name: str, url: str, key: str | None,
                 models: list[str], transformers: list[str]) -> dict[str, Any]:
    """Append a provider entry (checked for a unique name; the rest is checked on write)."""
    clean = name.strip()
    if not clean or "," in clean:
        raise ChangeError(f"invalid provider name {name!r}",
                          'use a short name without commas, e.g. "openrouter"')
    if any(str(p.get("name", "")).strip().lower() == clean.lower()
           for p in providers_of(data)):
        raise ChangeError(f"provider {clean!r} already exists",
                          f"add models to it with `ccr model add-model {clean} MODEL`")
    model_list = [m.strip() for m in models if m.strip()]
    if not model_list:
        raise ChangeError("a provider needs at least one model", "pass --models a,b")
    entry: dict[str, Any] = {"name": clean, "api_base_url": url.strip()}
    if key:
        entry["api_key"] = key
    entry["models"] = model_list
    if transformers:
        entry["transformer"] = {"use": [transformer_name(t) for t in transformers]}
    key_name = "providers" if "providers" in data and "Providers" not in data else "Providers"
    data.setdefault(key_name, []).append(entry)
    return entry


# -- showing --------------------------------------------------------------------------------


def key_info(value: Any) -> tuple[str | None, bool]:
    """An api_key as ``($VAR reference, or *** for a literal key, or None; usable now)``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, False
    if not isinstance(value, str):
        return REDACTED, False
    match = _VARIABLE.fullmatch(value.strip())
    if match:
        variable = match.group("braced") or match.group("bare")
        return value.strip(), bool(os.environ.get(variable))
    return REDACTED, True


def key_description(value: Any) -> str:
    """How an api_key is given, for the table, without ever showing a literal key."""
    shown, usable = key_info(value)
    if shown is None:
        return "no key"
    if shown == REDACTED:
        return "literal key in the file"
    return f"{shown} ({'set' if usable else 'NOT SET'})"


def _transformer_names(provider: dict[str, Any]) -> list[str]:
    """The provider-wide ``transformer.use`` names (entries may be ``[name, {options}]``)."""
    transformer = provider.get("transformer")
    use = transformer.get("use") if isinstance(transformer, dict) else None
    if not isinstance(use, list):
        return []
    return [u if isinstance(u, str) else str(u[0]) for u in use if u]


def summary(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """The Router and providers as shown by ``ccr model show --json`` (no secrets)."""
    router = data["Router"] if isinstance(data.get("Router"), dict) else {}
    providers = []
    for p in providers_of(dict(data)):
        key, key_set = key_info(p.get("api_key"))
        providers.append({
            "name": p.get("name"),
            "api_base_url": redact_text(str(p.get("api_base_url", ""))),
            "api_key": key,
            "api_key_set": key_set,
            "key": key_description(p.get("api_key")),
            "models": [m for m in p.get("models") or [] if isinstance(m, str)],
            "transformers": _transformer_names(p),
        })
    return {
        "config": str(path),
        "router": {
            **{slot: router.get(slot) or None for slot in ROUTE_SLOTS},
            "longContextThreshold": router.get("longContextThreshold",
                                               DEFAULT_LONG_CONTEXT_THRESHOLD),
        },
        "providers": providers,
    }


def table_lines(data: dict[str, Any], path: Path) -> list[str]:
    """The plain-text table of ``ccr model show``."""
    info = summary(data, path)
    lines = [f"Config: {path}", "", "Router"]
    for slot in ROUTE_SLOTS:
        lines.append(f"  {slot:<13}{info['router'][slot] or '(not set)'}")
    lines.append(f"  {'threshold':<13}{info['router']['longContextThreshold']} tokens "
                 "(longContext above this)")
    lines += ["", "Providers"]
    if not info["providers"]:
        lines.append("  (none: add one with `ccr model add-provider`)")
    for p in info["providers"]:
        extra = f"  transformers: {', '.join(p['transformers'])}" if p["transformers"] else ""
        lines.append(f"  {p['name']}  {p['api_base_url']}  key: {p['key']}{extra}")
        for model in p["models"]:
            used = [slot for slot in ROUTE_SLOTS
                    if (info["router"][slot] or "").lower() == f"{p['name']},{model}".lower()]
            lines.append(f"    {model}" + (f"  ({', '.join(used)})" if used else ""))
    return lines


# -- writing --------------------------------------------------------------------------------


@dataclass
class _Target:
    """The config file a command edits."""

    path: Path
    debug: bool = False

    def read(self) -> dict[str, Any]:
        if not self.path.exists():
            _fail(f"no config at {self.path}", "run `ccr init` to write a starter config")
        try:
            return read_config_data(self.path)
        except ConfigError as exc:
            _fail(str(exc), "fix the file by hand (it must be JSON5), or `ccr init --force`")

def _apply(target: _Target, change: Callable[[dict[str, Any]], str]) -> str | None:
    """Read the file, apply ``change``, validate and write; the change's description."""
    data = target.read()
    description = change(data)
    try:
        validate_config_data(data, file=str(target.path), check=check_chains)
    except ConfigError as exc:
        raise ChangeError(f"the change was not written, the config would not load:\n{exc}",
                          _config_hint(exc)) from None
    written = write_config(target.path, data, check=check_chains)
    if written.dropped_comments:
        typer.echo(f"note: {target.path.name} was rewritten as plain JSON, so its comments "
                   "are gone (the backup keeps them)", err=True)
    if written.backup is not None:
        typer.echo(f"  backup: {written.backup}")
    return description


def _config_hint(exc: ConfigError) -> str:
    text = str(exc)
    match = re.search(r"environment variable (\w+) is not set", text)
    if match:
        return (f"export {match.group(1)} first (ccr checks the config as the server would "
                "load it)")
    return "fix what the message names and try again"


# -- subcommands ----------------------------------------------------------------------------


@model_app.callback()
def model(
    ctx: typer.Context,
    config: ConfigOption = None,
    debug: DebugOption = False,
) -> None:
    ctx.obj = {"config": config, "debug": debug}
    if ctx.invoked_subcommand is not None:
        return
    target = _target(ctx, None, False)
    data = target.read()
    if not _interactive_ok(data):
        for line in table_lines(data, target.path):
            typer.echo(line)
        typer.echo("")
        typer.echo("hint: not a terminal, so no menu; change things with `ccr model set SLOT "
                   "provider,model`, `ccr model add-model PROVIDER MODEL` or `ccr model "
                   "add-provider` (see `ccr model --help`)")
        return
    _guard(target, lambda: _menu(target))


@model_app.command("show")
def show(
    ctx: typer.Context,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    debug: DebugOption = False,
) -> None:
    """Print the Router slots and the providers with their models.

    Example: ccr model show --json
    """
    target = _target(ctx, config, debug)
    data = target.read()
    if as_json:
        typer.echo(json.dumps(summary(data, target.path), indent=2))
        return
    for line in table_lines(data, target.path):
        typer.echo(line)
    try:
        validate_config_data(data, file=str(target.path), check=check_chains)
    except ConfigError as exc:
        typer.echo(f"\nnote: this config does not load as it is:\n{exc}")


@model_app.command("set")
def set_command(
    ctx: typer.Context,
    slot: Annotated[str, typer.Argument(
        help=f"Router slot: {', '.join(ROUTE_SLOTS)} or longContextThreshold.")],
    route: Annotated[str, typer.Argument(
        help='A configured "provider,model" (or "none" to clear the slot).')],
    config: ConfigOption = None,
    debug: DebugOption = False,
) -> None:
    """Point a Router slot at a configured provider,model.

    Example: ccr model set think deepseek,deepseek-reasoner
    """
    target = _target(ctx, config, debug)

    def change(data: dict[str, Any]) -> str:
        return f"{canonical_slot(slot)} → {set_slot(data, slot, route)}"

    _guard(target, lambda: _report(_apply(target, change)))


@model_app.command("add-model")
def add_model_command(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="A configured provider name.")],
    models: Annotated[list[str], typer.Argument(help="Model name(s) to add.")],
    config: ConfigOption = None,
    debug: DebugOption = False,
) -> None:
    """Add one or more models to a provider.

    Example: ccr model add-model deepseek deepseek-v4
    """
    target = _target(ctx, config, debug)
    names = [m for item in models for m in item.split(",")]

    def change(data: dict[str, Any]) -> str:
        added = add_models(data, provider, names)
        if not added:
            raise _Unchanged(f"{provider} already has {', '.join(n.strip() for n in names)}")
        return f"{find_provider(data, provider)['name']}: added {', '.join(added)}"

    _guard(target, lambda: _report(_apply(target, change)))


@model_app.command("add-provider")
def add_provider_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Provider name, used in routes.")],
    url: Annotated[str, typer.Option("--url", help="Full chat-completions URL.")],
    models: Annotated[str, typer.Option("--models", help="Comma-separated model names.")],
    key: Annotated[str | None, typer.Option(
        "--key", help="API key: '$VAR' to read an environment variable (quote it), or the "
        "key itself (stored in the file). Omit for a keyless local server.")] = None,
    transformer: Annotated[list[str] | None, typer.Option(
        "--transformer", help="Transformer to use (repeatable): "
        "see `ccr model add-provider --list-transformers`.")] = None,
    list_transformers: Annotated[bool, typer.Option(
        "--list-transformers", help="Print the available transformer names and exit.",
        is_eager=True)] = False,
    config: ConfigOption = None,
    debug: DebugOption = False,
) -> None:
    """Add a provider with its URL, key and models.

    Example: ccr model add-provider --name openrouter --url https://openrouter.ai/api/v1/chat/completions --key '$OPENROUTER_API_KEY' --models anthropic/claude-sonnet-4 --transformer openrouter
    """  # noqa: E501
    if list_transformers:
        from ccr.transformers.registry import names

        typer.echo("\n".join(names()))
        return
    target = _target(ctx, config, debug)

    def change(data: dict[str, Any]) -> str:
        entry = add_provider(data, name=name, url=url, key=key, models=models.split(","),
                             transformers=transformer or [])
        return f"added provider {entry['name']} ({', '.join(entry['models'])})"

    if key and not _VARIABLE.fullmatch(key.strip()):
        typer.echo("note: the key is stored in the config file as is; --key '$NAME' reads it "
                   "from the environment instead", err=True)
    _guard(target, lambda: _report(_apply(target, change)))


class _Unchanged(Exception):
    """Nothing to write (e.g. the models are already there)."""


def _report(description: str | None) -> None:
    if description is None:
        return
    typer.echo(f"Saved: {description}. A running ccr picks it up by itself.")


# -- interactive menu -----------------------------------------------------------------------

_QUIT = "quit"
_ADD_PROVIDER = "add-provider"
_BACK = "back"
_NOT_SET = "(not set)"


def _interactive_ok(data: dict[str, Any]) -> bool:
    flag = data.get("NON_INTERACTIVE_MODE")
    non_interactive = flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")
    return not non_interactive and sys.stdin.isatty() and sys.stdout.isatty()


def _menu(target: _Target) -> None:
    import questionary

    typer.echo(f"ccr model: {target.path}  (arrow keys and Enter; Quit or Ctrl-C to leave)")
    last: Any = None
    while True:
        data = target.read()
        choices = _menu_choices(questionary, data)
        values = [c.value for c in choices if isinstance(c, questionary.Choice)]
        picked = questionary.select(
            "Pick a Router slot to switch, a provider to add models to, or an action:",
            choices=choices, default=last if last in values else None,
        ).unsafe_ask()
        if picked in (None, _QUIT):
            return
        last = picked
        kind, _, name = picked.partition(":")
        try:
            if kind == "slot":
                description = _menu_slot(questionary, target, data, name)
            elif kind == "provider":
                description = _menu_add_model(questionary, target, name)
            else:
                description = _menu_add_provider(questionary, target, data)
        except ChangeError as exc:
            typer.echo(f"ccr: {exc.message}\nhint: {exc.hint}")
            continue
        if description is not None:
            _report(description)


def _menu_choices(questionary: Any, data: dict[str, Any]) -> list[Any]:
    router = data["Router"] if isinstance(data.get("Router"), dict) else {}
    choices: list[Any] = [questionary.Separator("── Router slots ──")]
    for slot in ROUTE_SLOTS:
        choices.append(questionary.Choice(f"{slot:<13}{router.get(slot) or _NOT_SET}",
                                          value=f"slot:{slot}"))
    choices.append(questionary.Separator("── Providers (Enter: add a model) ──"))
    for p in providers_of(dict(data)):
        models = ", ".join(m for m in p.get("models") or [] if isinstance(m, str))
        choices.append(questionary.Choice(f"{p.get('name')!s:<13}{models}",
                                          value=f"provider:{p.get('name')}"))
    choices.append(questionary.Separator("──"))
    choices.append(questionary.Choice("+ Add a provider", value=_ADD_PROVIDER))
    choices.append(questionary.Choice("Quit", value=_QUIT))
    return choices


def _menu_slot(questionary: Any, target: _Target, data: dict[str, Any],
               slot: str) -> str | None:
    routes = routes_of(data)
    if not routes:
        raise ChangeError("no provider has models yet", "add a provider first")
    current = (data.get("Router") or {}).get(slot) if isinstance(data.get("Router"),
                                                                 dict) else None
    choices = [questionary.Choice(r + ("  (current)" if r == current else ""), value=r)
               for r in routes]
    if slot != "default":
        choices.append(questionary.Choice(f"{_NOT_SET}  (skip this rule)", value=_NOT_SET))
    choices.append(questionary.Choice("← Back", value=_BACK))
    picked = questionary.select(f"Route for {slot}:", choices=choices,
                                default=current if current in routes else None).unsafe_ask()
    if picked in (None, _BACK):
        return None
    value = "none" if picked == _NOT_SET else picked

    def change(fresh: dict[str, Any]) -> str:
        return f"{slot} → {set_slot(fresh, slot, value)}"

    return _apply(target, change)


def _menu_add_model(questionary: Any, target: _Target, provider: str) -> str | None:
    answer = questionary.text(f"Model name(s) to add to {provider} (comma-separated, "
                              "empty to go back):").unsafe_ask()
    names = [m.strip() for m in (answer or "").split(",") if m.strip()]
    if not names:
        return None

    def change(data: dict[str, Any]) -> str:
        added = add_models(data, provider, names)
        if not added:
            raise ChangeError(f"{provider} already has {', '.join(names)}", "nothing to add")
        return f"{provider}: added {', '.join(added)}"

    return _apply(target, change)


def _menu_add_provider(questionary: Any, target: _Target, data: dict[str, Any]) -> str | None:
    from ccr.transformers.registry import names as transformer_names

    taken = {str(p.get("name", "")).strip().lower() for p in providers_of(dict(data))}

    def valid_name(text: str) -> bool | str:
        if not text.strip():
            return "a name is needed"
        if "," in text:
            return "no commas (routes are written provider,model)"
        return True if text.strip().lower() not in taken else "that name is taken"

    name = questionary.text("Provider name (used in routes):", validate=valid_name).unsafe_ask()
    url = questionary.text(
        "Chat-completions URL:", default="https://",
        validate=lambda t: True if re.match(r"https?://[^/\s]+", t.strip())
        else "a full http(s) URL, e.g. https://api.example.com/v1/chat/completions",
    ).unsafe_ask()
    how = questionary.select("API key:", choices=[
        questionary.Choice("from an environment variable (recommended)", value="env"),
        questionary.Choice("type the key (stored in the config file)", value="literal"),
        questionary.Choice("no key (a local server)", value="none"),
    ]).unsafe_ask()
    key: str | None = None
    if how == "env":
        suggested = re.sub(r"\W", "_", name.strip().upper()) + "_API_KEY"
        variable = questionary.text(
            "Environment variable:", default=f"${suggested}",
            validate=lambda t: True if _VARIABLE.fullmatch(t.strip()) else "write it as $NAME",
        ).unsafe_ask()
        key = variable.strip()
    elif how == "literal":
        key = questionary.password("API key:").unsafe_ask() or None
    models = questionary.text("Models (comma-separated):",
                              validate=lambda t: bool(t.strip()) or "at least one model"
                              ).unsafe_ask()
    choices = [questionary.Choice("none (plain OpenAI-compatible API)", value="")]
    choices += [questionary.Choice(n, value=n) for n in transformer_names()]
    transformer = questionary.select("Transformer:", choices=choices).unsafe_ask()

    def change(fresh: dict[str, Any]) -> str:
        entry = add_provider(fresh, name=name, url=url, key=key, models=models.split(","),
                             transformers=[transformer] if transformer else [])
        return f"added provider {entry['name']} ({', '.join(entry['models'])})"

    return _apply(target, change)


# -- plumbing -------------------------------------------------------------------------------


def _target(ctx: typer.Context, config: Path | None, debug: bool) -> _Target:
    parent = ctx.obj if isinstance(ctx.obj, dict) else {}
    path = config or parent.get("config") or default_config_path()
    return _Target(path=Path(path).expanduser(), debug=debug or bool(parent.get("debug")))


def _guard(target: _Target, action: Callable[[], None]) -> None:
    """Run a command: known failures as one line plus a hint, Ctrl-C as a quiet exit."""
    try:
        action()
    except _Unchanged as exc:
        typer.echo(f"Nothing to do: {exc}")
    except ChangeError as exc:
        _fail(exc.message, exc.hint)
    except (ConfigError, OSError) as exc:
        if target.debug or _debug_env():
            traceback.print_exc()
        _fail(f"the change was not written: {exc}", "the config file was left as it was")
    except KeyboardInterrupt:
        typer.echo("")
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if target.debug or _debug_env():
            traceback.print_exc()
        _fail(f"unexpected error: {exc}", "run again with --debug (or CCR_DEBUG=1) for details")


def _debug_env() -> bool:
    return os.environ.get("CCR_DEBUG", "").strip().lower() in ("1", "true", "yes")


def _fail(message: str, hint: str, code: int = 1) -> NoReturn:
    typer.echo(f"ccr: {message}\nhint: {hint}", err=True)
    raise typer.Exit(code)
