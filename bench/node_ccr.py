"""The Node.js claude-code-router 2.0.0, installed on demand into ``bench/.node``, for comparison.

Its CLI (``dist/cli.js``) serves in the foreground with ``start`` and reads
``$HOME/.claude-code-router/config.json`` (keys ``PORT``, ``HOST``, ``APIKEY``, ``Providers``,
``Router``, ``LOG``), so it runs with ``HOME`` set to a throw-away folder.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from bench.procs import Children, hermetic_env, wait_until_healthy
from bench.servers import Server, router_config

PACKAGE = "@musistudio/claude-code-router"
VERSION = "2.0.0"
NODE_DIR = Path(__file__).resolve().parent / ".node"
CLI = NODE_DIR / "node_modules" / "@musistudio" / "claude-code-router" / "dist" / "cli.js"
_MIN_NODE_MAJOR = 20
_INSTALL_TIMEOUT_S = 300


class NodeUnavailable(RuntimeError):
    """The Node.js router cannot run here; the message says why and what to do."""


def node_version() -> str:
    node = shutil.which("node")
    if node is None:
        raise NodeUnavailable("--ccr-node needs Node.js >= 20 on PATH (`node` not found)")
    out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    version = out.stdout.strip()
    match = re.match(r"v(\d+)", version)
    if not match or int(match.group(1)) < _MIN_NODE_MAJOR:
        raise NodeUnavailable(f"--ccr-node needs Node.js >= {_MIN_NODE_MAJOR}, found {version!r}")
    return version


def installed_version() -> str | None:
    manifest = CLI.parent.parent / "package.json"
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def ensure_installed() -> None:
    """``npm install --prefix bench/.node`` the pinned version unless it is already there."""
    if CLI.exists() and installed_version() == VERSION:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise NodeUnavailable("--ccr-node needs npm on PATH to install "
                              f"{PACKAGE}@{VERSION} into {NODE_DIR}")
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    print(f"installing {PACKAGE}@{VERSION} into {NODE_DIR} ...", flush=True)
    try:
        result = subprocess.run(
            [npm, "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund",
             f"{PACKAGE}@{VERSION}"],
            capture_output=True, text=True, timeout=_INSTALL_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise NodeUnavailable(f"npm install of {PACKAGE}@{VERSION} timed out") from None
    if result.returncode != 0 or not CLI.exists():
        tail = "\n".join((result.stderr or result.stdout).splitlines()[-15:])
        raise NodeUnavailable(
            f"npm could not install {PACKAGE}@{VERSION} (is the npm registry reachable?):\n{tail}"
        )


def start_node_ccr(children: Children, workdir: Path, chat_url: str, port: int) -> Server:
    """``node dist/cli.js start`` with its config in a throw-away ``$HOME``."""
    ensure_installed()
    home = workdir / "node-home"
    config_dir = home / ".claude-code-router"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.json").write_text(json.dumps(router_config(chat_url, port), indent=2))
    node = shutil.which("node") or "node"
    env = hermetic_env(HOME=str(home))
    child = children.spawn("node-ccr", [node, str(CLI), "start"], env=env, cwd=home)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(child, f"{base}/health")
    except RuntimeError as exc:
        raise NodeUnavailable(f"Node.js CCR {VERSION} did not start: {exc}") from None
    return Server(child, base)
