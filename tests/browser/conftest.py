"""Browser tests: Debian's Chromium, driven by Playwright, against a real server process.

Chromium is installed by ``scripts/ensure-chromium`` (part of ``make test``); no browser is
downloaded. Screenshots are written to ``build/screenshots/`` (or ``PROMOTER_SCREENSHOTS``):
every dashboard page on a desktop and on a phone in ``pages/`` (test_layout.py), the
journeys' steps in one folder per database backend.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from promoter.accounts.passwords import Passwords
from promoter.accounts.users import create_user
from promoter.storage.engine import Database
from tests.analytics.dataset import build
from tests.browser.customer_site import CustomerSite, customer_site
from tests.browser.web_survey import (
    VISITOR,
    CustomerApp,
    Tab,
    customer_tab,
    known_contact,
    set_up,
)
from tests.conftest import Org
from tests.e2e.conftest import ServerProcess

CHROMIUM = "/usr/bin/chromium"
EMAIL = "ana@example.com"
PASSWORD = "correct horse battery"
#: Flags for a headless Chromium on a machine without network or display.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(
    os.environ.get(
        "PROMOTER_SCREENSHOTS", Path(__file__).resolve().parents[2] / "build" / "screenshots"
    )
)

pytestmark = pytest.mark.browser


# Module scope: Playwright's synchronous API keeps an event loop running in this thread
# while it is open, which other tests' asyncio.run() cannot share.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium (make test does)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def seeded(database: Database, org: Org) -> Org:
    """``org`` with a user and a small history of contacts, events and answered surveys."""
    build(database, org.id, random.Random(11), contacts_count=20, responses_count=80)
    with database.write() as conn:
        create_user(conn, Passwords(), organization_id=org.id, email=EMAIL, password=PASSWORD)
    return org


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mail"
    folder.mkdir()
    return folder


@pytest.fixture
def site(database_url: str, seeded: Org, tmp_path: Path, mail_dir: Path) -> Iterator[ServerProcess]:
    """A real ``promoter serve`` on the seeded database, its mail written to ``mail_dir``."""
    server = ServerProcess(
        database_url,
        tmp_path,
        env=lambda url: {"PROMOTER_EMAIL_URL": f"file:{mail_dir}", "PROMOTER_BASE_URL": url},
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(chromium: Browser, site: ServerProcess) -> Iterator[Page]:
    """A fresh browser context (no cookies), its console errors collected."""
    context = chromium.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if _unexpected(m.type, m.text) else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"the browser reported errors: {errors}"


#: Pages that refuse a form on purpose answer with these; the browser logs them as errors.
EXPECTED_REFUSALS = tuple(
    f"Failed to load resource: the server responded with a status of {code}"
    for code in (400, 403, 429)
)


def _unexpected(kind: str, text: str) -> bool:
    return kind == "error" and not text.startswith(EXPECTED_REFUSALS)


#: The viewports the dashboard is looked at in: a laptop's and a phone's.
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@contextmanager
def browser_context(
    chromium: Browser,
    site: ServerProcess,
    viewport: ViewportSize,
    *,
    bypass_csp: bool = False,
) -> Iterator[BrowserContext]:
    """A browser context on the site, closed at the end (``bypass_csp``: so that axe-core
    can be injected)."""
    context = chromium.new_context(base_url=site.url, viewport=viewport, bypass_csp=bypass_csp)
    context.set_default_timeout(20_000)
    try:
        yield context
    finally:
        context.close()


@contextmanager
def phone_context(
    chromium: Browser, site: ServerProcess, *, bypass_csp: bool
) -> Iterator[BrowserContext]:
    """A phone-sized browser context on the site, closed at the end."""
    with browser_context(chromium, site, PHONE, bypass_csp=bypass_csp) as context:
        yield context


def sign_in(page: Page, email: str = EMAIL, password: str = PASSWORD) -> None:
    page.goto("/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


def screenshot(page: Page, folder: str, name: str) -> Path:
    """The whole page as ``<folder>/<name>.png`` under ``SCREENSHOTS`` (the folder: the
    database backend, or ``pages`` for the walk over every page)."""
    into = SCREENSHOTS / folder
    into.mkdir(parents=True, exist_ok=True)
    path = into / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def customer() -> Iterator[CustomerSite]:
    """The customer's web app on a second origin (its own port)."""
    with customer_site() as site:
        yield site


@pytest.fixture
def app(
    site: ServerProcess, seeded: Org, customer: CustomerSite, database: Database
) -> CustomerApp:
    """The ``customer``'s app surveying its visitors with ``site``: the web survey set up
    for its origin, ``VISITOR`` a known contact."""
    web = set_up(site, seeded, customer.url)
    known_contact(site, seeded, VISITOR)
    return CustomerApp(site, seeded, web, customer, database)


@pytest.fixture
def tab(chromium: Browser) -> Iterator[Tab]:
    """A tab for the customer's site, in a fresh browser context."""
    with customer_tab(chromium, viewport={"width": 1280, "height": 900}) as opened:
        yield opened
