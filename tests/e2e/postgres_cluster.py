"""A PostgreSQL server of the test's own, to crash and restart without touching the
shared one the rest of the suite uses.

``initdb`` makes a cluster in a fresh folder on a free port (as the ``postgres`` user
when the tests run as root, since PostgreSQL refuses to run as root); ``crash()`` stops
it the way a power cut or ``kill -9`` would (``pg_ctl stop -m immediate``: no
checkpoint, crash recovery at the next start), and ``start()`` brings it back on the
same port.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class Cluster:
    def __init__(self, bindir: Path, folder: Path, user: str | None) -> None:
        self.bindir = bindir
        self.data = folder / "data"
        self.log = folder / "server.log"
        self.socket_dir = folder
        self.user = user
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}\n{log}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=on -c max_connections=50"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def crash(self) -> None:
        """Stop at once, as a crash would: the next start runs crash recovery."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@contextlib.contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A running cluster of the test's own; skips the test where none can be made."""
    bindir = _binaries()
    if bindir is None:
        pytest.skip("PostgreSQL's server programs (pg_ctl, initdb) are not installed here")
    user: str | None = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = "postgres"
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            pytest.skip("running as root, and there is no postgres user to run a server as")
        if shutil.which("runuser") is None:
            pytest.skip("running as root, and there is no runuser to run a server as postgres")
    folder = Path(tempfile.mkdtemp(prefix="promoter-pg-"))  # outside pytest's root-only tmp
    if user is not None:
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    cluster = Cluster(bindir, folder, user)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
