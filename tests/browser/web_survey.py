"""Helpers of the web survey browser tests: a network guard (nothing leaves this machine),
a stand-in Promoter answered inside the browser as the widget's contract says (for the
tests of the widget alone: no server, no database), and the widget as Playwright sees it
(its locators pierce the open shadow root)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Locator, Page, Route

from promoter.web.widget_script import MEDIA_TYPE, SCRIPT

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
#: The stand-in Promoter's origin: every request to it is answered by ``FakePromoter``,
#: none reaches the network (nothing listens on the discard port).
FAKE_PROMOTER = "http://localhost:9"
#: The console's line for a request the server refused (a forged signature, say).
REFUSED = ("Failed to load resource: the server responded with a status of 403",)
#: A well-formed signature that no secret made.
FORGED = "ab" * 32

SURVEY: dict[str, Any] = {
    "token": "tok-1",
    "language": "en",
    "dir": "ltr",
    "brand": {"name": "Acme", "color": "#f7c948", "logo_url": None},
    "text": {
        "question": "How likely are you to recommend Acme to a friend or colleague?",
        "low": "Not at all likely",
        "high": "Extremely likely",
        "comment": {
            "detractor": "What should we fix?",
            "passive": "What would make it a 10?",
            "promoter": "What do you like most?",
        },
        "comment_placeholder": "Your comment",
        "send": "Send",
        "close": "Close",
        "thanks": "Thank you!",
        "saved": "Your score is saved",
        "required": "Required",
    },
    "questions": [
        {"id": "why", "kind": "single", "text": "What matters most?",
         "options": ["Price", "Support"], "required": True, "audience": "all"},
        {"id": "fix", "kind": "multiple", "text": "What should we fix first?",
         "options": ["Bugs", "Docs"], "required": False, "audience": "detractors"},
        {"id": "ease", "kind": "scale", "text": "How easy was setup?", "options": [],
         "required": False, "audience": "promoters"},
        {"id": "more", "kind": "text", "text": "Anything else?", "options": [],
         "required": False, "audience": "all"},
    ],
    "thanks_url": None,
}  # fmt: skip


def survey(**changes: Any) -> dict[str, Any]:
    """``SURVEY`` with ``changes`` at its top level."""
    return copy.deepcopy(SURVEY) | changes


def guard_network(context: BrowserContext) -> list[str]:
    """Abort every request to a host that is not this machine; the list of their URLs."""
    left: list[str] = []

    def check(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            left.append(route.request.url)
            route.abort()

    context.route("**/*", check)
    return left


@dataclass
class FakePromoter:
    """Promoter's /w/promoter.js (the package's file) and /w/v1/ endpoints at
    ``FAKE_PROMOTER``, answered in the browser as the contract says: ``survey`` until it
    is dismissed or answered with a comment, then none. ``calls`` keeps each request's path
    (after /w/v1/) and JSON body."""

    survey: dict[str, Any] | None = field(default_factory=survey)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    url: str = FAKE_PROMOTER

    def install(self, context: BrowserContext) -> None:
        """Route the context's requests to ``url`` here (after ``guard_network``)."""
        context.route(f"{self.url}/w/promoter.js", self._script)
        context.route(f"{self.url}/w/v1/**", self._answer)

    def _script(self, route: Route) -> None:
        route.fulfill(status=200, body=SCRIPT.read_bytes(), content_type=MEDIA_TYPE)

    def paths(self) -> list[str]:
        return [path for path, _ in self.calls]

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for p, body in self.calls if p == path]

    def _answer(self, route: Route) -> None:
        request = route.request
        cors = {"Access-Control-Allow-Origin": request.headers.get("origin", ""), "Vary": "Origin"}
        path = urlsplit(request.url).path.removeprefix("/w/v1/")
        body = json.loads(request.post_data or "{}")
        self.calls.append((path, body))
        answer: dict[str, Any] = {"ok": True}
        if path == "survey":
            answer = {"survey": self.survey}
        elif path.endswith(("/dismiss", "/answer")) and ("comment" in body or "dismiss" in path):
            self.survey = None
        route.fulfill(status=200, json=answer, headers=cors)


def widget(page: Page) -> Locator:
    """The survey's dialog (inside the open shadow root of ``promoter-survey``)."""
    return page.locator("promoter-survey [role=dialog]")


def score(page: Page, n: int) -> Locator:
    return widget(page).get_by_role("radio", name=str(n), exact=True)


#: The widget's computed styles, read inside its shadow root.
COMPUTED = """(names) => {
  const root = document.querySelector('promoter-survey').shadowRoot;
  const pick = (el) => {
    const s = getComputedStyle(el);
    return Object.fromEntries(names.map(n => [n, s.getPropertyValue(n)]));
  };
  const rect = (el) => { const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width,
            height: r.height}; };
  const card = root.querySelector('[role=dialog]');
  const buttons = [...root.querySelectorAll('[role=radio]')];
  return {card: pick(card), cardBox: rect(card), host: rect(root.host),
          buttons: buttons.map(b => ({...pick(b), ...rect(b)})),
          viewport: {width: innerWidth, height: innerHeight}};
}"""

STYLE_NAMES = [
    "display", "position", "font-size", "font-family", "color", "background-color",
    "border-top-color", "border-top-width", "animation-name", "direction", "visibility",
]  # fmt: skip


def computed(page: Page) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(COMPUTED, STYLE_NAMES)
    return found


#: Given to a customer page's own script: counts the page's CSP violations.
COUNT_VIOLATIONS = """window.cspViolations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


def identify(user_id: str, signature: str | None, traits: dict[str, Any] | None = None) -> str:
    """A customer page's ``promoter('identify', ...)`` call, as script text."""
    options = {"signature": signature} if signature else {}
    args = ", ".join(json.dumps(a) for a in (user_id, traits or {}, options))
    return f"promoter('identify', {args});\n"


@dataclass
class Tab:
    """A browser tab on the customer's site: its ``page``, the console's errors and CSP
    reports, and the requests refused for leaving this machine."""

    page: Page
    context: BrowserContext
    errors: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    def check_clean(self, *, allowed_errors: tuple[str, ...] = ()) -> None:
        errors = [e for e in self.errors if not e.startswith(allowed_errors)]
        assert not errors, f"the browser reported errors: {errors}"
        assert not self.csp, f"Content-Security-Policy reports: {self.csp}"
        assert not self.left, f"requests left this machine: {self.left}"


def open_tab(context: BrowserContext) -> Tab:
    """A new tab of ``context``, watched, its requests guarded (``guard_network``)."""
    context.set_default_timeout(15_000)
    tab = Tab(context.new_page(), context, left=guard_network(context))

    def console(kind: str, text: str) -> None:
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            tab.csp.append(text)
        elif kind == "error":
            tab.errors.append(text)

    tab.page.on("console", lambda m: console(m.type, m.text))
    tab.page.on("pageerror", lambda e: tab.errors.append(str(e)))
    return tab


def wait_until(page: Page, condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``condition`` (something the test process sees, not the page) until it holds,
    waiting in Playwright meanwhile: its routes are answered only while it runs."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        page.wait_for_timeout(50)


def on_load(script: str) -> str:
    """``script`` run once the page has loaded (after the async promoter.js has run), as a
    signed-in app calls analytics.identify after a sign-in."""
    return f"addEventListener('load', () => {{\n{script}}});\n"


def settle(page: Page) -> None:
    """Let the page load and its scripts finish talking, for a test that checks that
    nothing was shown or sent."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(400)
