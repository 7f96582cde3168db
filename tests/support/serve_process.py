"""A real ``python -m ccr serve`` process for tests that need one: a free port, its own
``CCR_HOME``, output kept in a file, started only once ``/health`` answers for its own pid."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Self

import httpx

from tests.support.ccr_server import free_port

PROJECT = Path(__file__).resolve().parents[2]


class ServeProcess:
    def __init__(self, *, home: Path, config_path: Path | None = None,
                 env: dict[str, str] | None = None, start_timeout_s: float = 20.0,
                 apikey: str | None = None, args: list[str] | None = None) -> None:
        home.mkdir(parents=True, exist_ok=True)
        #: Sent to /health, which shows the pid only to a client with the key.
        self.auth = {"x-api-key": apikey} if apikey else {}
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        environ.update(CCR_HOME=str(home), **(env or {}))
        argv = [sys.executable, "-m", "ccr", "serve", "--port", str(self.port)]
        if config_path is not None:
            argv += ["--config", str(config_path)]
        argv += args or []
        self.output_path = home.parent / f"serve-{self.port}.out"
        with open(self.output_path, "wb") as output:
            self.proc = subprocess.Popen(argv, cwd=PROJECT, env=environ, stdout=output,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._wait_healthy(start_timeout_s)

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ccr serve exited with {self.proc.returncode}:\n"
                                   f"{self.output()}")
            try:
                health = httpx.get(f"{self.url}/health", timeout=0.5, headers=self.auth)
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            if health.status_code == 200 and health.json().get("pid") == self.proc.pid:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"ccr serve did not answer /health in {timeout_s:g}s:\n"
                           f"{self.output()}")

    def health(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/health", timeout=5, headers=self.auth).json()

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> dict[str, Any]:
        """``/health`` once ``predicate(health)`` holds, or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            health = self.health()
            if predicate(health) or time.monotonic() > deadline:
                return health
            time.sleep(0.1)

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def stop(self) -> str:
        """Stop the server (SIGTERM, then SIGKILL after 10 s); everything it printed."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.output()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
