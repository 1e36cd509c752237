"""A TCP relay in front of PostgreSQL that can play a database restart.

``outage()`` does to the server what a restart of PostgreSQL does: every open
connection is cut, and new connections are refused until it ends. The relay listens
on a port of its own, so the shared PostgreSQL server of the test run is never touched.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

BUFFER = 65536


class Relay:
    """Forwards ``127.0.0.1:<port>`` to ``target``, one pair of threads a connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.connections = 0
        self.cut = 0

    def start(self) -> None:
        """Listen (on the same port again after an outage) and accept in the background."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        """Refuse new connections and cut every open one."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:  # the pumps wake up and close them
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.cut += len(sockets) // 2

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """The database is gone for the duration of the block, then back on the same port."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    client.close()
                    upstream.close()
                    return
                self._sockets |= {client, upstream}
                self.connections += 1
            pair = _Pair(client, upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(pair, source, sink), daemon=True).start()

    def _pump(self, pair: _Pair, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(BUFFER):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            if pair.finished():
                with self._lock:
                    self._sockets -= {pair.client, pair.upstream}
                pair.client.close()
                pair.upstream.close()


class _Pair:
    """The two sockets of one relayed connection; closed when both directions end."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self._running = 2
        self._lock = threading.Lock()

    def finished(self) -> bool:
        with self._lock:
            self._running -= 1
            return self._running == 0
