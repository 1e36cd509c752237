"""End-to-end fixtures: a real ``promoter serve`` process over each test database.

The server is started with ``python -m promoter serve`` on a free port, with
``PROMOTER_DATABASE_URL`` pointing at the session's database of each backend
(``database_url`` in tests/conftest.py). Its output goes to a file under
``tmp_path``; every failure to start, or error at shutdown, shows that output.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import httpx2
import pytest

from tests.conftest import Org
from tests.credentials import token

#: Seconds the server may take to answer GET /health after it is started.
STARTUP_TIMEOUT = 30.0
#: Seconds it may take to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 10.0
#: A little over PROMOTER_KEY_CACHE_SECONDS (default 1 s): after it, the server sees a
#: changed key or webhook secret.
KEY_CACHE_SECONDS = 1.2
#: Timeout of every HTTP request of the tests (generous: the machine may be busy).
HTTP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One ``promoter serve`` process at a time, startable again on the same database.

    ``env`` adds environment variables: a mapping, or a function of the server's URL (the
    port is chosen at each start) returning one. ``args`` are added to ``promoter serve``.
    """

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        *,
        env: Mapping[str, str] | Callable[[str], Mapping[str, str]] | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.env = env
        self.args = tuple(args)
        self.log_path = workdir / "server.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0
        #: Seconds each start may take to answer GET /health, and to exit after SIGTERM.
        self.startup_timeout = STARTUP_TIMEOUT
        self.stop_timeout = STOP_TIMEOUT

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server is not running"
        return self.process.pid

    def output(self) -> str:
        if not self.log_path.exists():
            return "(no output)"
        return self.log_path.read_text(errors="replace")

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOTER_")}
        env.update(
            PROMOTER_DATABASE_URL=self.database_url,
            PROMOTER_LOG_LEVEL="warning",
            # Load and durability tests send bursts above the default per-key limits.
            PROMOTER_RATE_LIMIT_API="0",
            PROMOTER_RATE_LIMIT_INGEST="0",
            PROMOTER_RATE_LIMIT_FAILED_AUTH="0",
            PROMOTER_RATE_LIMIT_SURVEY_PAGES="0",
            # The tests' webhook receivers listen on 127.0.0.1.
            PROMOTER_WEBHOOK_ALLOW_PRIVATE="true",
            # No themes rounds: a server living past the first interval would load the
            # embedding model beside the test (tests/analytics/test_themes.py runs them).
            PROMOTER_THEMES_INTERVAL_SECONDS="0",
            # Saved analytics columns stay with the test (PostgreSQL's default folder is
            # the user's cache).
            PROMOTER_ANALYTICS_CACHE_DIR=str(self.workdir / "analytics-files"),
            PYTHONUNBUFFERED="1",
        )
        extra = self.env(self.url) if callable(self.env) else self.env
        env.update(extra or {})
        return env

    def start(self, *, same_port: bool = False) -> None:
        """Start the server and wait until GET /health answers 200.

        It listens on a new free port, or with ``same_port`` on the port of its last start
        (for a client whose host is fixed, like Segment's libraries).
        """
        assert self.process is None, "the server is already running"
        if not (same_port and self.port):
            self.port = free_port()
        self.starts += 1
        self._log = self.log_path.open("ab")
        self._log.write(f"--- start {self.starts} on port {self.port} ---\n".encode())
        self._log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "promoter", "serve", "--port", str(self.port), *self.args],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self._environment(),
            cwd=self.workdir,
        )
        self._wait_until_healthy()

    def _wait_until_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no answer yet"
        with httpx2.Client(base_url=self.url, timeout=5.0) as client:
            while time.monotonic() < deadline:
                code = self.process.poll()
                if code is not None:
                    self._forget()
                    pytest.fail(
                        f"the server exited with status {code} while starting:\n{self.output()}"
                    )
                try:
                    response = client.get("/health")
                except httpx2.TransportError as exc:
                    last_error = repr(exc)
                else:
                    if response.status_code == 200:
                        return
                    last_error = f"{response.status_code} {response.text}"
                time.sleep(0.1)
        self.stop()
        pytest.fail(
            f"the server did not answer GET /health with 200 within {self.startup_timeout:.0f} s "
            f"(last: {last_error}):\n{self.output()}"
        )

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; the exit status (None if it was killed)."""
        if self.process is None:
            return None
        process = self.process
        process.terminate()
        try:
            code: int | None = process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = None
        self._forget()
        return code

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """Wait for the process to exit by itself (after a signal sent elsewhere)."""
        assert self.process is not None, "the server is not running"
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the server did not exit within {timeout:.0f} s:\n{self.output()}")
        self._forget()
        return code

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish anything."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        self._forget()

    def _forget(self) -> None:
        if self.process is not None:
            self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


@pytest.fixture
def server(database_url: str, org: Org, tmp_path: Path) -> Iterator[ServerProcess]:
    """A running server on an empty database that holds ``org`` (created beforehand)."""
    proc = ServerProcess(database_url, tmp_path)
    proc.start()
    try:
        yield proc
    finally:
        running = proc.process is not None
        code = proc.stop()
        output = proc.output()
    # uvicorn re-raises the SIGTERM it handled once it has shut down: -SIGTERM is a clean exit.
    if running and code not in (0, -signal.SIGTERM):
        pytest.fail(f"the server did not stop cleanly on SIGTERM (status {code}):\n{output}")
    if "Traceback" in output:
        pytest.fail(f"the server logged an exception:\n{output}")


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx2.Client]:
    """A plain HTTP client pointed at the server."""
    with httpx2.Client(base_url=server.url, timeout=HTTP_TIMEOUT) as client:
        yield client


class Api:
    """The REST API of one organization, read through the real server."""

    def __init__(self, http: httpx2.Client, org: Org) -> None:
        self.http = http
        self.headers = token(org.key)

    def get(self, path: str, expected: int = 200, **params: Any) -> Any:
        response = self.http.get(path, params=params, headers=self.headers)
        assert response.status_code == expected, (path, response.status_code, response.text)
        return response.json()

    def contacts(self, **params: Any) -> list[dict[str, Any]]:
        return self.get("/api/v2/contacts/", **params)["results"]  # type: ignore[no-any-return]

    def contact(self, user_id: str) -> dict[str, Any]:
        found = self.contacts(user_id=user_id)
        assert len(found) == 1, found
        return found[0]

    def events(self, contact_id: int) -> dict[str, Any]:
        return self.get(f"/api/v2/contacts/{contact_id}/events/")  # type: ignore[no-any-return]

    def orders(self, contact_id: int) -> dict[str, Any]:
        return self.get(f"/api/v2/contacts/{contact_id}/orders/")  # type: ignore[no-any-return]


@pytest.fixture
def api(http: httpx2.Client, org: Org) -> Api:
    return Api(http, org)
