"""A private PostgreSQL server for the tests and the benchmarks: initdb + pg_ctl on a Unix
socket in a fresh temporary directory, fsync off, stopped at the end.

The server refuses to run as root: as root, everything runs as the ``postgres`` user
(runuser) in a ``tempfile.mkdtemp()`` directory chowned to it (pytest's own temporary base
directory is 0700 and not traversable by that user).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from typing import Optional

SUPERUSER = "fl"


def binaries() -> Optional[str]:
    """The directory holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                            key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit()
                            else 0, reverse=True):
        if os.access(os.path.join(candidate, "initdb"), os.X_OK):
            return candidate
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return os.path.dirname(os.path.realpath(found))
    return None


class PostgresServer:
    def __init__(self, bindir: str) -> None:
        self.bindir = bindir
        self.root = tempfile.mkdtemp(prefix="mfd-pg-")
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        self.log = os.path.join(self.root, "log")
        self.as_root = os.geteuid() == 0
        self.port = 5432 + (os.getpid() % 20000) + 1000
        self.running = False

    def _run(self, *argv: str) -> None:
        command = [os.path.join(self.bindir, argv[0]), *argv[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=120)

    def start(self) -> PostgresServer:
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", SUPERUSER, "-N",
                  "--no-instructions")
        options = (f"-c listen_addresses='' -k {self.root} -p {self.port} -c fsync=off "
                   "-c full_page_writes=off -c max_connections=50")
        self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-o", options, "start")
        self.running = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.root}&port={self.port}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host=self.root, port=self.port, user=SUPERUSER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def restart(self) -> None:
        """Stop (fast: every connection is cut) and start again."""
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")
        options = (f"-c listen_addresses='' -k {self.root} -p {self.port} -c fsync=off "
                   "-c full_page_writes=off -c max_connections=50")
        self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-o", options, "start")

    def restart_stopped(self) -> None:
        """Start a server stopped by a test (a no-op when it runs)."""
        options = (f"-c listen_addresses='' -k {self.root} -p {self.port} -c fsync=off "
                   "-c full_page_writes=off -c max_connections=50")
        command = [os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "status"]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        if subprocess.run(command, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode != 0:
            self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-o", options, "start")

    def stop(self) -> None:
        try:
            if self.running:
                self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            self.running = False
            shutil.rmtree(self.root, ignore_errors=True)
