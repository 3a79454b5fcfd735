"""A real PostgreSQL server for the tests: started in a temporary folder, on 127.0.0.1 and a free port, stopped at the end.

The superuser `postgres` reaches it over a Unix socket in the folder (trust); the test user `curator` connects over TCP
from 127.0.0.1 with a password (scram-sha-256), so password handling is tested for real. Debian's server binaries are
used (/usr/lib/postgresql/*/bin); when they are missing and we are root, `apt-get install -y postgresql` is tried once
(a no-op where the package is installed). Under CI (CI=true) a server that cannot start fails the tests loudly;
elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

USER, PASSWORD, DATABASE = "curator", "Pg-S3cret-xyzzy-7781", "support"


@dataclass
class Server:
    host: str
    port: int
    user: str
    password: str
    database: str
    socket_dir: str

    def url(self, *, password: bool = True, driver: str = "postgresql+psycopg") -> str:
        secret = f":{self.password}" if password else ""
        return f"{driver}://{self.user}{secret}@{self.host}:{self.port}/{self.database}"

    def admin(self, sql: str, *, database: str | None = None, params=None) -> list:
        """Run SQL as the superuser (over the socket); the rows it returns."""
        import psycopg

        with psycopg.connect(host=self.socket_dir, port=self.port, user="postgres", dbname=database or self.database,
                             autocommit=True) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []


def bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_owner(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def start(folder: Path) -> tuple[Server, Path]:
    """Start a server with its data and socket in `folder`; (server, pg_ctl binary). Raises RuntimeError with the cause."""
    binaries = bin_dir()
    if binaries is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], capture_output=True, timeout=600)
        binaries = bin_dir()
    if binaries is None:
        raise RuntimeError("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): apt-get install postgresql")
    data = folder / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(data, "postgres")
    run(as_owner([str(binaries / "initdb"), "-D", str(data), "--auth-local=trust", "--auth-host=scram-sha-256",
                  "--no-sync", "-U", "postgres", "-E", "UTF8", "--locale=C"]))
    pg_ctl = binaries / "pg_ctl"
    last = ""
    for _ in range(3):  # a port found free may be taken before the server binds it
        port = free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=30"
        done = subprocess.run(as_owner([str(pg_ctl), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w",
                                        "-t", "60", "start"]), capture_output=True, text=True, timeout=90)
        if done.returncode == 0:
            server = Server("127.0.0.1", port, USER, PASSWORD, DATABASE, str(folder))
            server.admin(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'", database="postgres")
            server.admin(f"CREATE DATABASE {DATABASE} OWNER {USER}", database="postgres")
            return server, pg_ctl
        last = (done.stderr or done.stdout).strip() + " " + read_log(folder)
    raise RuntimeError(f"pg_ctl start failed: {last[-800:]}")


def read_log(folder: Path) -> str:
    try:
        return (folder / "log").read_text(errors="replace")[-800:]
    except OSError:
        return ""


def run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {(done.stderr or done.stdout).strip()[-800:]}")


def stop(pg_ctl: Path, folder: Path) -> None:
    subprocess.run(as_owner([str(pg_ctl), "-D", str(folder / "data"), "-m", "fast", "-w", "stop"]), capture_output=True,
                   timeout=60)


@pytest.fixture(scope="session")
def postgres():
    """A running PostgreSQL server (see the module's docstring); stopped and removed after the session."""
    folder = Path(tempfile.mkdtemp(prefix="curation-pg-", dir="/tmp"))  # short: the socket path must fit 107 bytes
    pg_ctl = None
    try:
        t0 = time.monotonic()
        try:
            server, pg_ctl = start(folder)
        except Exception as exc:  # noqa: BLE001 - any failure to start is reported the same way
            message = f"could not start a PostgreSQL server: {exc}"
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail(message)
            pytest.skip(message)
        server.started_in = time.monotonic() - t0
        yield server
    finally:
        if pg_ctl is not None:
            stop(pg_ctl, folder)
        shutil.rmtree(folder, ignore_errors=True)
