"""Which engine answers: the in-memory columns when they are current, else SQL.

``AnalyticsCache`` keeps one ``ResponseColumns`` per organization. The first question for
an organization starts loading its columns in a background thread (SQL answers
meanwhile); every later question first catches the columns up with what was written
since, in the question's own transaction, then answers from them. Questions for one
organization take turns on its columns; the SQL path needs no copy and is always right.

A memory budget bounds the columns of all organizations together: when a load, a catch-up
or a newly read attribute column takes them over it, the least recently asked
organizations' columns are dropped (never those being answered at that moment); an
organization whose columns alone exceed the budget is answered by SQL.

With ``files`` (``column_files.ColumnFiles``), columns loaded from the database are also
saved to disk, and an organization's first question in a process maps the saved files
instead of loading: caught up from ``updated_at`` like columns in memory, then checked
against the database (the organization, its response count and the sum of their ids), they
answer at once; files that fail a check are not used, and the columns are loaded from the
database and saved again. Mapped arrays count in full against the budget.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from promoter.analytics import breakdown as sql_breakdown
from promoter.analytics import column_delivery, column_engine
from promoter.analytics import report as sql_report
from promoter.analytics import trend as sql_trend
from promoter.analytics.breakdown import Breakdown, SortKey
from promoter.analytics.buckets import AUTO, Buckets
from promoter.analytics.column_files import ColumnFiles
from promoter.analytics.embedding import Embedder
from promoter.analytics.keyword_text import PhraseCache
from promoter.analytics.query import Scope
from promoter.analytics.report import DeliveryStats, NpsReport
from promoter.analytics.response_columns import (
    LoadStopped,
    Probe,
    ResponseColumns,
    probe,
    tally,
)
from promoter.analytics.trend import Interval, TrendPoint
from promoter.storage.engine import Database

log = logging.getLogger("promoter.analytics")
#: Saved columns are written again once this many responses (or an eighth more) were added.
RESAVE_RESPONSES = 10_000


@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    columns: ResponseColumns | None = None
    loading: bool = False
    #: ``columns.nbytes`` when last measured (0 without columns).
    nbytes: int = 0
    #: The columns alone exceeded the budget: this organization is answered by SQL.
    over_budget: bool = False
    #: What the saved files hold: responses, and attribute columns (None: nothing saved).
    saved: tuple[int, frozenset[str]] | None = None
    #: The saved generation found not to agree with the database (not read again).
    rejected: str | None = None


class AnalyticsCache:
    """In-memory columns of each organization's responses, within ``budget`` bytes
    (None: no limit).

    With ``background=False`` a missing copy is loaded in the asking transaction (for tests
    and benchmarks, which want the columns on the first question). With ``files``, columns
    are saved there and mapped back (see the module's docstring).
    """

    def __init__(
        self,
        database: Database,
        *,
        budget: int | None = None,
        background: bool = True,
        files: ColumnFiles | None = None,
    ) -> None:
        if budget is not None and budget <= 0:
            raise ValueError("the memory budget must be positive (or None: no limit)")
        self._database = database
        self._budget = budget
        self._background = background
        self._files = files
        #: Least recently asked first.
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._loaders: list[threading.Thread] = []

    def _entry(self, organization_id: int) -> _Entry:
        with self._guard:
            entry = self._entries.setdefault(organization_id, _Entry())
            self._entries.move_to_end(organization_id)
            return entry

    def resident(self) -> dict[int, int]:
        """The bytes of each organization's columns in memory, least recently asked first."""
        with self._guard:
            entries = list(self._entries.items())
        return {org: entry.nbytes for org, entry in entries if entry.columns is not None}

    @contextmanager
    def columns(self, conn: Connection, organization_id: int) -> Iterator[ResponseColumns | None]:
        """The organization's columns, current as of ``conn``'s transaction (held for the
        block), or None when they are not loaded yet or do not fit the budget."""
        entry = self._entry(organization_id)
        entry.lock.acquire()
        try:
            columns = None if entry.over_budget else self._current(conn, organization_id, entry)
        except BaseException:
            self._drop(entry)  # a half-applied catch-up is not trusted: load again
            entry.lock.release()
            raise
        if columns is None:
            entry.lock.release()
            yield None
            return
        try:
            yield columns
        finally:
            try:
                self._save_if_behind(entry)
                self._fit(entry)  # the answer may have read attribute columns
            finally:
                entry.lock.release()

    def _current(
        self, conn: Connection, organization_id: int, entry: _Entry
    ) -> ResponseColumns | None:
        """The entry's columns caught up with ``conn`` (its lock held), None while loading."""
        columns = entry.columns
        state = probe(conn, organization_id) if columns is None else columns.probe(conn)
        if columns is not None and columns.epoch != state.epoch:
            self._drop(entry)  # responses were deleted: load again
            columns = None
        if columns is None:
            entry.columns = self._from_files(conn, organization_id, state, entry)
            if entry.columns is not None:
                entry.saved = _held(entry.columns)
                self._fit(entry)
                log.info(
                    "analytics columns of organization %s loaded from saved files: %s responses",
                    organization_id,
                    entry.columns.size,
                )
                return entry.columns
        if columns is None and not self._background:
            entry.columns = ResponseColumns.load(conn, organization_id)
            entry.saved = self._save(entry.columns)
            self._fit(entry)
            return entry.columns
        if columns is None:
            self._load_later(organization_id, entry)
        elif not columns.is_current(state):
            columns.catch_up(conn, state)
            self._fit(entry)
        return entry.columns

    def _from_files(
        self, conn: Connection, organization_id: int, state: Probe, entry: _Entry
    ) -> ResponseColumns | None:
        """The saved columns caught up with ``conn``, or None when there are none or they
        do not agree with the database (then that generation is not read again)."""
        if self._files is None:
            return None
        name = self._files.current(organization_id)
        if name is None or name == entry.rejected:
            return None
        entry.rejected = name
        columns = self._files.open(organization_id, name)
        if columns is None:
            return None
        reason = None
        if columns.epoch != state.epoch:
            reason = "responses were deleted since"
        elif columns.newest is not None and (state.newest is None or columns.newest > state.newest):
            reason = "newer than the database"
        else:
            columns.catch_up(conn, state)
            if tally(conn, organization_id) != columns.tally():
                reason = "other responses than the database's"
        if reason is None:
            entry.rejected = None
            return columns
        log.info("analytics files of organization %s not used: %s", organization_id, reason)
        return None

    def _save(self, columns: ResponseColumns) -> tuple[int, frozenset[str]] | None:
        """Save ``columns`` (not in use elsewhere); what the files then hold."""
        if self._files is None:
            return None
        try:
            self._files.save(columns)
        except OSError:
            log.exception("saving analytics columns of organization %s", columns.organization_id)
            return None
        return _held(columns)

    def _save_if_behind(self, entry: _Entry) -> None:
        """Save the entry's columns (its lock held) when they hold attribute columns the
        files lack, or a good many more responses."""
        columns = entry.columns
        if self._files is None or columns is None or entry.saved is None:
            return
        size, names = entry.saved
        grown = columns.size - size > max(RESAVE_RESPONSES, size // 8)
        if grown or not names.issuperset(columns.attributes):
            entry.saved = self._save(columns) or entry.saved

    def _drop(self, entry: _Entry) -> None:
        entry.columns = None
        entry.nbytes = 0

    def _fit(self, entry: _Entry) -> None:
        """Measure ``entry``'s columns (its lock held), then bring the total within the
        budget: drop the entry's own columns when they alone exceed it, else other
        organizations' columns, least recently asked first, skipping those in use."""
        columns = entry.columns
        entry.nbytes = 0 if columns is None else columns.nbytes
        if self._budget is None or columns is None:
            return
        if entry.nbytes > self._budget:
            log.warning(
                "analytics columns of organization %s take %s MB, over the memory budget: "
                "its questions are answered by SQL",
                columns.organization_id,
                entry.nbytes >> 20,
            )
            self._drop(entry)
            entry.over_budget = True
            return
        with self._guard:
            others = [(org, e) for org, e in self._entries.items() if e is not entry]
        total = entry.nbytes + sum(e.nbytes for _, e in others)
        for organization_id, other in others:
            if total <= self._budget:
                break
            if other.columns is None or not other.lock.acquire(blocking=False):
                continue  # nothing to free, or being answered right now
            try:
                total -= other.nbytes
                self._drop(other)
            finally:
                other.lock.release()
            log.info("analytics columns of organization %s dropped: memory budget", organization_id)

    def _load_later(self, organization_id: int, entry: _Entry) -> None:
        if entry.loading or self._stop.is_set():
            return
        entry.loading = True

        def load() -> None:
            try:
                with self._database.read() as conn:
                    loaded = ResponseColumns.load(conn, organization_id, stop=self._stop)
                saved = self._save(loaded)
                with entry.lock:
                    entry.columns = loaded
                    entry.saved = saved
                    self._fit(entry)
                log.info(
                    "analytics columns of organization %s loaded: %s responses",
                    organization_id,
                    loaded.size,
                )
            except LoadStopped:
                pass
            except Exception:
                log.exception("loading analytics columns of organization %s", organization_id)
            finally:
                entry.loading = False

        thread = threading.Thread(target=load, name=f"analytics-load-{organization_id}")
        with self._guard:
            self._loaders = [t for t in self._loaders if t.is_alive()] + [thread]
        thread.start()

    def close(self) -> None:
        """Stop loading (between batches) and wait for the loaders; drop the columns."""
        self._stop.set()
        with self._guard:
            loaders = list(self._loaders)
        for thread in loaders:
            thread.join()
        with self._guard:
            self._entries.clear()


def _held(columns: ResponseColumns) -> tuple[int, frozenset[str]]:
    return columns.size, frozenset(columns.attributes)


class Analytics:
    """The analytics questions, answered by the columns when they are available."""

    def __init__(self, cache: AnalyticsCache | None = None) -> None:
        self.cache = cache
        #: Comments' keyword phrases by response id, so questions lemmatize each once.
        self.phrases = PhraseCache()
        #: Comments' embeddings for themes (the model loads on first use).
        self.embedder = Embedder()

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()

    @contextmanager
    def _columns(self, conn: Connection, scope: Scope) -> Iterator[ResponseColumns | None]:
        if self.cache is None:
            yield None
            return
        with self.cache.columns(conn, scope.query.organization_id) as columns:
            yield columns

    def nps(self, conn: Connection, scope: Scope) -> NpsReport:
        with self._columns(conn, scope) as columns:
            if columns is not None:
                return column_engine.nps(conn, scope, columns)
        return sql_report.nps(conn, scope)

    def delivery(self, conn: Connection, scope: Scope) -> DeliveryStats:
        """``report.delivery_stats``; with a filter, its answered surveys decided by the
        columns when they are available."""
        if scope.query.where is not None:
            with self._columns(conn, scope) as columns:
                if columns is not None:
                    return sql_report.delivery_stats(
                        conn,
                        scope,
                        answered_matching=lambda answered: column_delivery.answered_matching(
                            conn, scope, columns, answered
                        ),
                    )
        return sql_report.delivery_stats(conn, scope)

    def listed(
        self, conn: Connection, scope: Scope, offset: int, size: int, among: list[int] | None
    ) -> tuple[int, list[int]] | None:
        """How many responses match (those among ``among`` only, when given), and the ids
        of [offset, offset + size) of them, newest first; None without columns."""
        with self._columns(conn, scope) as columns:
            if columns is not None:
                return column_engine.listed(conn, scope, columns, offset, size, among)
        return None

    def trend(
        self,
        conn: Connection,
        scope: Scope,
        *,
        interval: Interval = "month",
        rolling: int | None = None,
        zone: ZoneInfo | None = None,
    ) -> list[TrendPoint]:
        options: dict[str, Any] = {"interval": interval, "rolling": rolling, "zone": zone}
        with self._columns(conn, scope) as columns:
            if columns is not None:
                return column_engine.trend(conn, scope, columns, **options)
        return sql_trend.trend(conn, scope, **options)

    def breakdown(
        self,
        conn: Connection,
        scope: Scope,
        *,
        by: str,
        top: int = 10,
        buckets: Buckets = AUTO,
        sort: SortKey = "responses",
    ) -> Breakdown:
        options: dict[str, Any] = {"by": by, "top": top, "buckets": buckets, "sort": sort}
        if scope.query.attributes == "snapshot":
            with self._columns(conn, scope) as columns:
                if columns is not None:
                    return column_engine.breakdown(conn, scope, columns, **options)
        return sql_breakdown.breakdown(conn, scope, **options)
