"""Dashboard benchmark: how fast the dashboard's pages load on the analytics dataset.

The analytics benchmark's data (``analytics_data.py``: 200,000 contacts, 1,000,000
responses, 1,000,000 events by default) in a SQLite file and a PostgreSQL database; a
dashboard user and a saved segment in its organization; then, per backend, a real
``promoter serve`` process, signed in over HTTP. The first page triggers the analytics
columns' background load (timed on its own); once they are loaded each page is fetched
once, then ``--repeat`` times in rounds, and the CSV export's time to first byte is
measured. See benchmarks/README.md ("Dashboard pages").

    .venv/bin/python benchmarks/dashboard.py [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2
import orjson
from analytics_data import END
from ingest import HOST, free_port, server_environment, wait_healthy
from machine import describe
from sqlalchemy import func, select

from analytics import postgres_for, prepare
from promoter.accounts.passwords import Passwords
from promoter.accounts.users import create_user
from promoter.analytics.segments import SegmentNotFound, create_segment, get_segment
from promoter.storage.campaign_counts import compact
from promoter.storage.engine import Database
from promoter.storage.migrate import upgrade
from promoter.storage.tables import campaigns, events, responses, users

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
EMAIL = "dashboard-bench@example.com"
PASSWORD = "dashboard benchmark password"
SEGMENT_NAME = "Bigger plans or core EU"
#: The saved segment: the analytics benchmark's OR shape.
SEGMENT_FILTER = {
    "or": [
        {"attribute": "plan", "op": "in", "value": ["Business", "Enterprise"]},
        {"attribute": "country", "op": "in", "value": ["DE", "FR", "NL"]},
    ]
}
#: The breakdown's numeric buckets (mrr, in the currency's units).
MRR_BUCKETS = "100,500,1000,5000,10000"
#: The target: every page within this at the 95th percentile; slower pages are called
#: out, and profiled with --profile.
SLOW_MS = 300.0
#: The comment search of the feedback page (a word of one of the generated comments).
SEARCH = "expensive"
LOADED = re.compile(r"analytics columns of organization (\d+) loaded")
RESPONSES = re.compile(r"([0-9][0-9,]*) responses?</span>")
PAGE_OF = re.compile(r"Page ([0-9,]+) of ([0-9,]+)")
ERROR = re.compile(r'<p class="error" role="alert">([^<]*)</p>')
#: Rows of the CSV export counted for its "first rows" time (one read batch).
EXPORT_ROWS = 2000


# --- data and fixtures ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fixture:
    """What the pages ask about, found or made in the loaded database."""

    organization_id: int
    segment_id: int
    #: The contact with the most events (ties, among the first 50 by id: the most
    #: responses, then the lowest id).
    contact_id: int
    contact_events: int
    contact_responses: int
    #: The behaviour condition's days: the 30 days up to the data's end, from today.
    within_days: int
    #: The newest response with a comment (the feedback page of one response).
    response_id: int
    #: The organization's first campaign (its page and its email's preview).
    campaign_id: int


def behaviour_days(today: datetime) -> int:
    """``within_days`` that covers the dataset's last 30 days (it ends at ``END``; the
    dashboard counts days back from now)."""
    return max(30, (today - END).days + 30)


def set_up(url: str, organization_id: int, today: datetime) -> Fixture:
    """The dashboard user and the saved segment (made once, kept with the data), and the
    contact whose profile is read."""
    database = Database.from_url(url)
    try:
        upgrade(database.engine)
        with database.write() as conn:
            if conn.scalar(select(users.c.id).where(users.c.email == EMAIL)) is None:
                create_user(
                    conn,
                    Passwords(),
                    organization_id=organization_id,
                    email=EMAIL,
                    password=PASSWORD,
                )
            try:
                segment = get_segment(conn, organization_id=organization_id, segment=SEGMENT_NAME)
            except SegmentNotFound:
                segment = create_segment(
                    conn,
                    organization_id=organization_id,
                    name=SEGMENT_NAME,
                    filter=SEGMENT_FILTER,
                )
            # The campaigns' counts merged, as a server's housekeeping round does every ten
            # minutes: the bulk load leaves a row of counts per survey sent and answered.
            compact(conn)
        with database.read() as conn:
            count = func.count().label("n")
            top = conn.execute(
                select(events.c.contact_id, count)
                .where(events.c.organization_id == organization_id)
                .group_by(events.c.contact_id)
                .order_by(count.desc(), events.c.contact_id)
                .limit(50)
            ).all()
            most = top[0].n
            candidates = [row.contact_id for row in top if row.n == most]
            answered = {
                row.contact_id: row.n
                for row in conn.execute(
                    select(responses.c.contact_id, func.count().label("n"))
                    .where(responses.c.contact_id.in_(candidates))
                    .group_by(responses.c.contact_id)
                )
            }
            contact = min(candidates, key=lambda c: (-answered.get(c, 0), c))
            response_id = conn.scalar(
                select(func.max(responses.c.id)).where(
                    responses.c.organization_id == organization_id,
                    responses.c.comment.is_not(None),
                )
            )
            campaign_id = conn.scalar(
                select(func.min(campaigns.c.id)).where(
                    campaigns.c.organization_id == organization_id
                )
            )
        return Fixture(
            organization_id=organization_id,
            segment_id=segment.id,
            contact_id=int(contact),
            contact_events=int(most),
            contact_responses=answered.get(contact, 0),
            within_days=behaviour_days(today),
            response_id=int(response_id),
            campaign_id=int(campaign_id),
        )
    finally:
        database.dispose()


@dataclass(frozen=True, slots=True)
class Page:
    key: str
    label: str
    url: str


def pages(fixture: Fixture) -> list[Page]:
    behaviour = {
        "and": [
            {"attribute": "plan", "op": "eq", "value": "Premium"},
            {"event": "Order Completed", "within_days": fixture.within_days},
        ]
    }
    flt = orjson.dumps(behaviour).decode()

    def q(path: str, **params: str) -> str:
        return path + ("?" + urlencode(params) if params else "")

    segment = str(fixture.segment_id)
    contact = f"{fixture.contact_events} events, {fixture.contact_responses} responses"
    campaign = f"/campaigns/{fixture.campaign_id}"
    return [
        Page("overview", "overview, last 12 months (default)", "/"),
        Page("overview-all", "overview, all time", q("/", range="all")),
        Page("overview-week", "overview, weekly trend", q("/", every="week")),
        Page(
            "overview-filter",
            f"overview, plan = Premium AND did Order Completed within {fixture.within_days} days",
            q("/", filter=flt),
        ),
        Page(
            "overview-segment", "overview, saved segment (plan OR country)", q("/", segment=segment)
        ),
        Page("breakdown-country", "breakdown by country", q("/breakdown", by="country")),
        Page(
            "breakdown-mrr",
            f"breakdown by mrr, buckets {MRR_BUCKETS}",
            q("/breakdown", by="mrr", buckets=MRR_BUCKETS),
        ),
        Page(
            "breakdown-segment",
            "breakdown by plan, saved segment",
            q("/breakdown", by="plan", segment=segment),
        ),
        Page("feedback", "feedback, page 1", "/feedback"),
        Page("feedback-200", "feedback, page 200", q("/feedback", page="200")),
        Page("feedback-filter", "feedback, that filter, page 1", q("/feedback", filter=flt)),
        Page(
            "feedback-filter-50",
            "feedback, that filter, page 50",
            q("/feedback", filter=flt, page="50"),
        ),
        Page(
            "feedback-segment-50",
            "feedback, saved segment, page 50",
            q("/feedback", segment=segment, page="50"),
        ),
        Page("feedback-search", f"feedback, search '{SEARCH}'", q("/feedback", search=SEARCH)),
        Page(
            "feedback-search-20",
            f"feedback, search '{SEARCH}', page 20",
            q("/feedback", search=SEARCH, page="20"),
        ),
        Page("feedback-one", "one response", f"/feedback/{fixture.response_id}"),
        Page("contact", f"contact profile ({contact})", f"/contacts/{fixture.contact_id}"),
        Page("contacts", "contacts list", "/contacts"),
        Page("campaigns", "campaigns", "/campaigns"),
        Page("campaign", "a campaign", campaign),
        Page("campaign-new", "new campaign", "/campaigns/new"),
        Page("campaign-preview", "a campaign's preview", f"{campaign}/preview"),
        Page("settings", "settings (Segment)", "/settings/segment"),
        Page("settings-source", "settings (Segment source)", "/settings/segment-source"),
        Page("settings-web-survey", "settings (web survey)", "/settings/web-survey"),
        Page("settings-webhooks", "settings (webhooks)", "/settings/webhooks"),
        Page("settings-users", "settings (users)", "/settings/users"),
    ]


# --- the server -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def last_traceback(self) -> str:
        """The server's last logged traceback (a 500's cause), or ""."""
        text = self.log.read_text(errors="replace")
        start = text.rfind("Traceback (most recent call last)")
        return "" if start < 0 else text[start:][-3000:]

    def loaded(self, organization_id: int) -> bool:
        text = self.log.read_text(errors="replace")
        return any(int(m.group(1)) == organization_id for m in LOADED.finditer(text))


@contextmanager
def running_server(database_url: str, workdir: Path, name: str) -> Iterator[Server]:
    """``promoter serve --no-worker`` on ``database_url``; stopped at the end (SIGTERM,
    which also stops a columns load in progress, then SIGKILL if need be).

    The command is ``python -m promoter``'s entry point run with ``-c``: the same program,
    but a command line that clean-ups matching "promoter serve" by name (other people's
    servers on a shared machine) leave alone.
    """
    port = free_port()
    log = workdir / f"server-{name}-{port}.log"
    entry = "from promoter.cli import main; main()"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", entry, "serve", "--port", str(port), "--no-worker"],
            env=server_environment(database_url),
            cwd=workdir,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            # Migrations are checked and SQLite's statistics refreshed before it listens.
            wait_healthy(port, process, timeout=300)
            yield Server(port, process, log)
        except BaseException:
            sys.stderr.write(log.read_text(errors="replace")[-4000:])
            raise
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=30)


def sign_in(client: httpx2.Client) -> None:
    answer = client.post("/login", data={"email": EMAIL, "password": PASSWORD})
    if answer.status_code != 303 or "promoter_session" not in client.cookies:
        raise RuntimeError(f"sign-in failed: {answer.status_code} {answer.text[:500]}")


# --- timing -----------------------------------------------------------------------------


@dataclass(slots=True)
class Timing:
    key: str
    label: str
    url: str
    #: The first request once the columns were loaded (untimed warm-up of the rounds).
    first_ms: float | None = None
    runs_ms: list[float] = field(default_factory=list)
    size: int = 0
    #: What the page says it counted ("1,234 responses", "page 50 of 88").
    shows: str = ""
    error: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.runs_ms) if self.runs_ms else float("nan")

    @property
    def p95(self) -> float:
        return percentile(self.runs_ms, 95)

    def cells(self) -> list[str]:
        """p50, p95, min, max (ms)."""
        if self.error is not None:
            return ["failed", "", "", ""]
        return _ms(self.runs_ms)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "url": self.url,
            "first_ms": self.first_ms,
            "runs_ms": self.runs_ms,
            "median_ms": self.median if self.runs_ms else None,
            "p95_ms": self.p95 if self.runs_ms else None,
            "min_ms": min(self.runs_ms, default=None),
            "max_ms": max(self.runs_ms, default=None),
            "bytes": self.size,
            "shows": self.shows,
            "error": self.error,
        }


def fetch(client: httpx2.Client, page: Page) -> tuple[float, str]:
    """(milliseconds, HTML) of one GET; an error page or status raises."""
    started = time.perf_counter()
    answer = client.get(page.url)
    body = answer.text
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"{page.url}: {answer.status_code} {body[:300]}")
    problem = ERROR.search(body)
    if problem:
        raise RuntimeError(f"{page.url}: the page says: {problem.group(1)}")
    return elapsed, body


def shows(page: Page, body: str) -> str:
    if page.key.startswith("overview"):
        found = RESPONSES.search(body)
        return f"{found.group(1)} responses" if found else ""
    if page.key.startswith("feedback") and page.key != "feedback-one":
        found = PAGE_OF.search(body)
        return f"page {found.group(1)} of {found.group(2)}" if found else "one page"
    return ""


@dataclass(slots=True)
class ExportTiming:
    """``GET /feedback/export.csv`` (the default range, no filter), read as a browser
    starts a download: headers, the first body bytes (the CSV's header line), the first
    ``EXPORT_ROWS`` rows; then the download is dropped."""

    headers_ms: list[float] = field(default_factory=list)
    first_byte_ms: list[float] = field(default_factory=list)
    first_rows_ms: list[float] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "headers_ms": self.headers_ms,
            "first_byte_ms": self.first_byte_ms,
            f"first_{EXPORT_ROWS}_rows_ms": self.first_rows_ms,
            "error": self.error,
        }


def export_once(client: httpx2.Client, timing: ExportTiming) -> None:
    started = time.perf_counter()
    with client.stream("GET", "/feedback/export.csv") as answer:
        headers = time.perf_counter()
        if answer.status_code != 200:
            raise RuntimeError(f"export: {answer.status_code}")
        first: float | None = None
        lines = 0
        for chunk in answer.iter_bytes():
            if first is None and chunk:
                first = time.perf_counter()
            lines += chunk.count(b"\n")
            if lines > EXPORT_ROWS:  # the header line, then the rows
                break
        done = time.perf_counter()
    if first is None or lines <= EXPORT_ROWS:
        raise RuntimeError(f"export: only {lines} lines")
    timing.headers_ms.append((headers - started) * 1000)
    timing.first_byte_ms.append((first - started) * 1000)
    timing.first_rows_ms.append((done - started) * 1000)


@dataclass(slots=True)
class BackendResult:
    backend: str
    fixture: Fixture
    load_seconds: float | None
    #: The first page (the overview) right after sign-in: answered by SQL, starts the load.
    cold_ms: float | None = None
    #: From that first request until the server logged the columns as loaded.
    columns_seconds: float | None = None
    timings: list[Timing] = field(default_factory=list)
    export: ExportTiming = field(default_factory=ExportTiming)
    #: Per slow page: the functions that took most of py-spy's samples (--profile).
    profiles: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    #: 2: the server went away during the first attempt (stopped from outside).
    attempts: int = 1


class ServerGone(RuntimeError):
    """The server process ended while it was being measured (on a shared machine, most
    likely stopped by someone else's clean-up); the backend is measured again."""


def wait_for_columns(
    server: Server, organization_id: int, timeout: float, started: float
) -> float | None:
    """Seconds from ``started`` until the server logged the columns as loaded, or None."""
    while time.perf_counter() - started < timeout:
        if server.loaded(organization_id):
            return time.perf_counter() - started
        if server.process.poll() is not None:
            raise ServerGone(f"the server exited with code {server.process.returncode}")
        time.sleep(0.2)
    return None


def run_backend(
    backend: str,
    url: str,
    load_seconds: float | None,
    organization_id: int,
    workdir: Path,
    args: argparse.Namespace,
    log: Callable[[str], None],
) -> BackendResult:
    today = datetime.now(UTC)
    fixture = set_up(url, organization_id, today)
    result = BackendResult(backend, fixture, load_seconds)
    log(
        f"  {backend}: segment {fixture.segment_id}, contact {fixture.contact_id} "
        f"({fixture.contact_events} events, {fixture.contact_responses} responses)"
    )
    listed = pages(fixture)
    with (
        running_server(url, workdir, backend) as server,
        httpx2.Client(base_url=f"http://{HOST}:{server.port}", timeout=args.timeout) as client,
    ):

        def alive() -> None:
            code = server.process.poll()
            if code is not None:
                raise ServerGone(f"{backend}: the server exited with code {code}")

        def problem(key: str, exc: Exception) -> str:
            alive()
            cause = server.last_traceback() if " 500 " in str(exc) else ""
            log(f"  {backend}: {key} FAILED: {exc}" + (f"\n{cause}" if cause else ""))
            result.errors.append(
                f"{key}: {exc}" + (f" ({cause.splitlines()[-1]})" if cause else "")
            )
            return str(exc)

        sign_in(client)
        started = time.perf_counter()
        try:
            result.cold_ms, _ = fetch(client, listed[0])
        except Exception:
            alive()
            raise
        cold = f"{result.cold_ms:,.0f} ms"
        log(f"  {backend}: first overview (SQL; starts the columns' load): {cold}")
        result.columns_seconds = wait_for_columns(
            server, organization_id, args.load_timeout, started
        )
        if result.columns_seconds is None:
            note = f"the columns were not loaded within {args.load_timeout:.0f} s"
            result.errors.append(note)
            log(f"  {backend}: {note}: timing what answers meanwhile")
        else:
            log(f"  {backend}: columns loaded {result.columns_seconds:.1f} s after it")
        timings = {p.key: Timing(p.key, p.label, p.url) for p in listed}
        result.timings = list(timings.values())
        for page in listed:
            timing = timings[page.key]
            try:
                timing.first_ms, body = fetch(client, page)
            except Exception as exc:  # reported; the other pages still run
                timing.error = problem(page.key, exc)
                continue
            timing.size = len(body.encode())
            timing.shows = shows(page, body)
        for round_number in range(args.repeat):
            for page in listed:
                timing = timings[page.key]
                if timing.error is not None:
                    continue
                try:
                    elapsed, _ = fetch(client, page)
                except Exception as exc:
                    timing.error = problem(page.key, exc)
                    continue
                timing.runs_ms.append(elapsed)
            log(f"  {backend}: round {round_number + 1} of {args.repeat} done")
        for timing in result.timings:
            p50, p95, low, high = timing.cells()
            first = timing.first_ms or 0
            log(
                f"  {backend}: {timing.label}: p50 {p50} ms, p95 {p95} ms ({low} to {high}); "
                f"first {first:,.0f} ms"
            )
        for _ in range(args.repeat):
            try:
                export_once(client, result.export)
            except Exception as exc:
                result.export.error = problem("export", exc)
                break
            time.sleep(0.5)  # the server finishes the batch in hand for the dropped download
        if result.export.first_byte_ms:
            log(
                f"  {backend}: CSV export: first byte "
                f"{statistics.median(result.export.first_byte_ms):,.0f} ms, first "
                f"{EXPORT_ROWS:,} rows {statistics.median(result.export.first_rows_ms):,.0f} ms"
            )
        if args.profile is not None:
            for timing in result.timings:
                if timing.runs_ms and timing.p95 > args.slow_ms:
                    page = next(p for p in listed if p.key == timing.key)
                    try:
                        result.profiles[timing.key] = profile_page(
                            client, server, page, args.profile / f"{backend}-{page.key}.txt", args
                        )
                    except Exception as exc:
                        problem(f"profile of {page.key}", exc)
        alive()
    return result


# --- profiling --------------------------------------------------------------------------


def profile_page(
    client: httpx2.Client, server: Server, page: Page, output: Path, args: argparse.Namespace
) -> list[tuple[str, float]]:
    """py-spy on the server while the page is fetched ``--repeat`` times: the collapsed
    stacks go to ``output``; returned, the top functions by share of the busy samples
    (the innermost frames of the project's code, and the leaves)."""
    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        spy = Path(shutil.which("py-spy") or "py-spy")
    output.parent.mkdir(parents=True, exist_ok=True)
    command = [str(spy), "record", "-p", str(server.process.pid), "-f", "raw", "-o", str(output)]
    # --idle: also the samples of threads waiting (for PostgreSQL's answer, say); those of
    # idle workers and of the waiting event loop are left out by top_frames.
    command += ["--nonblocking", "--idle", "-r", "200"]
    spying = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        for _ in range(args.repeat):
            fetch(client, page)
    finally:
        spying.send_signal(signal.SIGINT)
        spying.wait(timeout=60)
    return top_frames(output)


_LINE = re.compile(r":[0-9]+\)$")
#: Frames of the project that only wait (the server's loop, the command around it).
_IDLE = ("promoter/cli/", "promoter/__main__")


def top_frames(path: Path, count: int = 6) -> list[tuple[str, float]]:
    """The busy samples' innermost function of the project (what asked), then their leaf
    function (where the time went: the driver's execute or fetch, numpy, Jinja...); each
    with its share of the busy samples. A sample is busy when a frame of the project other
    than the idle server loop is on its stack."""
    if not path.exists():
        return []
    own: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        frames = [_LINE.sub(")", f.strip()) for f in stack.split(";")]
        ours = [
            f
            for f in frames
            if "promoter/" in f and "site-packages" not in f and not any(i in f for i in _IDLE)
        ]
        if not ours:
            continue
        samples = int(number)
        total += samples
        own[ours[-1]] += samples
        leaves[frames[-1]] += samples
    if not total:
        return []
    found = [(f"in {name}", n / total) for name, n in own.most_common(count)]
    found += [(f"leaf {name}", n / total) for name, n in leaves.most_common(count // 2)]
    return found


# --- report -----------------------------------------------------------------------------

NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def percentile(values: Sequence[float], rank: float) -> float:
    """The ``rank``-th percentile of ``values``, interpolated between the two nearest runs
    (numpy's and Excel's default: the median at 50, the slowest run at 100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    at = (len(ordered) - 1) * rank / 100
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def _ms(values: Sequence[float]) -> list[str]:
    """p50, p95, min, max (ms)."""
    if not values:
        return ["", "", "", ""]
    found = (percentile(values, 50), percentile(values, 95), min(values), max(values))
    return [f"{v:,.0f}" for v in found]


def report(results: Sequence[BackendResult], args: argparse.Namespace) -> str:
    heads = " | ".join(f"{NAMES[r.backend]} p50 | p95 | min | max" for r in results)
    lines = [
        f"Milliseconds per page, {args.repeat} runs each, once the columns were loaded; "
        f"**bold**: p95 over {args.slow_ms:,.0f} ms.",
        "",
        f"| page | {heads} | the page shows | KB |",
        "|---|" + "---:|---:|---:|---:|" * len(results) + "---|---:|",
    ]
    for index, timing in enumerate(results[0].timings):
        cells = []
        for r in results:
            t = r.timings[index]
            p50, p95, low, high = t.cells()
            if t.runs_ms and t.p95 > args.slow_ms:
                p95 = f"**{p95}**"
            cells += [p50, p95, low, high]
        shown = " / ".join(
            dict.fromkeys(r.timings[index].shows for r in results if r.timings[index].shows)
        )
        kb = max(r.timings[index].size for r in results) / 1024
        lines.append(f"| {timing.label} | {' | '.join(cells)} | {shown} | {kb:,.0f} |")
    for name, attr in (
        ("CSV export: response headers", "headers_ms"),
        ("CSV export: first byte", "first_byte_ms"),
        (f"CSV export: first {EXPORT_ROWS:,} rows", "first_rows_ms"),
    ):
        cells = [cell for r in results for cell in _ms(getattr(r.export, attr))]
        lines.append(f"| {name} | {' | '.join(cells)} | | |")
    lines.append("")
    for r in results:
        name = NAMES[r.backend]
        cold = "(not measured)" if r.cold_ms is None else f"{r.cold_ms:,.0f} ms"
        loaded = "not loaded" if r.columns_seconds is None else f"{r.columns_seconds:.0f} s"
        firsts = ", ".join(
            f"{t.key} {t.first_ms:,.0f}" for t in r.timings if t.first_ms is not None
        )
        lines.append(
            f"- {name}: the first overview after sign-in (answered by SQL while it starts the "
            f"columns' load): {cold}; columns loaded after {loaded}. Each page's first request "
            f"once loaded (ms): {firsts}."
        )
        if r.attempts > 1:
            lines.append(f"- {name}: the server went away, measured again (attempt {r.attempts})")
        for key, frames in r.profiles.items():
            top = "; ".join(f"{share:.0%} {frame}" for frame, share in frames if share >= 0.01)
            lines.append(f"- {name} profile of {key}: {top}")
        for problem in r.errors:
            lines.append(f"- {name}: PROBLEM: {problem}")
    return "\n".join(lines)


def results_json(results: Sequence[BackendResult], args: argparse.Namespace) -> dict[str, Any]:
    return {
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "backends": {
            r.backend: {
                "fixture": {
                    name: getattr(r.fixture, name) for name in r.fixture.__dataclass_fields__
                },
                "load_seconds": r.load_seconds,
                "cold_ms": r.cold_ms,
                "columns_seconds": r.columns_seconds,
                "pages": {t.key: t.to_json() for t in r.timings},
                "export": r.export.to_json(),
                "profiles": r.profiles,
                "errors": r.errors,
                "attempts": r.attempts,
            }
            for r in results
        },
    }


# --- command line -----------------------------------------------------------------------


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="admin URL")
    parser.add_argument("--contacts", type=positive, default=200_000)
    parser.add_argument("--responses", type=positive, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20261129, help="random seed")
    parser.add_argument("--repeat", type=positive, default=20, help="timed runs per page")
    parser.add_argument(
        "--load-timeout", type=float, default=300.0,
        help="seconds to wait for the analytics columns after the first page",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    parser.add_argument("--data-dir", type=Path, default=None, help="where the data goes")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated data (in --data-dir, and a PostgreSQL database) and reuse it "
        "(shared with analytics.py)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="run py-spy on the server for each page slower than --slow-ms; stacks go to DIR",
    )
    parser.add_argument(
        "--slow-ms", type=float, default=SLOW_MS, help="a page's p95 over this is slow"
    )
    parser.add_argument(
        "--attempts", type=positive, default=3, help="runs per backend if the server goes away"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    if args.keep and args.data_dir is None:
        parser.error("--keep needs --data-dir")
    return args


def measured(
    backend: str,
    url: str,
    load_seconds: float | None,
    organization_id: int,
    workdir: Path,
    args: argparse.Namespace,
    log: Callable[[str], None],
) -> BackendResult:
    """``run_backend``, again from the start (a new server) when the server went away."""
    for attempt in range(1, args.attempts + 1):
        try:
            result = run_backend(backend, url, load_seconds, organization_id, workdir, args, log)
        except ServerGone as exc:
            if attempt == args.attempts:
                raise
            log(f"  {exc} during attempt {attempt}: measuring {backend} again")
            continue
        result.attempts = attempt
        return result
    raise AssertionError("unreachable")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    # Stopped with SIGTERM: unwind, so that the server is stopped and scratch data removed.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))

    def log(message: str) -> None:
        print(message, flush=True)

    import numpy

    machine = describe(args, f"NumPy {numpy.__version__}")
    log(f"machine: {machine}")
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results: list[BackendResult] = []
    root = args.data_dir or Path(tempfile.mkdtemp(prefix="promoter-dashboard-"))
    workdir = Path(tempfile.mkdtemp(prefix="promoter-dashboard-logs-"))
    try:
        root.mkdir(parents=True, exist_ok=True)
        prepared = prepare(args, root, "sqlite" in backends, log)
        org = prepared.organization_id
        for backend in backends:
            if backend == "sqlite":
                path = prepared.directory / "promoter.sqlite3"
                seconds = prepared.seconds.get("sqlite_load")
                results.append(
                    measured(backend, f"sqlite:///{path}", seconds, org, workdir, args, log)
                )
            else:
                with postgres_for(args, prepared, log) as (url, seconds):
                    results.append(measured(backend, url, seconds, org, workdir, args, log))
    finally:
        if args.data_dir is None or not args.keep:
            target = root if args.data_dir is None else root / (
                f"analytics-{args.contacts}-{args.responses}-{args.seed}"
            )  # fmt: skip
            shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)
    default = results[0].timings[0].shows if results[0].timings else ""
    print()
    print(f"Machine: {machine}.")
    print(
        f"Data: {args.contacts:,} contacts, {args.responses:,} responses (to "
        f"{END:%Y-%m-%d}), seed {args.seed}; the default range (last 12 months) on "
        f"{datetime.now(UTC):%Y-%m-%d}: {default or 'not shown'}."
    )
    print()
    print(report(results, args))
    print(f"total time {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results_json(results, args), indent=2) + "\n")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
