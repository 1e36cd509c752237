"""Read timeouts for the HTTP server: a request's headers, and then its body, must arrive
within a time, or the connection is closed.

uvicorn bounds only the wait between two requests of a connection (keep-alive). A client
that sends its headers, or its body, a byte at a time would hold a connection open for as
long as it liked; enough of them and no one else is served. The protocol below is
uvicorn's httptools protocol with two timers: one from the first byte of a request (or the
connection's opening) to the end of its headers, answered ``408`` when it runs out, and
one from the end of the headers to the end of the body, after which the connection is
closed (the application then sees the client gone).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("promoter.web")

_REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 38\r\nconnection: close\r\n\r\n"
    b"the request's headers came too slowly\n"
)


class ReadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with header and body read timeouts (seconds)."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0

    _read_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, self._headers_too_slow)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.header_timeout, self._headers_too_slow)

    def on_headers_complete(self) -> None:
        self._arm(self.body_timeout, self._body_too_slow)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        # Between requests uvicorn's keep-alive timeout applies; the next request's first
        # byte arms the header timer again.
        self._disarm()
        super().on_response_complete()

    def _arm(self, seconds: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, callback)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _headers_too_slow(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        log.info("closed a connection from %s: its headers came too slowly", _peer(self))
        self.transport.write(_REQUEST_TIMEOUT)
        self.transport.close()

    def _body_too_slow(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        log.info("closed a connection from %s: its body came too slowly", _peer(self))
        self.transport.close()


def _peer(protocol: HttpToolsProtocol) -> str:
    client = protocol.client
    return f"{client[0]}:{client[1]}" if client else "an unknown client"


@functools.cache
def read_timeout_protocol(*, header_timeout: float, body_timeout: float) -> type[HttpToolsProtocol]:
    """The protocol class for ``uvicorn.run(http=...)`` with these timeouts."""
    return type(
        "ReadTimeoutProtocol",
        (ReadTimeoutProtocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )


@dataclass(frozen=True)
class ReadTimeoutProtocols:
    """Makes the protocol of each connection, with these timeouts: what ``uvicorn.Config(http=...)``
    takes when it is sent to other processes (a class made at run time cannot be pickled)."""

    header_timeout: float
    body_timeout: float

    def __call__(self, **kwargs: Any) -> HttpToolsProtocol:
        protocol = read_timeout_protocol(
            header_timeout=self.header_timeout, body_timeout=self.body_timeout
        )
        return protocol(**kwargs)
