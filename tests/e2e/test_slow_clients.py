"""Clients that send slowly or leave early, against a real server: read timeouts close
their connections, and a client gone mid-body costs one log line, never a traceback."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import select

from promoter.storage.engine import Database
from promoter.storage.tables import contacts
from tests.credentials import basic
from tests.e2e.conftest import ServerProcess

#: How long the test waits for the server to act on a 1-second timeout (a busy machine).
pytestmark = pytest.mark.alone
PATIENCE = 20.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server with 1-second read timeouts, on a SQLite file of its own."""
    proc = ServerProcess(
        f"sqlite:///{tmp_path / 'slow.sqlite3'}",
        tmp_path,
        env={
            "PROMOTER_HEADER_TIMEOUT": "1",
            "PROMOTER_BODY_TIMEOUT": "1",
            "PROMOTER_LOG_LEVEL": "info",
        },
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def connect(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (fails if it never does)."""
    received = b""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    pytest.fail(f"the server kept the connection open for {PATIENCE:.0f} s")


def key_header(server: ServerProcess) -> bytes:
    key = _key(server)
    return b"Authorization: " + basic(key)["Authorization"].encode() + b"\r\n"


def _key(server: ServerProcess) -> str:
    for line in server.output().splitlines():
        if "API key (" in line:
            return line.split(":", 1)[1].split()[0]
    raise AssertionError(f"no API key in the server's output:\n{server.output()}")


def test_headers_that_never_finish_get_408_and_a_closed_connection(
    server: ServerProcess,
) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: applic")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"too slowly" in answer
    assert "its headers came too slowly" in server.output()


def test_a_body_that_never_finishes_closes_the_connection_and_stores_nothing(
    server: ServerProcess,
) -> None:
    body = b'{"userId": "slow", "traits": {"email": "slow@example.com"}}'
    with connect(server) as sock:
        sock.sendall(
            b"POST /v1/identify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + key_header(server)
            + f"Content-Length: {len(body) + 100}\r\n\r\n".encode()
            + body
        )
        assert read_until_closed(sock) == b""
    database = Database.from_url(server.database_url)
    try:
        with database.read() as conn:
            assert conn.execute(select(contacts.c.id)).all() == []
    finally:
        database.dispose()
    output = server.output()
    assert "its body came too slowly" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("path", ["/v1/batch", "/segment", "/login"])
def test_a_client_leaving_mid_body_costs_one_line(server: ServerProcess, path: str) -> None:
    with connect(server) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\n".encode()
            + key_header(server)
            + b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\n"
            + b"email=a"
        )
    # The server notices at its next read; a request after it shows it is still serving.
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline and f"body of POST {path}" not in server.output():
        time.sleep(0.05)
    with httpx2.Client(base_url=server.url, timeout=PATIENCE) as client:
        assert client.get("/health").status_code == 200
    output = server.output()
    assert output.count(f"left before sending the whole body of POST {path}") == 1, output
    assert "Traceback" not in output and "ClientDisconnect" not in output


def test_slow_but_steady_requests_and_idle_keep_alive_are_served(server: ServerProcess) -> None:
    with connect(server) as sock:
        for part in (b"GET /heal", b"th HTTP/1.1\r\nHo", b"st: x\r\n\r\n"):
            sock.sendall(part)
            time.sleep(0.3)
        first = sock.recv(4096)
        assert first.startswith(b"HTTP/1.1 200 "), first
        time.sleep(1.5)  # longer than the header timeout, shorter than keep-alive's 5 s
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        second = sock.recv(4096)
        assert second.startswith(b"HTTP/1.1 200 "), second
