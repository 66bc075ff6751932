"""Throwaway PostgreSQL and Redis servers from Debian's packages, for the tests and the benchmarks.

Each lives in a temporary directory on a free loopback port and is gone when stopped. PostgreSQL
refuses to run as root (CI and these machines are root), so as root its programs run as the
`postgres` system user the Debian package creates; as anyone else they run as that user.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from crisiswatch.errors import CrisiswatchError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin holding initdb (Debian keeps it off the PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def scratch_dir(prefix: str, want_bytes: int = 2 << 30) -> Path:
    """A temporary directory, in memory (/dev/shm) when it has room: a test server writes and removes
    tens of thousands of small files (one database per test), which a disk makes slow."""
    shm = Path("/dev/shm")
    try:
        in_memory = shm.is_dir() and shutil.disk_usage(shm).free >= want_bytes
    except OSError:
        in_memory = False
    return Path(tempfile.mkdtemp(prefix=prefix, dir=shm if in_memory else None))


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class ThrowawayPostgres:
    """`start()` runs initdb and pg_ctl; `url(db)` is a connection URL; `stop()` removes everything."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: scratch_dir("cw-pg-"))

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> ThrowawayPostgres:
        bindir = postgres_bin()
        if bindir is None:
            raise CrisiswatchError("PostgreSQL is not installed: apt-get install postgresql (make test does)")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self.root.chmod(0o755)
        run = {"check": True, "capture_output": True, "text": True}
        subprocess.run(_as_server_user([str(bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                                        "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]), **run)
        # fsync off and no socket file: a test server that loses nothing a test needs and leaves nothing
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
                                        "-l", str(self.root / "log"), "-w", "-t", "60", "start"]), **run)
        return self

    def stop(self) -> None:
        bindir = postgres_bin()
        if bindir is not None and self.data.exists():
            subprocess.run(_as_server_user([str(bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                                            "-w", "stop"]), capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class ThrowawayRedis:
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cw-redis-")))
    process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> ThrowawayRedis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise CrisiswatchError("Redis is not installed: apt-get install redis-server (make test does)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise CrisiswatchError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)
