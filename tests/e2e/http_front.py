"""An HTTP front for the server that fails the first requests with 503, as a load balancer
or a restarting server does, and relays the rest.

The first ``lost_answers`` requests reach the server, which stores them, and their
answers are replaced with 503: the client must send them again, and the server must see
each message once. The next ``refused`` requests get 503 without reaching the server.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import httpx2

#: Request headers passed on to the server.
RELAYED = ("authorization", "content-type", "content-encoding", "user-agent")


@dataclass(slots=True)
class Seen:
    """One request the front received, and what it answered."""

    path: str
    content_encoding: str | None
    relayed: bool
    status: int = 0


class UnavailableFront:
    def __init__(self, upstream: str, *, lost_answers: int = 1, refused: int = 1) -> None:
        self.upstream = upstream
        self.lost_answers = lost_answers
        self.refused = refused
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._client = httpx2.Client(base_url=upstream, timeout=30.0)
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                front._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> UnavailableFront:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length)
        with self._lock:
            number = len(self.seen)
            relay = number < self.lost_answers or number >= self.lost_answers + self.refused
            fail = number < self.lost_answers + self.refused
            seen = Seen(handler.path, handler.headers.get("content-encoding"), relay)
            self.seen.append(seen)
        status, content, kind = 503, b'{"code":"unavailable","message":"try again"}', None
        if relay:
            headers = {k: v for k in RELAYED if (v := handler.headers.get(k)) is not None}
            answer = self._client.post(handler.path, content=body, headers=headers)
            if not fail:
                status, content = answer.status_code, answer.content
                kind = answer.headers.get("content-type")
        with self._lock:
            seen.status = status
        handler.send_response(status)
        handler.send_header("Content-Type", kind or "application/json")
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    def statuses(self) -> list[int]:
        with self._lock:
            return [seen.status for seen in self.seen]
