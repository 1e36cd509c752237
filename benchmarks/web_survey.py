"""Web survey benchmark: the time from a customer's page starting to load to the survey
shown, in Chromium, and the script's weight.

A customer's page (its own origin, a small threaded HTTP server) loads /w/promoter.js
from a real ``promoter serve`` (SQLite) set up as a customer would through the REST API:
the web survey enabled for the page's origin, a web campaign triggered by a track event.
Each run is a new visitor (a contact the customer's server made through the Tracking API)
in a fresh browser context, the page identifying them (signed), in two cases:

- **due**: the customer's server sent the trigger event before the visit, so the survey
  is due when the page loads: the script asks for it (one call) and shows it;
- **tracked on the page**: the page itself tracks the trigger: the script sends the
  track, then asks (two calls, one after the other).

Measured from the navigation's start to the widget's ``promoter:shown`` performance mark
(the frame after the card is in the page); the median over ``--runs`` of each case.

    .venv/bin/python benchmarks/web_survey.py [--runs 20]

See benchmarks/README.md ("Web survey").
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
from machine import describe
from playwright.sync_api import Browser, sync_playwright
from survey_page import CHROMIUM, CHROMIUM_ARGS, running

from promoter.web.widget_script import SCRIPT
from promoter.websurveys.identity import sign_user

TRIGGER = "Bench Viewed"
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>App</title>
<script src="/app.js"></script>
<script src="{promoter}/w/promoter.js" data-site-key="{site_key}" async></script>
</head><body><h1>App</h1></body></html>"""
APP = (
    "window.promoter = window.promoter || function () {"
    " (promoter.q = promoter.q || []).push(arguments); };\n"
    "const given = new URLSearchParams(location.search);\n"
    "promoter('identify', given.get('u'), {}, {signature: given.get('s')});\n"
    "if (given.get('t')) promoter('track', given.get('t'));\n"
)


@contextmanager
def customer_site() -> Iterator[tuple[str, dict[str, bytes]]]:
    """The customer's site: its URL, and its files by path (``/`` is the page, which the
    caller writes once it knows the Promoter URL; ``/app.js`` its script)."""
    files = {"/app.js": APP.encode()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            body = files.get(path, b"")
            self.send_response(200 if body else 404)
            self.send_header(
                "Content-Type", "text/javascript" if path.endswith(".js") else "text/html"
            )
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", files
    finally:
        server.shutdown()
        server.server_close()


def set_up(url: str, key: str, origin: str) -> tuple[str, str]:
    """The web survey enabled for ``origin``, a web campaign on TRIGGER (the others
    paused): the site key and the identity secret."""
    auth = {"Authorization": f"Token {key}"}

    def call(method: str, path: str, **body: Any) -> Any:
        answer = httpx2.request(method, f"{url}/api/v2/{path}", json=body or None, headers=auth)
        answer.raise_for_status()
        return answer.json()

    settings = call("PUT", "web-survey/", allowed_origins=[origin], enabled=True)
    campaigns = call("GET", "campaigns/")["results"]
    for campaign in campaigns:
        call("POST", f"campaigns/{campaign['id']}/pause/")
    call(
        "POST",
        "campaigns/",
        name="In the app",
        email=campaigns[0]["email"],
        channel="web",
        trigger_events=[TRIGGER],
        delay_minutes=0,
    )
    return settings["site_key"], settings["identity_secret"]


def known_contacts(url: str, key: str, users: list[str], triggered: list[str]) -> None:
    """The visitors as contacts, from the customer's server through the Tracking API (a
    page describes and surveys known contacts only); the ``triggered`` ones with the
    trigger event too."""
    batch: list[dict[str, Any]] = [
        {"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com"}}
        for user in users
    ]
    batch += [{"type": "track", "userId": user, "event": TRIGGER} for user in triggered]
    sent = httpx2.post(f"{url}/v1/batch", json={"batch": batch}, auth=(key, ""))
    sent.raise_for_status()


#: Milestones of one page view (ms from the navigation's start): the script loaded, the
#: survey's answer received, the survey shown.
MILESTONES = """() => {
  const end = (part) => Math.max(0, ...performance.getEntriesByType('resource')
    .filter(e => e.name.endsWith(part)).map(e => e.responseEnd));
  return [end('/w/promoter.js'), end('/w/v1/survey'),
          performance.getEntriesByName('promoter:shown')[0].startTime];
}"""


def shown_ms(browser: Browser, page_url: str) -> list[float]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(page_url)
        page.locator("promoter-survey [role=dialog]").wait_for(timeout=20_000)
        page.wait_for_function("() => performance.getEntriesByName('promoter:shown').length")
        milestones: list[float] = page.evaluate(MILESTONES)
        return milestones
    finally:
        context.close()


def run(runs: int) -> dict[str, list[list[float]]]:
    """The milestones of each run of each case."""
    with (
        tempfile.TemporaryDirectory() as workdir,
        sync_playwright() as p,
        customer_site() as (site, files),
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            with running(Path(workdir), None) as server:
                site_key, secret = set_up(server.url, server.key, site)
                files["/"] = PAGE.format(promoter=server.url, site_key=site_key).encode()
                due = [f"due-{n}" for n in range(runs)]
                tracked = [f"tracked-{n}" for n in range(runs)]
                known_contacts(server.url, server.key, due + tracked, triggered=due)
                cases = {"due": (due, ""), "tracked on the page": (tracked, f"&t={TRIGGER}")}
                times = {}
                for case, (users, track) in cases.items():
                    pages = [f"{site}/?u={u}&s={sign_user(secret, u)}{track}" for u in users]
                    times[case] = [shown_ms(browser, page) for page in pages]
                return times
        finally:
            browser.close()


def browser_version() -> str:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        version = browser.version
        browser.close()
    return version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    size = len(gzip.compress(SCRIPT.read_bytes(), compresslevel=9))
    times = run(args.runs)
    args.backend = "sqlite"
    print(describe(args, f"Chromium {browser_version()}"))
    print(f"promoter.js: {len(SCRIPT.read_bytes()):,} bytes, {size:,} gzipped")
    print(f"page load to survey shown, against promoter serve (SQLite), {args.runs} runs each:")
    for case, runs in times.items():
        script, answered, shown = (statistics.median(m) for m in zip(*runs, strict=True))
        low, high = min(r[2] for r in runs), max(r[2] for r in runs)
        print(
            f"  {case}: median {shown:.0f} ms (min {low:.0f}, max {high:.0f}); medians of "
            f"the script loaded {script:.0f} ms, the survey's answer {answered:.0f} ms"
        )


if __name__ == "__main__":
    main()
