"""Run a real ccr server (Sanic on a loopback port) inside the test process.

The server runs on its own event loop in a daemon thread, so sync clients (the ``anthropic``
SDK, httpx) talk to it over real HTTP exactly as Claude Code would.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from typing import Any

from ccr.config import parse_config
from ccr.context.projects import ProjectLocator
from ccr.context.stores import Stores
from ccr.engine.engine import Engine
from ccr.server.app import create_app
from ccr.server.state import AppState


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CcrServer:
    def __init__(self, config: dict[str, Any], home: Path, *, env: dict[str, str] | None = None,
                 claude_projects: Path | None = None) -> None:
        cfg = parse_config(config, env=env or {})
        self.state = AppState(
            engine=Engine.build(cfg, stores=Stores(
                projects=ProjectLocator(claude_projects or home / "claude-projects", home),
                home=home,
            )),
            home=home,
        )
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._error: BaseException | None = None

    def start(self) -> CcrServer:
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("ccr server did not start")
        if self._error:
            raise self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced to start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        app = create_app(self.state)
        server = await app.create_server(
            host="127.0.0.1", port=self.port, return_asyncio_server=True, access_log=False
        )
        assert server is not None
        await server.startup()
        await server.before_start()
        await server.after_start()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()

    def reconfigure(self, config: dict[str, Any], env: dict[str, str] | None = None) -> None:
        """Swap in a new engine as a reload does (the upstream pool is handed over)."""
        old = self.state.engine
        engine = Engine.build(parse_config(config, env=env or {}), stores=old.stores)
        asyncio.run_coroutine_threadsafe(engine.start(previous=old), self._loop).result(15)
        self.state.engine = engine
        asyncio.run_coroutine_threadsafe(old.aclose(), self._loop).result(15)

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def __enter__(self) -> CcrServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
