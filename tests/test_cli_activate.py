"""``ccr activate``: shell lines that, evaluated, point clients at ccr; ``--unset`` undoes them.

bash is run for real (``eval "$(ccr activate)"``); fish and PowerShell are checked as text, and
run too where they are installed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccr.cli.activate import Shell, merge_no_proxy, quote
from ccr.cli.main import app
from tests.support.cli_helpers import CcrHome, start

pytestmark = pytest.mark.e2e

TRICKY = "it's a \"key\" with $HOME, `cmd`, \\ and spaces"
#: TRICKY as written in a config, where ``$$`` is a literal ``$``.
TRICKY_IN_CONFIG = TRICKY.replace("$", "$$")
VARIABLES = ("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY", "API_TIMEOUT_MS",
             "DISABLE_TELEMETRY", "DISABLE_COST_WARNINGS", "NO_PROXY")
CCR = f"{sys.executable} -m ccr"


@pytest.fixture
def ccr(tmp_path: Path) -> Iterator[CcrHome]:
    with CcrHome(tmp_path) as home:
        yield home


def bash(ccr: CcrHome, script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in bash with ``$CCR`` naming the ccr command."""
    full_env = {**ccr.env, "CCR": CCR, **env}
    for name in ("NO_PROXY", "no_proxy", "CCR_SAVED_NO_PROXY", *VARIABLES):
        if name not in env:
            full_env.pop(name, None)
    return subprocess.run(["bash", "-c", script], env=full_env, capture_output=True, text=True,
                          timeout=30)


PRINT_ALL = "; ".join(
    f'printf "%s=%s|%s\\n" {name} "${{{name}-<unset>}}" "${{{name}+set}}"' for name in VARIABLES)


def evaluated(output: str) -> dict[str, str | None]:
    """``NAME=value|set`` lines back to a dict (None for an unset variable)."""
    values: dict[str, str | None] = {}
    for line in output.splitlines():
        name, _, rest = line.partition("=")
        value, _, is_set = rest.rpartition("|")
        values[name] = value if is_set == "set" else None
    return values


def test_bash_evaluates_every_variable_to_its_exact_value(ccr: CcrHome) -> None:
    ccr.write_config({"PORT": ccr.port, "APIKEY": TRICKY_IN_CONFIG, "API_TIMEOUT_MS": 90000})
    result = bash(ccr, f'eval "$($CCR activate --shell bash)"; {PRINT_ALL}')
    assert result.returncode == 0, result.stderr
    values = evaluated(result.stdout)
    assert values == {
        "ANTHROPIC_BASE_URL": ccr.url,
        "ANTHROPIC_AUTH_TOKEN": TRICKY,
        "ANTHROPIC_API_KEY": "",
        "API_TIMEOUT_MS": "90000",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_COST_WARNINGS": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }


def test_the_shell_defaults_to_the_one_named_by_the_shell_variable(ccr: CcrHome) -> None:
    result = bash(ccr, f'eval "$($CCR activate)"; {PRINT_ALL}', SHELL="/bin/bash")
    assert evaluated(result.stdout)["ANTHROPIC_BASE_URL"] == ccr.url
    fish = bash(ccr, "$CCR activate", SHELL="/usr/local/bin/fish")
    assert f"set -gx ANTHROPIC_BASE_URL '{ccr.url}'" in fish.stdout


def test_an_existing_no_proxy_is_kept_and_extended(ccr: CcrHome) -> None:
    result = bash(ccr, f'eval "$($CCR activate --shell bash)"; {PRINT_ALL}',
                  NO_PROXY="corp.example,localhost")
    assert evaluated(result.stdout)["NO_PROXY"] == "corp.example,localhost,127.0.0.1"


def test_unset_removes_the_variables_and_restores_the_users_no_proxy(ccr: CcrHome) -> None:
    script = (f'eval "$($CCR activate --shell bash)"; eval "$($CCR activate --shell bash '
              f'--unset)"; {PRINT_ALL}; printf "saved=%s\\n" "${{CCR_SAVED_NO_PROXY-<unset>}}"')
    result = bash(ccr, script, NO_PROXY="corp.example")
    assert result.returncode == 0, result.stderr
    values = evaluated(result.stdout)
    assert values.pop("NO_PROXY") == "corp.example"
    assert all(value is None for value in values.values())
    assert "saved=<unset>" in result.stdout


def test_unset_removes_no_proxy_when_the_user_had_none(ccr: CcrHome) -> None:
    script = (f'eval "$($CCR activate --shell bash)"; eval "$($CCR activate --shell bash '
              f'--unset)"; {PRINT_ALL}')
    values = evaluated(bash(ccr, script).stdout)
    assert values["NO_PROXY"] is None and values["ANTHROPIC_BASE_URL"] is None


def test_activating_twice_still_restores_the_original_no_proxy(ccr: CcrHome) -> None:
    script = (f'eval "$($CCR activate)"; eval "$($CCR activate)"; '
              f'eval "$($CCR activate --unset)"; {PRINT_ALL}')
    values = evaluated(bash(ccr, script, NO_PROXY="corp.example", SHELL="/bin/bash").stdout)
    assert values["NO_PROXY"] == "corp.example"


def test_a_running_server_address_wins_over_the_config(ccr: CcrHome) -> None:
    from tests.support.ccr_server import free_port

    port = free_port()
    start(ccr, "--port", str(port))
    result = bash(ccr, f'eval "$($CCR activate --shell bash)"; {PRINT_ALL}')
    assert evaluated(result.stdout)["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{port}"
    assert "nothing answers" not in result.stderr


def test_a_note_on_stderr_says_when_nothing_answers(ccr: CcrHome) -> None:
    result = bash(ccr, "$CCR activate --shell bash")
    assert "ccr start" in result.stderr
    assert result.stdout.startswith("export ANTHROPIC_BASE_URL=")


def test_an_invalid_config_is_an_error_not_shell_lines(ccr: CcrHome) -> None:
    ccr.config.write_text('{"PORT": "x"}')
    result = bash(ccr, "$CCR activate --shell bash")
    assert result.returncode == 2
    assert result.stdout == "" and "invalid configuration" in result.stderr


# --------------------------------------------------------------------------------------------
# fish and PowerShell syntax


@pytest.fixture
def runner(ccr: CcrHome, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CCR_HOME", str(ccr.home))
    for name in ("NO_PROXY", "no_proxy", "CCR_SAVED_NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    ccr.write_config({"PORT": ccr.port, "APIKEY": TRICKY_IN_CONFIG})
    return CliRunner()


def test_fish_lines_use_set_gx_with_fish_quoting(runner: CliRunner, ccr: CcrHome) -> None:
    result = runner.invoke(app, ["activate", "--shell", "fish"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert f"set -gx ANTHROPIC_BASE_URL '{ccr.url}'" in lines
    assert ("set -gx ANTHROPIC_AUTH_TOKEN "
            "'it\\'s a \"key\" with $HOME, `cmd`, \\\\ and spaces'") in lines
    assert "set -gx ANTHROPIC_API_KEY ''" in lines


def test_fish_unset_uses_set_e(runner: CliRunner) -> None:
    result = runner.invoke(app, ["activate", "--shell", "fish", "--unset"])
    assert result.exit_code == 0
    assert "set -e ANTHROPIC_BASE_URL" in result.stdout.splitlines()
    assert "set -e ANTHROPIC_AUTH_TOKEN" in result.stdout.splitlines()


def test_powershell_lines_use_env_drive_with_doubled_quotes(runner: CliRunner,
                                                           ccr: CcrHome) -> None:
    result = runner.invoke(app, ["activate", "--shell", "powershell"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert f"$env:ANTHROPIC_BASE_URL = '{ccr.url}'" in lines
    assert ("$env:ANTHROPIC_AUTH_TOKEN = "
            "'it''s a \"key\" with $HOME, `cmd`, \\ and spaces'") in lines


def test_powershell_unset_uses_remove_item(runner: CliRunner) -> None:
    result = runner.invoke(app, ["activate", "--shell", "powershell", "--unset"])
    assert result.exit_code == 0
    assert ("Remove-Item Env:ANTHROPIC_BASE_URL -ErrorAction SilentlyContinue"
            in result.stdout.splitlines())


@pytest.mark.parametrize("shell", [Shell.fish, Shell.powershell])
def test_quoted_values_read_back_unchanged_where_the_shell_is_installed(shell: Shell) -> None:
    program = {"fish": "fish", "powershell": "pwsh"}[shell.value]
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed")
    if shell is Shell.fish:
        script = f"set -l v {quote(shell, TRICKY)}; printf %s $v"
        command = [path, "-c", script]
    else:
        command = [path, "-NoProfile", "-Command", f"[Console]::Write({quote(shell, TRICKY)})"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.stdout == TRICKY


def test_merge_no_proxy_appends_only_missing_hosts() -> None:
    assert merge_no_proxy(" a.example , localhost", ["127.0.0.1", "localhost"]) == (
        "a.example,localhost,127.0.0.1")
    assert merge_no_proxy(None, ["127.0.0.1"]) == "127.0.0.1"
