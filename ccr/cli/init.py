"""``ccr init``: write a commented starter config, never over an existing one by accident.

A new user's path is ``ccr init``, export one key, ``ccr code``: the starter needs exactly one
variable (``DEEPSEEK_API_KEY``) and explains every key it sets.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from ccr.cli.options import ConfigOption
from ccr.config import default_config_path, write_text_atomic
from ccr.errors import ConfigError

DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]

#: The variable a new user sets before ``ccr code`` (the only one the starter requires).
STARTER_KEY_VARIABLE = "DEEPSEEK_API_KEY"

STARTER_CONFIG = """\
// ccr configuration (JSON5: comments and trailing commas are fine).
// Edit it by hand or with `ccr model`; a running ccr picks up changes by itself.
// Note: `ccr model` rewrites this file as plain JSON, so these comments go away then
// (the previous file is kept as config.json.<time>.bak next to it).
{
  // Providers: the upstream APIs ccr can send requests to.
  //   name          used in routes, as in "deepseek,deepseek-chat"
  //   api_base_url  the full chat-completions URL
  //   api_key       a literal key, or "$NAME" / "${NAME}" to read an environment variable
  //                 (ccr stops with an error naming the variable when it is not set)
  //   models        the model names this provider serves
  //   transformer   adapters for the provider's dialect ({"use": ["deepseek"]}); see
  //                 `ccr model add-provider --help` for the available names
  "Providers": [
    {
      "name": "deepseek",
      "api_base_url": "https://api.deepseek.com/chat/completions",
      "api_key": "$DEEPSEEK_API_KEY",
      "models": ["deepseek-chat", "deepseek-reasoner"],
      "transformer": {"use": ["deepseek"]}
    },
    // A local Ollama server: no key needed. Pull the model first (ollama pull qwen2.5-coder:7b).
    {
      "name": "ollama",
      "api_base_url": "http://127.0.0.1:11434/v1/chat/completions",
      "models": ["qwen2.5-coder:7b"]
    }
    // OpenRouter: uncomment (with the comma above) and export OPENROUTER_API_KEY.
    // ,{
    //   "name": "openrouter",
    //   "api_base_url": "https://openrouter.ai/api/v1/chat/completions",
    //   "api_key": "$OPENROUTER_API_KEY",
    //   "models": ["anthropic/claude-sonnet-4", "google/gemini-2.5-pro"],
    //   "transformer": {"use": ["openrouter"]}
    // }
  ],

  // Router: which "provider,model" each request goes to. Rules, in order, first match wins:
  //   a model named "provider,model" by the client (Claude Code: /model deepseek,deepseek-chat),
  //     or a <CCR-SUBAGENT-MODEL>provider,model</CCR-SUBAGENT-MODEL> tag in a subagent prompt;
  //   longContext  the request (or the session's last turn) has more input tokens than
  //                longContextThreshold;
  //   background   Claude Code's small background model (a "haiku" model name);
  //   webSearch    the request carries a web search tool;
  //   think        the request turns extended thinking on ("thinking": {"type": "enabled"});
  //   image        the last user message carries an image;
  //   default      everything else. A slot that is not set is skipped.
  "Router": {
    "default": "deepseek,deepseek-chat",
    "background": "deepseek,deepseek-chat",  // or "ollama,qwen2.5-coder:7b" to stay local
    "think": "deepseek,deepseek-reasoner",
    "longContext": "deepseek,deepseek-chat",
    "longContextThreshold": 60000
  },

  // Where ccr listens. Keep 127.0.0.1 unless you set APIKEY (then clients must send it).
  "HOST": "127.0.0.1",
  "PORT": 3456,
  // "APIKEY": "$CCR_APIKEY",

  // Request log: <CCR_HOME>/logs/ccr.log, one line per request (read it with `ccr logs`).
  "LOG": true,
  "LOG_LEVEL": "info",

  // How long to wait for an upstream answer, in milliseconds.
  "API_TIMEOUT_MS": 600000,

  // `ccr statusline` (Claude Code's status line): theme "plain" or "powerline", the context
  // window used for the percentage (default 128000), and optional prices per million tokens
  // to show an estimated cost of the last turn.
  "StatusLine": {
    "theme": "plain",
    "context_window": 128000,
    "context_windows": {"deepseek,deepseek-chat": 128000},
    "prices": {
      "deepseek,deepseek-chat": {"input": 0.27, "output": 1.10, "cache_read": 0.07},
      "deepseek,deepseek-reasoner": {"input": 0.55, "output": 2.19, "cache_read": 0.14}
    }
  }
}
"""


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    config: ConfigOption = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an existing config (it is kept as a .bak backup first).")]
    = False,
    debug: DebugOption = False,
) -> None:
    """Write a commented starter config (DeepSeek, a local Ollama, Router slots, logging).

    Example: ccr init && export DEEPSEEK_API_KEY=sk-... && ccr code
    """
    path = (config or default_config_path()).expanduser()
    try:
        backup = _write_starter(path, force=force)
    except _Exists:
        _fail(f"a config already exists at {path}",
              "edit it in any editor (JSON5: comments are fine) or with `ccr model`; "
              "`ccr init --force` backs it up and writes a fresh starter")
    except (ConfigError, OSError) as exc:
        if debug or _debug_env():
            traceback.print_exc()
        _fail(f"cannot write {path}: {exc}", "check that the folder is writable, or pass "
              "--config with another path")
    if backup is not None:
        typer.echo(f"Backed up the old config to {backup}")
    typer.echo(f"Wrote a starter config to {path}")
    typer.echo("")
    typer.echo("Next steps:")
    typer.echo(f"  set {STARTER_KEY_VARIABLE}, then `ccr code`:")
    typer.echo(f"    export {STARTER_KEY_VARIABLE}=sk-...   (or put the key in the file)")
    typer.echo("    ccr code")
    typer.echo("  Change routes and models with `ccr model`; every key is explained in the file.")


class _Exists(Exception):
    """The config file is there and --force was not given."""


def _write_starter(path: Path, *, force: bool) -> Path | None:
    if path.exists() and not force:
        raise _Exists
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    return write_text_atomic(path, STARTER_CONFIG)


def _debug_env() -> bool:
    return os.environ.get("CCR_DEBUG", "").strip().lower() in ("1", "true", "yes")


def _fail(message: str, hint: str, code: int = 1) -> NoReturn:
    typer.echo(f"ccr: {message}\nhint: {hint}", err=True)
    raise typer.Exit(code)
