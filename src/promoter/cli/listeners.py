"""The listening sockets of ``promoter serve --processes N``: one for each API process,
all bound to the one address with SO_REUSEPORT, so that the kernel spreads new connections
over the processes evenly (by a hash of each connection's addresses and ports).

With one socket shared by every process (uvicorn's own way), whichever process wakes first
accepts every connection waiting: the 32 connections wrk opens at once went 31 to one
process and 1 to the other, whose group commits then held one message each
(benchmarks/processes.py). A client that keeps its connections open (Segment's destination,
its libraries) stays with that one process.

The command's process keeps every socket open. A process that dies leaves its socket
listening: the connections the kernel gives it meanwhile wait in its queue for the
replacement, which takes over the same socket, instead of being refused. Where SO_REUSEPORT
is missing (Windows) the processes share one socket.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field


class BindError(Exception):
    """The address could not be listened on; the message says why."""


def reuse_port_supported() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


@dataclass
class Listeners:
    """The sockets the API processes accept connections from: ``socket_of(i)`` for the
    i-th process."""

    host: str
    port: int
    family: socket.AddressFamily
    #: One socket shared by every process (no SO_REUSEPORT).
    shared: bool
    sockets: list[socket.socket] = field(default_factory=list)

    def socket_of(self, index: int) -> socket.socket:
        return self.sockets[0 if self.shared else index]

    def add(self) -> socket.socket:
        """The socket for one more process (the last index)."""
        if self.shared:
            return self.sockets[0]
        self.sockets.append(self._bind(reuse_port=True))
        return self.sockets[-1]

    def remove_last(self) -> None:
        """Close the last process's socket, before that process stops: once the process
        has closed its own copy, the kernel gives new connections to the others."""
        if not self.shared and len(self.sockets) > 1:
            self.sockets.pop().close()

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()

    def _bind(self, *, reuse_port: bool) -> socket.socket:
        sock = socket.socket(self.family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self.host, self.port))
            sock.set_inheritable(True)
        except OSError as exc:
            sock.close()
            raise BindError(f"cannot listen on {self.host}:{self.port}: {exc.strerror}") from None
        return sock


def bind_listeners(host: str, port: int, processes: int) -> Listeners:
    """Sockets for ``processes`` API processes on ``host:port`` (port 0: one the system
    picks, the same for all).

    The address is first bound without SO_REUSEPORT, and kept that way if it must be
    shared: so a port another server holds, even one whose sockets allow SO_REUSEPORT
    (a second ``promoter serve`` started on it by mistake), fails here rather than
    silently splitting the connections with it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listeners = Listeners(host, port, family, shared=not reuse_port_supported())
    first = listeners._bind(reuse_port=False)
    listeners.port = first.getsockname()[1]
    if listeners.shared:
        listeners.sockets.append(first)
        return listeners
    first.close()
    try:
        for _ in range(processes):
            listeners.sockets.append(listeners._bind(reuse_port=True))
    except BindError:
        listeners.close()
        raise
    return listeners
