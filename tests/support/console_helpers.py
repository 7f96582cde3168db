"""A real ccr server for console tests: in-process, started from a config *file* (so saves,
backups and reloads happen as in production), with a client that logs in like the page does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from sanic import Sanic

from ccr.config import load_config
from ccr.engine.engine import Engine
from ccr.ui.token import ensure_token
from tests.support.ccr_server import CcrServer

#: A provider key long enough to show its last four characters; it must never reach a client.
SECRET_KEY = "sk-console-test-7f3a9c1e5b2d8f60"
CLIENT_KEY = "ccr-client-key-0c4f1a9e7d3b"


def write_config(path: Path, config: dict[str, Any] | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config if isinstance(config, str) else json.dumps(config, indent=2))


class ConsoleServer(CcrServer):
    """:class:`CcrServer` running the config at ``config_path`` (watched, as ``ccr serve``)."""

    def __init__(self, config_path: Path, home: Path) -> None:
        super().__init__({}, home)
        self.config_path = config_path
        self.state.engine = Engine.build(load_config(config_path),
                                         stores=self.state.engine.stores)

    def start(self) -> ConsoleServer:
        super().start()
        # Saves wait for the config watcher's reload: check the file often, so tests are quick.
        for app in Sanic._app_registry.values():
            if getattr(app.ctx, "state", None) is self.state and app.ctx.watcher is not None:
                app.ctx.watcher.interval_s = 0.05
        return self

    @property
    def token(self) -> str:
        return ensure_token(self.state.home)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=f"{self.base_url}/ui/api/", timeout=20, trust_env=False,
                            **kwargs)

    def login(self) -> tuple[httpx.Client, str]:
        """A client holding the session cookie, and the CSRF token the login answered."""
        client = self.client()
        answer = client.post("login", json={"token": self.token})
        assert answer.status_code == 200, answer.text
        return client, answer.json()["csrf"]
