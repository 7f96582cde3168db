"""A real PostgreSQL server started by the tests: ``initdb`` into a temporary folder and
``pg_ctl`` on a free loopback port (as the ``postgres`` user when the tests run as root, since
PostgreSQL refuses to run as root). Skips cleanly where PostgreSQL is not installed."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ccr_server import free_port


def postgres_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: Debian's versioned folder first, then
    ``pg_config --bindir``, then PATH (both tools must come from the same install)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                        key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
                        reverse=True)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            candidates.append(subprocess.run([pg_config, "--bindir"], capture_output=True,
                                             text=True, timeout=5).stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).parent))
    for folder in candidates:
        if folder and all((Path(folder) / tool).exists() for tool in ("initdb", "pg_ctl",
                                                                      "postgres")):
            return Path(folder)
    return None


class PostgresServer:
    def __init__(self) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
        self.bindir = bindir
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root without a 'postgres' user to run PostgreSQL as")
            self.user = "postgres"
        self.root = Path(tempfile.mkdtemp(prefix="ccr-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        if self.user:
            shutil.chown(self.root, self.user, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bindir / tool), *args]
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stdout}\n{done.stderr}")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "server.log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        except RuntimeError:
            pass

    def database(self, name: str) -> str:
        """A fresh empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def cleanup(self) -> None:
        self.stop("immediate")
        time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)


def running_postgres() -> Iterator[PostgresServer]:
    """One server for a test module or session (start-up takes a few seconds); test modules
    wrap it in a ``postgres_server`` fixture."""
    server = PostgresServer()
    try:
        yield server
    finally:
        server.cleanup()
