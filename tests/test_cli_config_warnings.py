"""Config warnings (typos, CCR-only keys) are printed where a user looks: when ``ccr serve``
starts and in ``ccr status``; ``ccr serve`` on a busy port names it as ``ccr start`` does."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ccr_server import free_port
from tests.support.serve_process import ServeProcess

pytestmark = pytest.mark.e2e

TYPO_CONFIG = {"LOG": False, "Routr": {"default": "x,y"}, "plugins": []}


def write(folder: Path, data: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    path.write_text(json.dumps(data))
    return path


def ccr(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(CCR_HOME=str(home), HOME=str(home))
    return subprocess.run([sys.executable, "-m", "ccr", *args], capture_output=True,
                          text=True, env=env, timeout=60)


def test_serve_prints_config_warnings_at_start(tmp_path: Path) -> None:
    config = write(tmp_path / "cfg", TYPO_CONFIG)
    server = ServeProcess(home=tmp_path / "home", config_path=config)
    output = server.stop()
    assert 'config: Routr: unknown key, ignored (did you mean "Router"?)' in output
    assert "config: plugins: ignored: a CCR key ccr does not support" in output


def test_status_prints_config_warnings(tmp_path: Path) -> None:
    config = write(tmp_path / "home", TYPO_CONFIG)
    result = ccr("status", "--config", str(config), home=tmp_path / "home")
    assert result.returncode == 3
    assert 'config warning: Routr: unknown key, ignored (did you mean "Router"?)' in result.stdout
    as_json = json.loads(ccr("status", "--json", "--config", str(config),
                             home=tmp_path / "home").stdout)
    assert any(w.startswith("Routr:") for w in as_json["config_warnings"])


def test_serve_on_a_busy_port_names_it_with_a_hint(tmp_path: Path) -> None:
    port = free_port()
    config = write(tmp_path / "home", {"LOG": False, "PORT": port})
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = ccr("serve", "--config", str(config), home=tmp_path / "home")
    assert result.returncode == 1
    assert f"ccr: port {port} on 127.0.0.1 is already in use by another program" in result.stderr
    assert "hint: " in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr
