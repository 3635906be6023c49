"""A throwaway PostgreSQL + PostGIS server for the tests and benchmarks, on loopback, removed when done.

Debian's ``postgresql-15-postgis-3`` (``scripts/install-postgis.sh``) provides the binaries.
``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` user
(``runuser``); its data folder and socket live in one temporary folder that user owns.
Authentication is ``scram-sha-256`` for TCP with a known password (so the tests can try a
wrong one) and ``trust`` on the socket.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PASSWORD", "USER", "ThrowawayServer", "find_bin"]

USER = "odgeo"
PASSWORD = "odgeo-test-secret"


def find_bin(name: str) -> str | None:
    """A PostgreSQL server program (initdb, pg_ctl): Debian keeps them off PATH, per major version."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayServer:
    """Start with :meth:`start`, stop with :meth:`stop`; :meth:`url` names a database in it."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="odgeo-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    def start(self) -> ThrowawayServer:
        initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError("no PostgreSQL server programs (initdb, pg_ctl): run scripts/install-postgis.sh, "
                               "which installs Debian's postgresql-15-postgis-3")
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        pwfile = self.dir / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.as_postgres:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(initdb, "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile), "-A", "scram-sha-256",
                  "--auth-local", "trust", "-E", "UTF8", "--locale", "C")
        opts = f"-k {self.dir} -c listen_addresses=127.0.0.1 -p {self.port} -c fsync=off"
        done = self._run(pg_ctl, "-D", str(self.data), "-l", str(self.dir / "log"), "-o", opts, "-w", "-t", "60",
                         "start", check=False)
        if done.returncode != 0:
            log = (self.dir / "log").read_text() if (self.dir / "log").exists() else ""
            raise RuntimeError(f"the throwaway PostgreSQL server did not start: {done.stderr}{log[-2000:]}")
        return self

    def psql_env(self) -> dict[str, str]:
        """Environment that lets libpq clients reach the server with the right password."""
        return {**os.environ, "PGPASSWORD": PASSWORD}

    def url(self, dbname: str = "postgres") -> str:
        """A password-free URL (the password comes from PGPASSWORD, as odgeo requires)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str, *, postgis: bool = True) -> str:
        """A new database (with the PostGIS extension); its URL."""
        import psycopg

        with psycopg.connect(self.url(), password=PASSWORD, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        if postgis:
            with psycopg.connect(self.url(name), password=PASSWORD, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION postgis")
        return self.url(name)

    def stop(self) -> None:
        pg_ctl = find_bin("pg_ctl")
        if pg_ctl and self.data.exists():
            self._run(pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        for _ in range(20):
            try:
                shutil.rmtree(self.dir)
                return
            except OSError:
                time.sleep(0.1)
