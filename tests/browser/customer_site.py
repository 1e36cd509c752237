"""A customer's web app for the web survey tests: an HTTP server in a thread on its own
port (a second origin beside Promoter's), serving the pages a test writes, Segment's real
analytics.js from node_modules (its settings given inline, its events sent to this same
server), and keeping every request it gets.

A page loads nothing inline: its own script is a file of the site, so that a strict
Content-Security-Policy (``script-src 'self'``) holds on it.
"""

from __future__ import annotations

import html
import json
import mimetypes
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
#: analytics-next's browser build: ``AnalyticsNext.AnalyticsBrowser`` (and its chunks).
ANALYTICS = NODE_MODULES / "@segment" / "analytics-next" / "dist" / "umd"
WRITE_KEY = "customer-write-key"


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    body: bytes


@dataclass
class Page:
    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


class CustomerSite:
    """Pages by path (``add``); ``hits`` every request, in order."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(
        self, path: str, body: str | bytes, content_type: str, headers: Mapping[str, str] = {}
    ) -> str:
        """Serve ``body`` at ``path``; its URL."""
        data = body.encode() if isinstance(body, str) else body
        self.pages[path] = Page(data, content_type, dict(headers))
        return self.url + path

    def segment_calls(self) -> list[dict[str, object]]:
        """What analytics.js sent to its Segment API (here, this site's /v1/...)."""
        return [json.loads(h.body) for h in self.hits if h.path.startswith("/v1/")]

    def _find(self, path: str) -> Page | None:
        if path in self.pages:
            return self.pages[path]
        if path.startswith("/segment/"):
            file = ANALYTICS / path.removeprefix("/segment/")
            if file.resolve().parent == ANALYTICS.resolve() and file.is_file():
                kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                return Page(file.read_bytes(), kind)
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                with site._lock:
                    site.hits.append(Hit(self.command, path, body))
                if self.command == "POST" and path.startswith("/v1/"):
                    page: Page | None = Page(b'{"success": true}', "application/json")
                else:
                    page = site._find(path)
                if page is None:
                    page = Page(b"Not found", "text/plain")
                    self.send_response(404)
                else:
                    self.send_response(200)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Content-Length", str(len(page.body)))
                self.send_header("Cache-Control", "no-store")
                for name, value in page.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(page.body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@contextmanager
def customer_site() -> Iterator[CustomerSite]:
    site = CustomerSite()
    site.start()
    try:
        yield site
    finally:
        site.stop()


#: Loads analytics.js with its settings inline: nothing is fetched from Segment's CDN,
#: and its Segment.io destination sends to this site's /v1/.
SEGMENT_LOADER = """window.analytics = AnalyticsNext.AnalyticsBrowser.load({
  writeKey: %(key)s,
  cdnURL: location.origin,
  cdnSettings: {integrations: {"Segment.io": {apiKey: %(key)s, apiHost: location.host + "/v1",
    protocol: "http"}}},
});
"""


@dataclass(frozen=True)
class CustomerPage:
    """A page of the customer's app. ``script`` runs first (the customer's own code, a file
    of the site); ``snippet`` adds the Promoter script tag; ``segment`` loads analytics.js
    before it; ``csp`` is sent as the page's Content-Security-Policy."""

    promoter: str
    site_key: str
    script: str = ""
    segment: bool = False
    snippet: bool = True
    css: str = ""
    csp: str | None = None
    nonce: str | None = None
    language: str | None = None
    body: str = '<main><h1>Acme dashboard</h1><p><label>Search <input id="search"></label>' + (
        "</p><p><button id='other'>Other button</button></p></main>"
    )

    def publish(self, site: CustomerSite, name: str) -> str:
        """Serve the page (and its files) at ``/{name}``; its URL."""
        head = [
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>Acme</title>",
        ]
        if self.css:
            site.add(f"/{name}.css", self.css, "text/css")
            head.append(f'<link rel="stylesheet" href="/{name}.css">')
        if self.segment:
            loader = SEGMENT_LOADER % {"key": json.dumps(WRITE_KEY)}
            site.add(f"/{name}-segment.js", loader, "text/javascript")
            head.append('<script src="/segment/index.js"></script>')
            head.append(f'<script src="/{name}-segment.js"></script>')
        stub = (
            "window.promoter = window.promoter || function () {"
            " (promoter.q = promoter.q || []).push(arguments); };\n"
        )
        site.add(f"/{name}.js", stub + self.script, "text/javascript")
        head.append(f'<script src="/{name}.js"></script>')
        if self.snippet:
            extra = "".join(
                f' data-{k}="{html.escape(v)}"'
                for k, v in (("nonce", self.nonce), ("language", self.language))
                if v
            )
            head.append(
                f'<script src="{self.promoter}/w/promoter.js"'
                f' data-site-key="{html.escape(self.site_key)}"{extra} async></script>'
            )
        document = (
            '<!DOCTYPE html><html lang="en"><head>'
            + "".join(head)
            + "</head><body>"
            + self.body
            + "</body></html>"
        )
        headers = {"Content-Security-Policy": self.csp} if self.csp else {}
        return site.add(f"/{name}", document, "text/html; charset=utf-8", headers)
