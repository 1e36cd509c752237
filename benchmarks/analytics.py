"""Analytics benchmark: the NPS query layer on SQLite and PostgreSQL against DuckDB.

A deterministic generator (``analytics_data.py``) makes contacts with 10 attributes of
mixed types, two years of responses with their typed snapshots, and events and orders. The
same data is loaded into a Promoter database (SQLite, PostgreSQL) and into DuckDB tables
with typed columns (the reference: what a columnar engine does with the same question).
A fixed set of query shapes runs through the service layer (``promoter.analytics``) and as
the equivalent SQL in DuckDB; every result must be identical. Then, on each backend,
responses are written by another process while filtered queries run, and every count
must lie between the counts before and after, never going down. See benchmarks/README.md.

    .venv/bin/python benchmarks/analytics.py [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from analytics_data import (
    END,
    START,
    Dataset,
    load_duckdb,
    load_postgres,
    load_sqlite,
    write_duckdb_csv,
)
from machine import describe
from scratch_postgres import postgres_database
from sqlalchemy import create_engine, delete, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from promoter.analytics.breakdown import MISSING, OTHER, breakdown
from promoter.analytics.filters import parse_filter
from promoter.analytics.query import NpsQuery, scope
from promoter.analytics.report import nps
from promoter.analytics.trend import trend
from promoter.storage.engine import Database
from promoter.storage.tables import (
    contact_attributes,
    deliveries,
    instance_settings,
    organizations,
    response_attributes,
    responses,
    surveys,
)

#: Each shape's median through the service at most this many times DuckDB's.
TARGET_RATIO = 2.0
#: The filtered NPS (30 days) on SQLite under this many milliseconds.
TARGET_SQLITE_MS = 50.0
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
#: "Now" for behaviour windows: the end of the generated two years.
NOW = END
UTC_ZONE = ZoneInfo("UTC")
#: At least this many timed runs per shape, even when the time budget is spent.
MIN_RUNS = 3
DATASET_KEY = "benchmark_analytics_dataset"
#: How long the columns path's first question (which loads the columns) may take.
LOAD_TIMEOUT = 3600.0

Kind = Literal["nps", "trend", "breakdown"]
Span = Literal["30 days", "2 years"]

# --- the query shapes -------------------------------------------------------------------

BEHAVIOUR_SINCE = (NOW - timedelta(days=90)).replace(tzinfo=None)

#: name -> (service filter, the same condition on DuckDB's wide ``responses r``)
FILTERS: dict[str, tuple[dict[str, Any] | None, str]] = {
    "none": (None, "TRUE"),
    "eq": ({"attribute": "plan", "op": "eq", "value": "Premium"}, "r.plan = 'Premium'"),
    "and": (
        {
            "and": [
                {"attribute": "plan", "op": "eq", "value": "Premium"},
                {"attribute": "is_trial", "op": "eq", "value": False},
            ]
        },
        "r.plan = 'Premium' AND r.is_trial = false",
    ),
    "or_in": (
        {
            "or": [
                {"attribute": "plan", "op": "in", "value": ["Business", "Enterprise"]},
                {"attribute": "country", "op": "in", "value": ["DE", "FR", "NL"]},
            ]
        },
        "(r.plan IN ('Business', 'Enterprise') OR r.country IN ('DE', 'FR', 'NL'))",
    ),
    "range": (
        {"attribute": "mrr", "op": "between", "value": [500, 2000]},
        "r.mrr BETWEEN 500 AND 2000",
    ),
    "behaviour": (
        {
            "event": "Order Completed",
            "within_days": 90,
            "where": [{"property": "total", "op": "gt", "value": 100}],
        },
        "EXISTS (SELECT 1 FROM events e WHERE e.contact_id = r.contact_id "
        "AND e.name = 'Order Completed' "
        f"AND e.timestamp >= TIMESTAMP '{BEHAVIOUR_SINCE.isoformat(sep=' ')}' "
        "AND e.total > 100)",
    ),
}

FILTER_LABELS = {
    "none": "no filter",
    "eq": "plan = Premium",
    "and": "plan = Premium AND is_trial = false",
    "or_in": "plan IN (Business, Enterprise) OR country IN (DE, FR, NL)",
    "range": "mrr between 500 and 2000",
    "behaviour": "Order Completed, total > 100, last 90 days",
}


@dataclass(frozen=True, slots=True)
class Shape:
    kind: Kind
    filter: str
    span: Span

    @property
    def label(self) -> str:
        what = FILTER_LABELS[self.filter]
        if self.kind == "trend":
            return f"trend by month, {what}"
        if self.kind == "breakdown":
            return f"breakdown by country (top 10), {what}"
        return f"NPS, {what}"

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.filter}:{self.span.replace(' ', '')}"

    @property
    def filtered_nps_30_days(self) -> bool:
        """The shapes the 50 ms SQLite target is about."""
        return self.kind == "nps" and self.filter != "none" and self.span == "30 days"


SHAPES: tuple[Shape, ...] = (
    *(Shape("nps", name, "30 days") for name in FILTERS),
    Shape("breakdown", "none", "30 days"),
    *(Shape("nps", name, "2 years") for name in FILTERS),
    Shape("trend", "none", "2 years"),
    Shape("trend", "eq", "2 years"),
    Shape("breakdown", "none", "2 years"),
)

#: A result in a form both engines produce: NPS -> ((distribution 0..10),); trend -> one
#: (month start, responses, promoters, detractors) per month; breakdown -> one
#: (value, responses, promoters, detractors) per row.
Result = tuple[tuple[Any, ...], ...]


def responses_in(result: Result, kind: Kind) -> int:
    if kind == "nps":
        return sum(result[0])
    return sum(row[1] for row in result)


# --- the service layer ------------------------------------------------------------------


class TimedOut(Exception):
    pass


class Watchdog:
    """Interrupts a SQLite connection whose query runs past its deadline (one thread for
    the whole run, so arming it costs next to nothing)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._target: Any = None
        self._deadline = 0.0
        self.fired = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        with self._cond:
            while True:
                if self._target is None:
                    self._cond.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                self._target.interrupt()
                self.fired = True
                self._target = None

    @contextmanager
    def armed(self, connection: Any, seconds: float) -> Iterator[None]:
        with self._cond:
            self.fired = False
            self._target, self._deadline = connection, time.monotonic() + seconds
            self._cond.notify()
        try:
            yield
        finally:
            with self._cond:
                self._target = None


EnginePath = Literal["sql", "columns"]
PATH_LABELS = {"sql": "SQL", "columns": "columns"}


@dataclass(slots=True)
class Service:
    """The service layer's analytics functions on one database, by one path: ``sql``
    (``report.nps``, ``trend.trend``, ``breakdown.breakdown``: one SQL query each) or
    ``columns`` (``engine.Analytics`` over its in-memory ``AnalyticsCache``)."""

    database: Database
    organization_id: int
    timeout: float
    path: EnginePath = "sql"
    watchdog: Watchdog = field(default_factory=Watchdog)
    engine: Any = None

    def __post_init__(self) -> None:
        if self.path == "columns":
            from promoter.analytics.engine import Analytics, AnalyticsCache

            # background=False: the first question loads the columns (and is timed alone).
            self.engine = Analytics(AnalyticsCache(self.database, background=False))

    def run(
        self,
        shape: Shape,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        timeout: float | None = None,
    ) -> Result:
        """One question through the service layer: filter parsing, scope, the report."""
        timeout = self.timeout if timeout is None else timeout
        raw_filter = FILTERS[shape.filter][0]
        if shape.span == "2 years" and since is None:
            since, until = START, END
        engine = self.engine
        try:
            with self.database.read() as conn:
                if self.database.is_sqlite:
                    guard: Any = self.watchdog.armed(conn.connection.driver_connection, timeout)
                else:
                    guard = _nothing()
                with guard:
                    query = NpsQuery(
                        organization_id=self.organization_id,
                        where=None if raw_filter is None else parse_filter(raw_filter),
                        since=since,
                        until=until,
                    )
                    found = scope(conn, query, now=NOW)
                    if shape.kind == "nps":
                        report = (nps if engine is None else engine.nps)(conn, found)
                        return (tuple(report.distribution),)
                    if shape.kind == "trend":
                        points = (trend if engine is None else engine.trend)(
                            conn, found, interval="month", zone=UTC_ZONE
                        )
                        return tuple(
                            (
                                p.start.astimezone(UTC).replace(tzinfo=None),
                                p.summary.responses,
                                p.summary.promoters,
                                p.summary.detractors,
                            )
                            for p in points
                        )
                    rows = (breakdown if engine is None else engine.breakdown)(
                        conn, found, by="country", top=10
                    ).rows
                    return tuple(
                        (r.value, r.summary.responses, r.summary.promoters, r.summary.detractors)
                        for r in rows
                    )
        except DBAPIError as exc:
            if self.watchdog.fired or "statement timeout" in str(exc.orig):
                raise TimedOut(f"over {timeout:g} s") from None
            raise


def columns_available() -> bool:
    try:
        import promoter.analytics.engine  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def _nothing() -> Iterator[None]:
    yield


# --- DuckDB -----------------------------------------------------------------------------


def _ts(value: datetime) -> str:
    return f"TIMESTAMP '{value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=' ')}'"


def duckdb_sql(shape: Shape) -> str:
    condition = FILTERS[shape.filter][1]
    if shape.span == "30 days":
        # The service's default window: the 30 days up to the latest response (half-open).
        window = (
            "WITH w AS (SELECT max(created_at) + INTERVAL 1 MICROSECOND AS until FROM responses) "
        )
        source = "responses r, w"
        bounds = "r.created_at >= w.until - INTERVAL 30 DAY AND r.created_at < w.until"
    else:
        window = ""
        source = "responses r"
        bounds = f"r.created_at >= {_ts(START)} AND r.created_at < {_ts(END)}"
    where = f"WHERE {bounds} AND {condition}"
    counts = "count(*), count(*) FILTER (WHERE r.score >= 9), count(*) FILTER (WHERE r.score <= 6)"
    if shape.kind == "nps":
        return f"{window}SELECT r.score, count(*) FROM {source} {where} GROUP BY r.score"
    if shape.kind == "trend":
        month = "date_trunc('month', r.created_at)"
        return f"{window}SELECT {month} AS m, {counts} FROM {source} {where} GROUP BY m"
    return f"{window}SELECT r.country, {counts} FROM {source} {where} GROUP BY r.country"


def month_starts(since: datetime, until: datetime) -> list[datetime]:
    day = since.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    starts = []
    while day < until:
        starts.append(day.replace(tzinfo=None))
        day = (day + timedelta(days=32)).replace(day=1)
    return starts


def top_rows(groups: Sequence[tuple[Any, int, int, int]], top: int) -> Result:
    """The breakdown's rows from per-value counts: the ``top`` values by responses (then
    value), the rest summed as OTHER, contacts without the attribute as MISSING."""
    present = sorted((g for g in groups if g[0] is not None), key=lambda g: (-g[1], g[0]))
    rows: list[tuple[Any, ...]] = [tuple(g) for g in present[:top]]
    rest = present[top:]
    if rest:
        rows.append((OTHER, *(sum(g[i] for g in rest) for i in (1, 2, 3))))
    rows += [(MISSING, *g[1:]) for g in groups if g[0] is None]
    return tuple(rows)


def duckdb_run(con: Any, shape: Shape) -> Result:
    rows = con.execute(duckdb_sql(shape)).fetchall()
    if shape.kind == "nps":
        distribution = [0] * 11
        for score, count in rows:
            distribution[score] = count
        return (tuple(distribution),)
    if shape.kind == "trend":
        found = {m: (n, p, d) for m, n, p, d in rows}
        return tuple((m, *found.get(m, (0, 0, 0))) for m in month_starts(START, END))
    return top_rows(rows, 10)


# --- timing -----------------------------------------------------------------------------


@dataclass(slots=True)
class Timing:
    #: Timed runs asked for (fewer when the time budget ran out).
    planned: int
    runs_ms: list[float] = field(default_factory=list)
    warmup_ms: float | None = None
    result: Result | None = None
    timed_out: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.timed_out is None and self.error is None and bool(self.runs_ms)

    @property
    def median(self) -> float:
        return statistics.median(self.runs_ms)

    @property
    def p95(self) -> float:
        if len(self.runs_ms) < 2:
            return self.runs_ms[0]
        return statistics.quantiles(self.runs_ms, n=20, method="inclusive")[18]

    def cell(self, *, unit: bool = False) -> str:
        """median / p95 (and the number of runs when fewer than asked for)."""
        if self.error is not None:
            return "error"
        if self.timed_out is not None:
            return f"timed out ({self.timed_out})"
        runs = "" if len(self.runs_ms) >= self.planned else f" ({len(self.runs_ms)} runs)"
        return f"{self.median:.1f} / {self.p95:.1f}{' ms' if unit else ''}{runs}"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"runs_ms": self.runs_ms, "warmup_ms": self.warmup_ms}
        if self.ok:
            data |= {"median_ms": self.median, "p95_ms": self.p95}
        if self.timed_out is not None:
            data["timed_out"] = self.timed_out
        if self.error is not None:
            data["error"] = self.error
        return data


def measure(fn: Callable[[], Result], repeat: int, budget: float) -> Timing:
    """A warm-up call (its result is the one checked), then up to ``repeat`` timed calls,
    stopping early (after at least MIN_RUNS) once ``budget`` seconds are spent. Every call
    must return the warm-up's result."""
    timing = Timing(repeat)
    started = time.perf_counter()
    try:
        timing.result = fn()
    except TimedOut as exc:
        timing.timed_out = str(exc)
        return timing
    except Exception:
        timing.error = traceback.format_exc()
        return timing
    timing.warmup_ms = (time.perf_counter() - started) * 1000
    deadline = time.monotonic() + budget
    for _ in range(repeat):
        began = time.perf_counter()
        try:
            again = fn()
        except TimedOut as exc:
            timing.timed_out = str(exc)
            return timing
        except Exception:
            timing.error = traceback.format_exc()
            return timing
        timing.runs_ms.append((time.perf_counter() - began) * 1000)
        if again != timing.result:
            timing.error = f"a repetition returned {again!r}, the warm-up {timing.result!r}"
            return timing
        if len(timing.runs_ms) >= MIN_RUNS and time.monotonic() > deadline:
            break
    return timing


@dataclass(slots=True)
class ShapeResult:
    shape: Shape
    duckdb: Timing
    #: Per path (sql, columns).
    service: dict[EnginePath, Timing]

    def matches(self, path: EnginePath) -> bool | None:
        result = self.service[path].result
        if result is None or self.duckdb.result is None:
            return None
        return result == self.duckdb.result

    def ratio(self, path: EnginePath) -> float | None:
        timing = self.service[path]
        if not (timing.ok and self.duckdb.ok):
            return None
        return timing.median / self.duckdb.median

    def ratio_met(self, path: EnginePath) -> bool:
        ratio = self.ratio(path)
        return ratio is not None and ratio <= TARGET_RATIO


# --- reads while ingestion writes -------------------------------------------------------


@dataclass(slots=True)
class WriteCheck:
    path: str
    window: tuple[datetime, datetime]
    before: dict[str, int]
    after: dict[str, int]
    written: dict[str, int]
    commits: int
    writer_seconds: float
    #: (filter, responses, ms) for every query that ran while the writer was writing.
    during: list[tuple[str, int, float]]
    idle_ms: dict[str, float]
    problems: list[str]

    def median_during(self, name: str) -> float | None:
        values = [ms for n, _, ms in self.during if n == name]
        return statistics.median(values) if values else None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "window": [self.window[0].isoformat(), self.window[1].isoformat()],
            "before": self.before,
            "after": self.after,
            "written": self.written,
            "commits": self.commits,
            "writer_seconds": self.writer_seconds,
            "queries_during": len(self.during),
            "idle_median_ms": self.idle_ms,
            "during_median_ms": {n: self.median_during(n) for n in self.idle_ms},
            "problems": self.problems,
        }


CHECKED_FILTERS = ("eq", "and")


def writer_main(spec: dict[str, Any]) -> int:
    """The ingestion side, in a process of its own: surveys answered through the service's
    ``record_score`` (a response, its snapshot copied from the contact's attributes), a few
    to a committed transaction, as fast as the database takes them."""
    from promoter.surveys.responses import find_survey, record_score

    rng = random.Random(spec["seed"])
    database = Database.from_url(spec["url"])
    counts = dict.fromkeys(("responses", *CHECKED_FILTERS), 0)
    started = time.perf_counter()
    try:
        for commit in range(spec["commits"]):
            with database.write() as conn:
                for i in range(spec["per_commit"]):
                    now = datetime.now(UTC)
                    contact_id = rng.randint(1, spec["contacts"])
                    token = f"writer-{spec['run']}-{commit}-{i}"
                    conn.execute(
                        insert(surveys).values(
                            organization_id=spec["organization_id"],
                            campaign_id=spec["campaign_id"],
                            contact_id=contact_id,
                            status="sent",
                            token=token,
                            attributes={},
                            scheduled_at=now,
                            sent_at=now,
                            created_at=now,
                        )
                    )
                    survey = find_survey(conn, token=token)
                    assert survey is not None
                    record_score(conn, survey, score=rng.randint(0, 10), now=now)
                    snapshot = dict(
                        conn.execute(
                            select(contact_attributes.c.name, contact_attributes.c.value_text)
                            .where(contact_attributes.c.contact_id == contact_id)
                            .where(contact_attributes.c.name.in_(("plan", "is_trial")))
                        ).all()
                    )
                    premium = snapshot.get("plan") == "Premium"
                    counts["responses"] += 1
                    counts["eq"] += premium
                    counts["and"] += premium and snapshot.get("is_trial") == "false"
            if commit == 0:
                print("writing", flush=True)
    finally:
        database.dispose()
    result = {
        "written": counts,
        "commits": spec["commits"],
        "seconds": time.perf_counter() - started,
    }
    print(json.dumps(result), flush=True)
    return 0


def count_of(service: Service, name: str, window: tuple[datetime, datetime]) -> int:
    # No --timeout here: this is about answers, and the columns path reloads after the
    # previous check's clean-up.
    shape = Shape("nps", name, "30 days")
    result = service.run(shape, since=window[0], until=window[1], timeout=LOAD_TIMEOUT)
    return sum(result[0])


def write_check(
    service: Service, url: str, ids: tuple[int, int], args: argparse.Namespace
) -> WriteCheck:
    """Filtered NPS questions while another process records new responses. The window is
    the default one, widened to a day past the wall clock (new responses are answered
    now), and fixed, so that the only change is the new responses."""
    database = service.database
    organization_id, campaign_id = ids
    with database.read() as conn:
        found = scope(conn, NpsQuery(organization_id=organization_id), now=NOW)
        window = (found.window.since, datetime.now(UTC) + timedelta(days=1))
        last_response = conn.execute(select(func.max(responses.c.id))).scalar_one()
        last_survey = conn.execute(select(func.max(surveys.c.id))).scalar_one()
    before = {name: count_of(service, name, window) for name in CHECKED_FILTERS}
    idle: dict[str, list[float]] = {name: [] for name in CHECKED_FILTERS}
    for _ in range(5):
        for name in CHECKED_FILTERS:
            began = time.perf_counter()
            count_of(service, name, window)
            idle[name].append((time.perf_counter() - began) * 1000)
    spec = {
        "url": url,
        "organization_id": organization_id,
        "campaign_id": campaign_id,
        "contacts": args.contacts,
        "commits": args.write_commits,
        "per_commit": args.write_per_commit,
        "seed": args.seed,
        "run": f"{service.path}-{os.getpid()}-{time.time_ns()}",
    }
    during: list[tuple[str, int, float]] = []
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--writer", json.dumps(spec)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        if first.strip() != "writing":
            raise RuntimeError(f"the writer did not start: {first!r}")
        turn = 0
        while process.poll() is None:
            name = CHECKED_FILTERS[turn % len(CHECKED_FILTERS)]
            turn += 1
            began = time.perf_counter()
            count = count_of(service, name, window)
            during.append((name, count, (time.perf_counter() - began) * 1000))
        report = json.loads(process.stdout.read().strip().splitlines()[-1])
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)
    if process.returncode != 0:
        raise RuntimeError(f"the writer exited with code {process.returncode}")
    after = {name: count_of(service, name, window) for name in CHECKED_FILTERS}
    written = report["written"]
    problems = []
    for name in CHECKED_FILTERS:
        if after[name] != before[name] + written[name]:
            problems.append(
                f"{name}: {before[name]} before + {written[name]} written, but {after[name]} after"
            )
        seen = [count for n, count, _ in during if n == name]
        if any(not before[name] <= c <= after[name] for c in seen):
            problems.append(f"{name}: a count outside [{before[name]}, {after[name]}]: {seen}")
        if any(b < a for a, b in itertools.pairwise(seen)):
            problems.append(f"{name}: a count went down while responses were only added")
    # Leave the data as it was (for --keep), as erasing responses does: the organization's
    # analytics epoch moves, so cached columns reload.
    with database.write() as conn:
        conn.execute(
            delete(response_attributes).where(response_attributes.c.response_id > last_response)
        )
        conn.execute(delete(responses).where(responses.c.id > last_response))
        conn.execute(delete(deliveries).where(deliveries.c.survey_id > last_survey))
        conn.execute(delete(surveys).where(surveys.c.id > last_survey))
        conn.execute(
            update(organizations)
            .where(organizations.c.id == organization_id)
            .values(analytics_epoch=organizations.c.analytics_epoch + 1)
        )
    restored = {name: count_of(service, name, window) for name in CHECKED_FILTERS}
    if restored != before:
        problems.append(f"after removing the written responses: {restored}, before: {before}")
    return WriteCheck(
        path=service.path,
        window=window,
        before=before,
        after=after,
        written=written,
        commits=report["commits"],
        writer_seconds=report["seconds"],
        during=during,
        idle_ms={name: statistics.median(v) for name, v in idle.items()},
        problems=problems,
    )


# --- one backend ------------------------------------------------------------------------


@dataclass(slots=True)
class BackendResult:
    backend: str
    load_seconds: float | None
    paths: tuple[EnginePath, ...]
    shapes: list[ShapeResult]
    writes: list[WriteCheck]
    #: The columns path's first question, which loads the columns.
    columns_load_ms: float | None = None
    note: str = ""
    errors: list[str] = field(default_factory=list)


def run_backend(
    backend: str,
    url: str,
    duck: Any,
    ids: tuple[int, int],
    args: argparse.Namespace,
    load_seconds: float | None,
    log: Callable[[str], None],
) -> BackendResult:
    query_url = url
    if backend == "postgresql":
        # The server cancels what runs past --timeout.
        query_url = (
            make_url(url)
            .update_query_dict({"options": f"-c statement_timeout={int(args.timeout * 1000)}"})
            .render_as_string(hide_password=False)
        )
    database = Database.from_url(query_url)
    paths: tuple[EnginePath, ...] = args.paths
    services = {path: Service(database, ids[0], args.timeout, path) for path in paths}
    result = BackendResult(backend, load_seconds, paths, [], [])
    try:
        if "columns" in services:
            # The first question loads the columns in its own transaction: no --timeout.
            started = time.perf_counter()
            services["columns"].run(Shape("nps", "none", "30 days"), timeout=LOAD_TIMEOUT)
            result.columns_load_ms = (time.perf_counter() - started) * 1000
            seconds = result.columns_load_ms / 1000
            log(f"  {backend}: the columns' first question (it loads them) took {seconds:.1f} s")
        for shape in SHAPES:
            if args.only and not any(part in shape.key for part in args.only):
                continue
            duck_timing = measure(partial(duckdb_run, duck, shape), args.repeat, args.budget)
            timings = {
                path: measure(partial(service.run, shape), args.repeat, args.budget)
                for path, service in services.items()
            }
            shape_result = ShapeResult(shape, duck_timing, timings)
            result.shapes.append(shape_result)
            same = {True: "same result", False: "DIFFERENT RESULT", None: "not compared"}
            each = "; ".join(
                f"{PATH_LABELS[path]} {t.cell(unit=True)}, {same[shape_result.matches(path)]}"
                for path, t in timings.items()
            )
            duck_cell = duck_timing.cell(unit=True)
            log(f"  {backend}: {shape.label} ({shape.span}): DuckDB {duck_cell}; {each}")
        if args.write_commits > 0:
            for service in services.values():
                try:
                    # Ask once first: after the previous check's clean-up the columns reload.
                    count_of(service, "none", (START, END))
                    check = write_check(service, url, ids, args)
                except Exception:
                    failure = traceback.format_exc()
                    result.errors.append(f"{service.path}: reads while writing failed:\n{failure}")
                    log(f"  {backend}: {service.path}: reads while writing FAILED:\n{failure}")
                    continue
                result.writes.append(check)
                log(f"  {backend}: {service.path}: reads while writing: {check.problems or 'ok'}")
    finally:
        database.dispose()
    return result


# --- data -------------------------------------------------------------------------------


@dataclass(slots=True)
class Prepared:
    """The generated data on disk (SQLite file, CSV files for DuckDB) and how long it took."""

    directory: Path
    #: A fresh database's first organization and its default campaign (checked).
    organization_id: int = 1
    campaign_id: int = 1
    seconds: dict[str, float] = field(default_factory=dict)
    reused: bool = False
    _data: Dataset | None = None

    def dataset(self, args: argparse.Namespace, log: Callable[[str], None]) -> Dataset:
        if self._data is None:
            started = time.perf_counter()
            self._data = Dataset.generate(args.contacts, args.responses, args.seed)
            self.seconds["generate"] = time.perf_counter() - started
            log(
                f"generated {args.contacts:,} contacts, {args.responses:,} responses, "
                f"{len(self._data.event_time):,} events in {self.seconds['generate']:.1f} s"
            )
        return self._data


def signature(args: argparse.Namespace) -> str:
    from analytics_data import GENERATOR_VERSION

    return f"v{GENERATOR_VERSION}:{args.contacts}:{args.responses}:{args.seed}"


def prepare(
    args: argparse.Namespace, root: Path, sqlite: bool, log: Callable[[str], None]
) -> Prepared:
    """DuckDB's CSV files and (if ``sqlite``) the SQLite database in ``root``; reused when
    ``--keep`` left them there for the same sizes and seed."""
    directory = root / f"analytics-{args.contacts}-{args.responses}-{args.seed}"
    marker = directory / "dataset.json"
    prepared = Prepared(directory)
    saved: dict[str, Any] = {}
    if marker.exists():
        saved = json.loads(marker.read_text())
        if saved.get("signature") != signature(args):
            saved = {}
    if saved:
        prepared.seconds = saved["seconds"]
        prepared.reused = True
        log(f"reusing the data in {directory} (made with --keep)")
    else:
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
    if sqlite and not saved.get("sqlite"):
        data = prepared.dataset(args, log)
        started = time.perf_counter()
        load_sqlite(directory / "promoter.sqlite3", data, log)
        prepared.seconds["sqlite_load"] = time.perf_counter() - started
        if (data.organization_id, data.campaign_id) != (1, 1):
            raise RuntimeError("a fresh database's organization and campaign should be 1 and 1")
        saved["sqlite"] = True
    if not saved.get("csv"):
        data = prepared.dataset(args, log)
        started = time.perf_counter()
        write_duckdb_csv(directory, data, log)
        prepared.seconds["duckdb_csv"] = time.perf_counter() - started
        saved["csv"] = True
    saved |= {"signature": signature(args), "seconds": prepared.seconds}
    marker.write_text(json.dumps(saved))
    return prepared


def sqlite_statistics(path: Path) -> str:
    """Planner statistics as the service keeps them: ``promoter serve`` refreshes them at
    start and every ten minutes (``Database.refresh_statistics``, a sampled ANALYZE)."""
    database = Database.from_url(f"sqlite:///{path}")
    try:
        started = time.perf_counter()
        database.refresh_statistics()
        return (
            "planner statistics refreshed as promoter serve does "
            f"({time.perf_counter() - started:.2f} s)"
        )
    finally:
        database.dispose()


@contextmanager
def postgres_for(
    args: argparse.Namespace, prepared: Prepared, log: Callable[[str], None]
) -> Iterator[tuple[str, float | None]]:
    """A loaded PostgreSQL database: kept between runs with ``--keep`` (a database named
    after the sizes and seed), otherwise a scratch one dropped at the end."""
    if not args.keep:
        with postgres_database(args.postgres_url) as url:
            yield url, load_pg(url, prepared, args, log)
        return
    name = f"promoter_bench_analytics_{args.contacts}_{args.responses}_{args.seed}"
    url = make_url(args.postgres_url).set(database=name).render_as_string(hide_password=False)
    admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
        if exists and stored_signature(url) == signature(args):
            log(f"reusing PostgreSQL database {name} (made with --keep)")
            yield url, None
            return
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        seconds = load_pg(url, prepared, args, log)
        database = Database.from_url(url)
        try:
            with database.write() as conn:
                conn.execute(
                    insert(instance_settings).values(key=DATASET_KEY, value=signature(args))
                )
        finally:
            database.dispose()
        yield url, seconds
    finally:
        admin.dispose()


def stored_signature(url: str) -> str | None:
    database = Database.from_url(url)
    try:
        with database.read() as conn:
            return conn.execute(
                select(instance_settings.c.value).where(instance_settings.c.key == DATASET_KEY)
            ).scalar()
    except DBAPIError:
        return None
    finally:
        database.dispose()


def load_pg(
    url: str, prepared: Prepared, args: argparse.Namespace, log: Callable[[str], None]
) -> float:
    data = prepared.dataset(args, log)
    started = time.perf_counter()
    load_postgres(url, data, log)
    seconds = time.perf_counter() - started
    if (data.organization_id, data.campaign_id) != (prepared.organization_id, prepared.campaign_id):
        raise RuntimeError("PostgreSQL's organization and campaign ids differ from SQLite's")
    return seconds


# --- report -----------------------------------------------------------------------------


def report(results: Sequence[BackendResult]) -> tuple[str, list[str]]:
    lines = []
    problems = []
    for result in results:
        name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[result.backend]
        heads = " | ".join(f"{name} {PATH_LABELS[p]} | ratio" for p in result.paths)
        lines += [
            f"{name} ({result.note}): median / p95 ms; ratio: service median / DuckDB median, "
            f"**bold** when over {TARGET_RATIO:g}x",
            "",
            f"| shape | window | responses | DuckDB | {heads} | result |",
            "|---|---|---|---|" + "---|---|" * len(result.paths) + "---|",
        ]
        for r in result.shapes:
            count = (
                f"{responses_in(r.duckdb.result, r.shape.kind):,}"
                if r.duckdb.result is not None
                else "?"
            )
            cells = []
            for path in result.paths:
                ratio = r.ratio(path)
                text_ratio = "" if ratio is None else f"{ratio:.1f}x"
                if ratio is not None and not r.ratio_met(path):
                    text_ratio = f"**{text_ratio}**"
                cells += [r.service[path].cell(), text_ratio]
            verdicts = {r.matches(path) for path in result.paths}
            same = (
                "**DIFFERENT**"
                if False in verdicts
                else "same"
                if verdicts == {True}
                else "not all compared"
            )
            lines.append(
                f"| {r.shape.label} | {r.shape.span} | {count} | {r.duckdb.cell()} "
                f"| {' | '.join(cells)} | {same} |"
            )
            where = f"{result.backend}: {r.shape.label} ({r.shape.span})"
            for path in result.paths:
                if r.matches(path) is False:
                    problems.append(
                        f"{where}: {PATH_LABELS[path]} {r.service[path].result!r} "
                        f"!= DuckDB {r.duckdb.result!r}"
                    )
            for engine, timing in (
                *((PATH_LABELS[p], r.service[p]) for p in result.paths),
                ("DuckDB", r.duckdb),
            ):
                if timing.error is not None:
                    problems.append(f"{where}: {engine} failed:\n{timing.error}")
        lines.append("")
        for path in result.paths:
            label = PATH_LABELS[path]
            met = [r for r in result.shapes if r.ratio_met(path)]
            lines.append(
                f"- {label}: within {TARGET_RATIO:g}x DuckDB: {len(met)} of {len(result.shapes)} "
                "shapes"
            )
            if result.backend == "sqlite":
                filtered = [r for r in result.shapes if r.shape.filtered_nps_30_days]
                fast = [
                    r
                    for r in filtered
                    if r.service[path].ok and r.service[path].median < TARGET_SQLITE_MS
                ]
                slow = ", ".join(r.shape.filter for r in filtered if r not in fast)
                lines.append(
                    f"- {label}: filtered NPS (30 days) under {TARGET_SQLITE_MS:g} ms: "
                    f"{len(fast)} of {len(filtered)}{f' (not: {slow})' if slow else ''}"
                )
        if result.columns_load_ms is not None:
            lines.append(
                f"- columns: the first question loaded them in {result.columns_load_ms:,.0f} ms"
            )
        for w in result.writes:
            during = ", ".join(
                f"{n} {w.idle_ms[n]:.1f} ms idle, {w.median_during(n) or 0:.1f} ms while writing"
                for n in CHECKED_FILTERS
            )
            lines.append(
                f"- {PATH_LABELS[w.path]}, while another process recorded "
                f"{w.written['responses']:,} responses in {w.commits} commits "
                f"({w.writer_seconds:.1f} s): {len(w.during)} queries, each count between "
                f"before and after and never lower than the previous: "
                f"{'ok' if not w.problems else 'FAILED'}; medians: {during}"
            )
            problems += [
                f"{result.backend}: {w.path}: reads while writing: {p}" for p in w.problems
            ]
        problems += [f"{result.backend}: {e}" for e in result.errors]
        lines.append("")
    return "\n".join(lines), problems


def machine(args: argparse.Namespace) -> str:
    import duckdb

    return describe(args, f"DuckDB {duckdb.__version__}")


def results_json(
    results: Sequence[BackendResult], prepared: Prepared, args: argparse.Namespace
) -> dict[str, Any]:
    return {
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "data_seconds": prepared.seconds,
        "backends": {
            r.backend: {
                "note": r.note,
                "load_seconds": r.load_seconds,
                "columns_load_ms": r.columns_load_ms,
                "shapes": [
                    {
                        "shape": s.shape.label,
                        "window": s.shape.span,
                        "responses": None
                        if s.duckdb.result is None
                        else responses_in(s.duckdb.result, s.shape.kind),
                        "duckdb": s.duckdb.to_json(),
                        **{
                            path: s.service[path].to_json()
                            | {"ratio": s.ratio(path), "same_result": s.matches(path)}
                            for path in r.paths
                        },
                    }
                    for s in r.shapes
                ],
                "writes": [w.to_json() for w in r.writes],
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
    parser.add_argument("--repeat", type=positive, default=15, help="timed runs per shape")
    parser.add_argument(
        "--budget", type=float, default=60.0, help="seconds per shape and engine after which "
        f"repetitions stop (at least {MIN_RUNS} runs)",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds one service query may take"
    )
    parser.add_argument(
        "--path",
        choices=("sql", "columns", "both"),
        default="both",
        help="the service's SQL functions, its in-memory columns (engine.Analytics), or both",
    )
    parser.add_argument("--write-commits", type=int, default=300, help="0: no write check")
    parser.add_argument("--write-per-commit", type=positive, default=10)
    parser.add_argument(
        "--only", nargs="*", default=None, help="only shapes whose key contains one of these"
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="where the data goes")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the generated data (in --data-dir, and a PostgreSQL database) and reuse it",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    if args.keep and args.data_dir is None:
        parser.error("--keep needs --data-dir")
    if args.path == "both":
        args.paths = ("sql", "columns") if columns_available() else ("sql",)
    else:
        args.paths = (args.path,)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--writer"]:
        return writer_main(json.loads(argv[1]))
    args = parse_args(argv)
    started = time.monotonic()

    def log(message: str) -> None:
        print(message, flush=True)

    log(f"machine: {machine(args)}")
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results: list[BackendResult] = []
    root = args.data_dir or Path(tempfile.mkdtemp(prefix="promoter-analytics-"))
    try:
        root.mkdir(parents=True, exist_ok=True)
        prepared = prepare(args, root, "sqlite" in backends, log)
        started_duck = time.perf_counter()
        duck = load_duckdb(prepared.directory, log)
        prepared.seconds["duckdb_load"] = time.perf_counter() - started_duck
        ids = (prepared.organization_id, prepared.campaign_id)
        for backend in backends:
            if backend == "sqlite":
                path = prepared.directory / "promoter.sqlite3"
                note = sqlite_statistics(path)
                result = run_backend(
                    backend, f"sqlite:///{path}", duck, ids, args,
                    prepared.seconds.get("sqlite_load"), log,
                )  # fmt: skip
                result.note = note
            else:
                with postgres_for(args, prepared, log) as (url, seconds):
                    result = run_backend(backend, url, duck, ids, args, seconds, log)
                    result.note = "VACUUM ANALYZE after the load, as autovacuum would"
            results.append(result)
    finally:
        if args.data_dir is None or not args.keep:
            target = root if args.data_dir is None else root / (
                f"analytics-{args.contacts}-{args.responses}-{args.seed}"
            )  # fmt: skip
            shutil.rmtree(target, ignore_errors=True)
    table, problems = report(results)
    took = ", ".join(f"{k} {v:.0f} s" for k, v in prepared.seconds.items())
    loads = ", ".join(
        f"{r.backend} load {r.load_seconds:.0f} s" for r in results if r.load_seconds is not None
    )
    print()
    print(
        f"Data: {args.contacts:,} contacts, {args.responses:,} responses, seed {args.seed}"
        f"{' (reused)' if prepared.reused else ''}; {took}{'; ' + loads if loads else ''}."
    )
    print()
    print(table)
    if problems:
        print("PROBLEMS:\n" + "\n".join(problems))
    print(f"total time {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results_json(results, prepared, args), indent=2) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
