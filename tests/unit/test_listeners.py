"""The listening sockets of ``promoter serve --processes N`` (promoter.cli.listeners):
one per process on one port, the kernel spreading connections over them."""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Iterator

import click
import pytest

from promoter.cli import listeners as module
from promoter.cli.listeners import BindError, Listeners, bind_listeners
from promoter.cli.processes import run_many
from promoter.config import Settings

HOST = "127.0.0.1"

pytestmark = pytest.mark.skipif(
    not module.reuse_port_supported(), reason="SO_REUSEPORT is what is tested"
)


@pytest.fixture
def made() -> Iterator[list[Listeners]]:
    made: list[Listeners] = []
    yield made
    for listeners in made:
        listeners.close()


def accepted_by_each(sockets: list[socket.socket], clients: int, port: int) -> list[int]:
    """Connect ``clients`` times to ``port``; how many connections each socket accepted."""
    for sock in sockets:
        sock.listen(clients)
        sock.setblocking(False)
    opened = [socket.create_connection((HOST, port), timeout=5) for _ in range(clients)]
    try:
        counts = [0] * len(sockets)
        for index, sock in enumerate(sockets):
            while True:
                try:
                    conn, _ = sock.accept()
                except BlockingIOError:
                    break
                conn.close()
                counts[index] += 1
        return counts
    finally:
        for client in opened:
            client.close()


def test_each_process_gets_its_own_socket_on_one_port_and_a_share_of_the_connections(
    made: list[Listeners],
) -> None:
    listeners = bind_listeners(HOST, 0, 3)
    made.append(listeners)
    assert not listeners.shared
    sockets = [listeners.socket_of(i) for i in range(3)]
    assert len({id(s) for s in sockets}) == 3
    assert {s.getsockname()[1] for s in sockets} == {listeners.port} != {0}

    counts = accepted_by_each(sockets, 90, listeners.port)
    # Spread by a hash of each connection's ports: every socket takes some (the chance
    # that one of three takes none of 90 is below 1e-15), none takes them all.
    assert sum(counts) == 90
    assert all(count > 0 for count in counts), counts


def test_a_port_another_server_holds_is_refused_even_if_it_allows_sharing(
    made: list[Listeners],
) -> None:
    plain = socket.socket()
    plain.bind((HOST, 0))
    plain.listen()
    try:
        with pytest.raises(BindError, match=f"cannot listen on {HOST}:{plain.getsockname()[1]}"):
            bind_listeners(HOST, plain.getsockname()[1], 2)
    finally:
        plain.close()

    # A second `promoter serve` on the port of a first: refused, not given half of its
    # connections.
    first = bind_listeners(HOST, 0, 2)
    made.append(first)
    for sock in first.sockets:
        sock.listen()
    with pytest.raises(BindError, match="in use"):
        bind_listeners(HOST, first.port, 2)


def test_a_process_added_gets_a_socket_and_one_removed_takes_its_socket_away(
    made: list[Listeners],
) -> None:
    listeners = bind_listeners(HOST, 0, 2)
    made.append(listeners)
    added = listeners.add()
    assert listeners.socket_of(2) is added
    assert added.getsockname()[1] == listeners.port
    # Until its process listens on it, the new socket takes no connection.
    opened = [socket.create_connection((HOST, listeners.port), timeout=5) for _ in range(30)]
    try:
        for sock in listeners.sockets:
            sock.setblocking(False)
        with pytest.raises(OSError):
            added.accept()
        taken = 0
        for sock in listeners.sockets[:2]:
            with contextlib.suppress(BlockingIOError):
                while True:
                    sock.accept()[0].close()
                    taken += 1
        assert taken == 30
    finally:
        for client in opened:
            client.close()
    counts = accepted_by_each(listeners.sockets, 60, listeners.port)
    assert all(count > 0 for count in counts), counts

    listeners.remove_last()
    assert added.fileno() == -1  # closed: the kernel no longer gives it connections
    assert len(listeners.sockets) == 2
    counts = accepted_by_each(listeners.sockets, 40, listeners.port)
    assert sum(counts) == 40 and all(count > 0 for count in counts), counts

    listeners.remove_last()
    listeners.remove_last()  # the last process's socket is kept
    assert len(listeners.sockets) == 1


def test_without_reuse_port_every_process_shares_one_socket(
    made: list[Listeners], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "reuse_port_supported", lambda: False)
    listeners = bind_listeners(HOST, 0, 3)
    made.append(listeners)
    assert listeners.shared
    assert listeners.port != 0
    only = listeners.socket_of(0)
    assert listeners.socket_of(2) is only and listeners.add() is only
    assert not only.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
    listeners.remove_last()
    assert listeners.sockets == [only] and only.fileno() != -1


def test_only_linux_spreads_connections_over_sockets_sharing_a_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # macOS and most BSDs accept SO_REUSEPORT but give every connection to one socket.
    for platform, spreads in (("linux", True), ("darwin", False), ("freebsd14", False)):
        monkeypatch.setattr(sys, "platform", platform)
        assert module.reuse_port_supported() is spreads


def test_serving_on_a_port_in_use_is_a_clear_error_before_any_process_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def never(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("no supervisor may start")

    monkeypatch.setattr("promoter.cli.processes.supervisor", never)
    held = socket.socket()
    held.bind((HOST, 0))
    held.listen()
    try:
        settings = Settings(host=HOST, port=held.getsockname()[1])
        with pytest.raises(click.ClickException, match=f"cannot listen on {HOST}:\\d+: .*in use"):
            run_many(2, settings, no_worker=True)
    finally:
        held.close()
