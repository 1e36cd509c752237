"""The listening sockets of ``promoter serve --processes N``: one for each API process,
all bound to the one address with SO_REUSEPORT, so that the kernel spreads new connections
over the processes (by a hash of each connection's addresses and ports: about evenly).

With one socket shared by every process (uvicorn's own way), whichever process wakes first
accepts every connection waiting: the 32 connections wrk opens at once went 31 to one
process and 1 to the other, whose group commits then held one message each
(benchmarks/processes.py). A client that keeps its connections open (Segment's destination,
its libraries) stays with that one process.

The command's process keeps every socket open, and listens on the first N itself, so that
the port is held from the start. A process that dies leaves its socket listening: the
connections the kernel gives it meanwhile wait in its queue for the replacement, which
takes over the same socket, instead of being refused. Linux only: other systems either
lack SO_REUSEPORT (Windows) or give every connection to one of the sockets (macOS, the
BSDs without SO_REUSEPORT_LB); there the processes share one socket.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass, field


class BindError(Exception):
    """The address could not be listened on; the message says why."""


#: Connections a socket queues before its process accepts them (uvicorn's default).
BACKLOG = 2048


def reuse_port_supported() -> bool:
    """Whether the kernel spreads connections over sockets sharing a port (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


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
        """The socket for one more process (the last index), bound but not listening: it
        takes no connection until its process listens on it."""
        if self.shared:
            return self.sockets[0]
        self.sockets.append(self._bind(reuse_port=True, listen=False))
        return self.sockets[-1]

    def remove_last(self) -> None:
        """Close the last process's socket, before that process stops: once the process
        has closed its own copy, the kernel gives new connections to the others. Those
        still queued on it then are reset, unless the kernel moves them to another
        socket (Linux's ``net.ipv4.tcp_migrate_req = 1``)."""
        if not self.shared and len(self.sockets) > 1:
            self.sockets.pop().close()

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()

    def _bind(self, *, reuse_port: bool, listen: bool) -> socket.socket:
        sock = socket.socket(self.family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self.host, self.port))
            if listen:
                sock.listen(BACKLOG)
            sock.set_inheritable(True)
        except OSError as exc:
            sock.close()
            host = f"[{self.host}]" if ":" in self.host else self.host
            raise BindError(f"cannot listen on {host}:{self.port}: {exc.strerror}") from None
        return sock


def bind_listeners(host: str, port: int, processes: int) -> Listeners:
    """Sockets for ``processes`` API processes on ``host:port`` (port 0: one the system
    picks, the same for all), listening.

    The address is first bound without SO_REUSEPORT, and kept so until the others listen
    (or for good, if the processes must share it): so a port another server holds, even
    one whose sockets allow SO_REUSEPORT (a second ``promoter serve`` started on it by
    mistake), fails here rather than silently splitting the connections with it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listeners = Listeners(host, port, family, shared=not reuse_port_supported())
    first = listeners._bind(reuse_port=False, listen=listeners.shared)
    listeners.port = first.getsockname()[1]
    if listeners.shared:
        listeners.sockets.append(first)
        return listeners
    try:
        for _ in range(processes):
            listeners.sockets.append(listeners._bind(reuse_port=True, listen=True))
    except BindError:
        listeners.close()
        raise
    finally:
        first.close()
    return listeners
