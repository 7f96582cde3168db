"""Starting the fake upstream and ccr as real processes wired to each other on loopback."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.procs import Child, Children, hermetic_env, read_first_line, wait_until_healthy

FAKE_MODEL = "fake-model"
PROVIDER_KEY = "sk-bench-upstream-key"


@dataclass(frozen=True)
class Server:
    child: Child
    base_url: str


@dataclass(frozen=True)
class FakeServer(Server):
    chat_url: str
    loop: str


def start_fake(children: Children) -> FakeServer:
    """The fake OpenAI upstream in its own interpreter (see :mod:`bench.fake_server`)."""
    child = children.spawn(
        "fake-upstream",
        [sys.executable, "-m", "bench.fake_server"],
        env=hermetic_env(),
        stdout_pipe=True,
    )
    port, _, loop = read_first_line(child).partition(" ")
    base = f"http://127.0.0.1:{int(port)}"
    return FakeServer(child, base, chat_url=f"{base}/v1/chat/completions", loop=loop or "?")


def router_config(chat_url: str, port: int) -> dict[str, object]:
    """A CCR-style config whose one provider is the fake upstream; logging off."""
    return {
        "HOST": "127.0.0.1",
        "PORT": port,
        "LOG": False,
        "Providers": [{
            "name": "fake",
            "api_base_url": chat_url,
            "api_key": PROVIDER_KEY,
            "models": [FAKE_MODEL],
        }],
        "Router": {"default": f"fake,{FAKE_MODEL}"},
    }


def start_ccr(
    children: Children, workdir: Path, chat_url: str, port: int, *, profile_out: Path | None
) -> Server:
    """``python -m ccr serve`` with a throw-away home; under cProfile when ``profile_out``."""
    home = workdir / "ccr-home"
    home.mkdir(parents=True, exist_ok=True)
    config_path = home / "config.json"
    config_path.write_text(json.dumps(router_config(chat_url, port), indent=2))
    command = [sys.executable]
    if profile_out is not None:
        command += ["-m", "cProfile", "-o", str(profile_out)]
    command += ["-m", "ccr", "serve", "--config", str(config_path), "--port", str(port)]
    user_home = workdir / "user-home"
    user_home.mkdir(parents=True, exist_ok=True)
    env = hermetic_env(CCR_HOME=str(home), HOME=str(user_home))
    child = children.spawn("ccr", command, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(child, f"{base}/health")
    return Server(child, base)
