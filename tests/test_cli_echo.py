"""The fast paths print through :func:`ccr.cli.echo.echo`, which must write what ``typer.echo``
writes: the same line, ANSI escapes removed when the stream is not a terminal."""

from __future__ import annotations

import sys

import pytest
import typer

from ccr.cli.echo import echo

LINES = ["route:        deepseek,deepseek-chat", "", "fallback:     a → b",
         "script print: \x1b[31mred\x1b[0m and \x1b[1;32mbold green\x1b[0m"]


@pytest.mark.parametrize("err", [False, True], ids=["stdout", "stderr"])
@pytest.mark.parametrize("line", LINES)
def test_echo_writes_what_typer_echo_writes(line: str, err: bool,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    typer.echo(line, err=err)
    expected = capsys.readouterr()
    echo(line, err=err)
    assert capsys.readouterr() == expected


def test_ansi_escapes_are_kept_on_a_terminal(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    echo("\x1b[31mred\x1b[0m")
    assert capsys.readouterr().out == "\x1b[31mred\x1b[0m\n"
