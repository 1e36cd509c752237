"""Helpers of the web survey browser tests: a real Promoter server made ready through its
REST API as a customer would (the web survey enabled for the customer's origin, a web
campaign triggered by a track event, its visitors known contacts), what its database then
holds, and the browser side: a network guard (nothing leaves this machine), the widget's
calls to the server as Playwright sees them, and the widget itself (its locators pierce
the open shadow root)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Request, Response, Route
from sqlalchemy import Connection, Table, select

from promoter.storage.engine import Database
from promoter.storage.tables import (
    contact_attributes,
    contacts,
    events,
    response_answers,
    responses,
    surveys,
)
from promoter.websurveys.identity import sign_user
from tests.browser.customer_site import CustomerPage, CustomerSite
from tests.conftest import Org
from tests.credentials import basic, token
from tests.e2e.conftest import ServerProcess

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
#: The console's line for a request the server refused (a forged signature, say).
REFUSED = ("Failed to load resource: the server responded with a status of 403",)
#: A well-formed signature that no secret made.
FORGED = "ab" * 32
TRIGGER = "Report Viewed"
BRAND = "Acme"
BRAND_COLOR = "#f7c948"
#: Asked after the score: one to everybody (required), one to detractors, one to
#: promoters, one optional text to everybody.
QUESTIONS = [
    {"id": "why", "text": "What matters most?", "type": "single",
     "choices": ["Price", "Support"], "required": True},
    {"id": "fix", "text": "What should we fix first?", "type": "multiple",
     "choices": ["Bugs", "Docs"], "audience": "detractors"},
    {"id": "ease", "text": "How easy was setup?", "type": "scale", "audience": "promoters"},
    {"id": "more", "text": "Anything else?", "type": "text"},
]  # fmt: skip
WIDGET_CALLS = "/w/v1/"
#: The known contact the tests' pages sign in.
VISITOR = "web-1"


# The server, set up as a customer would.


@dataclass(frozen=True)
class WebSurvey:
    """The organization's web survey settings and its web campaign."""

    site_key: str
    secret: str
    campaign_id: int
    #: A campaign by email (paused), for surveys sent before the visit.
    email_campaign_id: int

    def sign(self, user_id: str) -> str:
        return sign_user(self.secret, user_id)


def _api(site: ServerProcess, org: Org, method: str, path: str, **body: Any) -> Any:
    answer = httpx.request(
        method, f"{site.url}/api/v2/{path}", json=body or None, headers=token(org.key)
    )
    assert answer.status_code < 300, f"{method} {path}: {answer.status_code} {answer.text}"
    return answer.json() if answer.content else None


def set_up(site: ServerProcess, org: Org, origin: str) -> WebSurvey:
    """Web survey enabled for ``origin``; a web campaign triggered by TRIGGER with no
    delay, asking QUESTIONS, its template's brand BRAND in BRAND_COLOR; every other
    campaign of the organization paused."""
    settings = _api(site, org, "PUT", "web-survey/", allowed_origins=[origin], enabled=True)
    existing = _api(site, org, "GET", "campaigns/")["results"]
    for campaign in existing:
        if campaign["status"] == "active":
            _api(site, org, "POST", f"campaigns/{campaign['id']}/pause/")
    template = existing[0]["email"]
    _api(site, org, "PATCH", f"email/{template}/", brand_name=BRAND, brand_color=BRAND_COLOR)
    campaign = _api(
        site,
        org,
        "POST",
        "campaigns/",
        name="In the app",
        email=template,
        channel="web",
        trigger_events=[TRIGGER],
        delay_minutes=0,
        questions=QUESTIONS,
    )
    secret = settings["identity_secret"]
    return WebSurvey(settings["site_key"], secret, campaign["id"], existing[0]["id"])


def known_contact(site: ServerProcess, org: Org, user_id: str, **traits: str) -> None:
    """The contact (with ``traits``), from the customer's server through the Tracking API
    (a page cannot create contacts, only describe and survey known ones)."""
    email = {"email": f"{user_id}@example.com"}
    _segment(site, org, "identify", userId=user_id, traits=email | traits)


def tracked(site: ServerProcess, org: Org, user_id: str, event: str = TRIGGER) -> None:
    """``event`` for the contact, from the customer's server through the Tracking API."""
    _segment(site, org, "track", userId=user_id, event=event)


def _segment(site: ServerProcess, org: Org, kind: str, **message: Any) -> None:
    sent = httpx.post(f"{site.url}/v1/{kind}", json=message, headers=basic(org.key))
    assert sent.status_code == 200, sent.text


@dataclass(frozen=True)
class CustomerApp:
    """The customer's app on its own origin and the real Promoter it surveys its visitors
    with: the server, the organization, its web survey, its database."""

    site: ServerProcess
    org: Org
    web: WebSurvey
    customer: CustomerSite
    database: Database

    def publish(self, name: str, script: str, **options: Any) -> str:
        """The app's page ``name`` (``CustomerPage``, ``options``) loading promoter.js from
        the server, its own ``script`` counting the page's CSP violations first; its URL."""
        page = CustomerPage(
            self.site.url, self.web.site_key, script=COUNT_VIOLATIONS + script, **options
        )
        return page.publish(self.customer, name)


# What the database holds.


def surveys_of(database: Database, user_id: str) -> list[dict[str, Any]]:
    """The surveys of the contact with ``user_id``, oldest first, as rows."""
    return _rows_of(database, surveys, user_id)


def responses_of(database: Database, user_id: str) -> list[dict[str, Any]]:
    return _rows_of(database, responses, user_id)


def events_of(database: Database, user_id: str) -> list[dict[str, Any]]:
    """The events recorded for the contact (an identify records none, a track one)."""
    return _rows_of(database, events, user_id)


def _rows_of(database: Database, table: Table, user_id: str) -> list[dict[str, Any]]:
    with database.read() as conn:
        found = conn.execute(
            select(table)
            .join(contacts, contacts.c.id == table.c.contact_id)
            .where(contacts.c.user_id == user_id)
            .order_by(table.c.id)
        )
        return [dict(row._mapping) for row in found]


def attributes_of(database: Database, user_id: str) -> dict[str, str | None]:
    """The contact's text attributes (its traits but the email and names), by name."""
    with database.read() as conn:
        found = conn.execute(
            select(contact_attributes.c.name, contact_attributes.c.value_text)
            .join(contacts, contacts.c.id == contact_attributes.c.contact_id)
            .where(contacts.c.user_id == user_id)
        )
        return {name: value for name, value in found}


def contact_id_of(conn: Connection, user_id: str) -> int:
    found = conn.execute(select(contacts.c.id).where(contacts.c.user_id == user_id))
    return int(found.scalar_one())


def answers_of(database: Database, response_id: int) -> dict[str, list[str]]:
    """A response's answers to follow-up questions, by question id."""
    with database.read() as conn:
        found = conn.execute(
            select(response_answers.c.question_id, response_answers.c.value)
            .where(response_answers.c.response_id == response_id)
            .order_by(response_answers.c.question_id, response_answers.c.position)
        )
        answers: dict[str, list[str]] = {}
        for question_id, value in found:
            answers.setdefault(question_id, []).append(value)
        return answers


# The customer's page scripts.


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


def signed_in(web: WebSurvey, user: str, traits: dict[str, Any] | None = None) -> str:
    """The customer's page script: the visitor identified (signed) and the trigger
    tracked, so that a survey is due."""
    return identify(user, web.sign(user), traits) + f"promoter('track', {TRIGGER!r});\n"


def on_load(script: str) -> str:
    """``script`` run once the page has loaded (after the async promoter.js has run), as a
    signed-in app calls analytics.identify after a sign-in."""
    return f"addEventListener('load', () => {{\n{script}}});\n"


# The browser.


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


@dataclass(frozen=True)
class Call:
    """A call of the widget to the server: its path after /w/v1/ and its JSON body."""

    path: str
    body: dict[str, Any]


@dataclass
class Tab:
    """A browser tab on the customer's site: its ``page``, the console's errors and CSP
    reports, the requests refused for leaving this machine, and the widget's ``calls``
    (with the ``statuses`` the server answered them with, by path)."""

    page: Page
    context: BrowserContext
    errors: list[str] = field(default_factory=list)
    csp: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    statuses: list[tuple[str, int]] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [call.path for call in self.calls]

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [call.body for call in self.calls if call.path == path]

    def check_clean(self, *, allowed_errors: tuple[str, ...] = ()) -> None:
        errors = [e for e in self.errors if not e.startswith(allowed_errors)]
        assert not errors, f"the browser reported errors: {errors}"
        assert not self.csp, f"Content-Security-Policy reports: {self.csp}"
        assert not self.left, f"requests left this machine: {self.left}"

    def _request(self, request: Request) -> None:
        path = widget_path(request.url)
        if path is not None and request.method == "POST":
            self.calls.append(Call(path, json.loads(request.post_data or "{}")))

    def _response(self, response: Response) -> None:
        path = widget_path(response.url)
        if path is not None and response.request.method == "POST":
            self.statuses.append((path, response.status))


def widget_path(url: str) -> str | None:
    """The path after /w/v1/ of a call of the widget's, else None."""
    path = urlsplit(url).path
    return path.removeprefix(WIDGET_CALLS) if path.startswith(WIDGET_CALLS) else None


def open_tab(context: BrowserContext) -> Tab:
    """A new tab of ``context``, watched, its requests guarded (``guard_network``)."""
    context.set_default_timeout(20_000)
    tab = Tab(context.new_page(), context, left=guard_network(context))

    def console(kind: str, text: str) -> None:
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            tab.csp.append(text)
        elif kind == "error":
            tab.errors.append(text)

    tab.page.on("console", lambda m: console(m.type, m.text))
    tab.page.on("pageerror", lambda e: tab.errors.append(str(e)))
    tab.page.on("request", tab._request)
    tab.page.on("response", tab._response)
    return tab


@contextmanager
def customer_tab(chromium: Browser, **options: Any) -> Iterator[Tab]:
    """A tab (``open_tab``) of a new browser context made with ``options``."""
    context = chromium.new_context(**options)
    try:
        yield open_tab(context)
    finally:
        context.close()


def reply_to(path: str) -> Callable[[Response], bool]:
    """For ``page.expect_response``: the server's answer to the widget's call at ``path``."""
    return lambda r: r.request.method == "POST" and widget_path(r.url) == path


def wait_until(page: Page, condition: Callable[[], object], timeout: float = 15.0) -> None:
    """Poll ``condition`` (something the test process sees: the database, the calls seen)
    until it holds, letting Playwright deliver the page's events meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        page.wait_for_timeout(50)


def quiet(page: Page) -> None:
    """Wait until promoter.js has run the page's commands and the page's network has been
    idle (no request for 500 ms), for a test that checks that nothing was sent."""
    page.wait_for_function("() => window.promoter && window.promoter.loaded")
    page.wait_for_load_state("networkidle")


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
    """The widget's styles and boxes (once it has come to rest: ``at_rest``)."""
    at_rest(page)
    found: dict[str, Any] = page.evaluate(COMPUTED, STYLE_NAMES)
    return found


#: Resolves once the widget's animations (its card sliding in) have finished.
FINISHED = """() => Promise.all(document.querySelector('promoter-survey').shadowRoot
  .querySelector('[role=dialog]').getAnimations({subtree: true}).map((a) => a.finished))"""


def at_rest(page: Page) -> None:
    """Wait until the widget has finished sliding in: its colours and boxes are final
    (for axe-core, a screenshot, computed styles)."""
    page.evaluate(FINISHED)
