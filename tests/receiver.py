"""A webhook receiver for the tests: an HTTP server on 127.0.0.1, in a thread, that keeps
every request it gets and answers as the test says."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # senders connect side by side


class Receiver:
    """An HTTP server in a thread that keeps every request; ``respond(request)`` decides
    the status code (200 by default), ``delay`` holds each answer that many seconds;
    ``refusal`` is the body of a non-2xx answer, ``reason`` its reason phrase."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.respond: Callable[[Request], int] = lambda request: 200
        self.delay = 0.0
        self.refusal = b"<html>Internal  error</html>"
        self.reason: str | None = None
        #: Headers added to each answer (``Retry-After``, say).
        self.answer_headers: Callable[[Request], dict[str, str]] = lambda request: {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                request = Request(self.path, dict(self.headers.items()), self.rfile.read(length))
                with receiver._lock:
                    receiver.requests.append(request)
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.respond(request)
                body = b"ok" if status < 300 else receiver.refusal
                try:
                    self.send_response(status, None if status < 300 else receiver.reason)
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in receiver.answer_headers(request).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the sender gave up waiting
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    @property
    def base(self) -> str:
        """The receiver's origin, to use as a host (``{base}/v1/batch``)."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
