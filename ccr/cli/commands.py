"""Every ``ccr`` command: its name, the module that defines it, and its one-line help.

Kept as plain data so ``ccr --help`` and the dispatcher need no command module: a command's
module (and what it imports: the server, the sandbox, questionary) loads only when it runs.
"""

from __future__ import annotations

#: ``(command, module under ccr.cli, one-line help)``, in ``ccr --help`` order.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("serve", "serve", "Run ccr in the foreground (SIGTERM/Ctrl-C let open streams finish)."),
    ("start", "service", "Start ccr in the background (or say that it already runs)."),
    ("stop", "service", "Stop the background ccr, letting open streams finish."),
    ("restart", "service", "Stop the background ccr if it runs, then start it."),
    ("status", "service", "Show whether ccr runs: PID, address, uptime, config, warnings."),
    ("code", "code", "Run Claude Code through ccr; starts ccr when needed."),
    ("activate", "activate", "Print shell lines that point Claude Code at ccr."),
    ("init", "init", "Write a commented starter config."),
    ("model", "model", "Show or change Router slots, models and providers."),
    ("route", "route", "Show where requests would be routed, without calling any upstream."),
    ("statusline", "statusline", "Print one status line for Claude Code."),
    ("logs", "logs", "Print the request log (-f to follow)."),
    ("usage", "usage", "Totals from the usage ledger, grouped: table, JSON or CSV."),
    ("doctor", "doctor", "Check config, environment, port and Claude Code setup; print fixes."),
)

MODULES: dict[str, str] = {name: module for name, module, _ in COMMANDS}

SUMMARY = "Route Claude Code (and any Anthropic Messages API client) to the models you choose."


def help_text() -> str:
    """``ccr --help`` without loading typer or any command."""
    width = max(len(name) for name, _, _ in COMMANDS)
    lines = [
        "Usage: ccr [--version] [--help] COMMAND [ARGS]...",
        "",
        SUMMARY,
        "",
        "Commands:",
        *(f"  {name:<{width}}  {text}" for name, _, text in COMMANDS),
        "",
        "Run `ccr COMMAND --help` for a command's options. Most take --config PATH and --debug.",
    ]
    return "\n".join(lines) + "\n"
