"""An organization's events as columns, for behaviour conditions ("did X, N times, lately,
with total > 100").

Events arrive all the time, so the columns hold a *settled prefix*: every event up to an
id ``horizon`` that was received more than ``SETTLE`` ago (ids grow with each insert, and
no ingestion transaction stays open that long, so nothing at or below the horizon can
still appear). Events after the horizon are read from the database with each question
(by primary key, so the cost is the tail's size), and the horizon moves forward every
``REFRESH``. Events are keyed by userId, not by contact: a track for a userId identified
later is linked to its contact afterwards, but its userId never changes. Erasing deletes
events, which bumps the organization's ``analytics_epoch`` and reloads everything.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from sqlalchemy import Connection, func, select, text

from promoter.analytics.filters import EventFilter, PropertyFilter, positive
from promoter.analytics.numpy_arrays import Bools, Ints, compare, micros, micros_of
from promoter.storage.tables import contacts, events

SETTLE = timedelta(minutes=10)
REFRESH_SECONDS = 300.0
#: Property value kinds (0: missing or null).
STRING, NUMBER, BOOLEAN, OTHER = 1, 2, 3, 4


@dataclass
class _PropertyColumn:
    """One property path over the events of one name (aligned with their positions)."""

    kind: npt.NDArray[np.int8]
    number: npt.NDArray[np.float64]
    code: npt.NDArray[np.int32]
    texts: dict[str, int] = field(default_factory=dict)


def _walk(properties: Any, path: tuple[str, ...]) -> Any:
    value = properties
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


class EventColumns:
    """The settled events of one organization; not thread-safe (the cache serialises)."""

    def __init__(self, organization_id: int) -> None:
        self.organization_id = organization_id
        self.horizon = 0
        #: ``time.monotonic()`` at the last refresh; None until the first (on the first
        #: question about events: questions without them need none).
        self.refreshed: float | None = None
        self.ids: Ints = np.zeros(0, np.int64)
        self.users: npt.NDArray[np.int32] = np.zeros(0, np.int32)
        self.names: npt.NDArray[np.int32] = np.zeros(0, np.int32)
        self.times: Ints = np.zeros(0, np.int64)
        self.user_codes: dict[str, int] = {}
        self.name_codes: dict[str, int] = {}
        self._properties: dict[tuple[int, tuple[str, ...]], _PropertyColumn] = {}
        #: Each contact's userId (contacts never change it), filled as contacts appear.
        self._contact_users: dict[int, str] = {}
        self._mapping: tuple[tuple[int, int, int], npt.NDArray[np.int32]] | None = None

    @property
    def nbytes(self) -> int:
        """Bytes held in numpy arrays: the events and the property columns read so far."""
        arrays: list[Any] = [self.ids, self.users, self.names, self.times]
        for column in self._properties.values():
            arrays += [column.kind, column.number, column.code]
        if self._mapping is not None:
            arrays.append(self._mapping[1])
        return sum(int(array.nbytes) for array in arrays)

    def user_codes_of(self, conn: Connection, contact_ids: Ints) -> npt.NDArray[np.int32]:
        """The user code of each of ``contact_ids`` (sorted, distinct), -1 for a userId
        without settled events."""
        cached = self._mapping
        key = (id(contact_ids), len(contact_ids), len(self.user_codes))
        if cached is not None and cached[0] == key:
            return cached[1]
        unknown = [int(c) for c in contact_ids if int(c) not in self._contact_users]
        for start in range(0, len(unknown), 5000):
            chunk = unknown[start : start + 5000]
            rows = conn.execute(
                select(contacts.c.id, contacts.c.user_id).where(contacts.c.id.in_(chunk))
            ).all()
            self._contact_users.update((row[0], row[1]) for row in rows)
        codes = self.user_codes
        names = [self._contact_users.get(int(c)) for c in contact_ids]
        mapped = np.fromiter(
            (codes.get(name, -1) if name is not None else -1 for name in names),
            np.int32,
            len(names),
        )
        self._mapping = (key, mapped)
        return mapped

    def code_of_user(self, user_id: str) -> int:
        found = self.user_codes.get(user_id)
        if found is None:
            found = self.user_codes[user_id] = len(self.user_codes)
        return found

    # -- keeping up ----------------------------------------------------------------------

    def refresh(self, conn: Connection, *, force: bool = False) -> None:
        """Move the horizon to the events settled by now (at most every REFRESH_SECONDS)."""
        clock = time.monotonic()
        recent = self.refreshed is not None and clock - self.refreshed < REFRESH_SECONDS
        if recent and not force:
            return
        settled_before = datetime.now(UTC) - SETTLE
        e = events.c
        horizon = conn.execute(
            select(func.max(e.id)).where(
                (e.organization_id + 0) == self.organization_id,
                e.received_at < settled_before,
                e.id > self.horizon,
            )
        ).scalar()
        self.refreshed = clock
        if horizon is None or horizon <= self.horizon:
            return
        rows = conn.execute(
            text(
                "SELECT id, user_id, name, timestamp FROM events"
                " WHERE id > :low AND id <= :high AND organization_id + 0 = :org ORDER BY id"
            ),
            {"low": self.horizon, "high": horizon, "org": self.organization_id},
        ).all()
        if rows:
            ids, users, names, times = zip(*rows, strict=True)
            user_codes = self.user_codes
            for user in set(users).difference(user_codes):
                user_codes[user] = len(user_codes)
            name_codes = self.name_codes
            for name in set(names).difference(name_codes):
                name_codes[name] = len(name_codes)
            self.ids = np.concatenate([self.ids, np.asarray(ids, np.int64)])
            self.users = np.concatenate(
                [self.users, np.fromiter(map(user_codes.__getitem__, users), np.int32, len(users))]
            )
            self.names = np.concatenate(
                [self.names, np.fromiter(map(name_codes.__getitem__, names), np.int32, len(names))]
            )
            self.times = np.concatenate([self.times, micros_of(times)])
        self.horizon = int(horizon)

    def _property(
        self, conn: Connection, name_code: int, name: str, path: tuple[str, ...], of_name: Ints
    ) -> _PropertyColumn:
        """The property at ``path`` of the events named ``name`` (positions ``of_name``),
        parsed once and extended as the prefix grows."""
        key = (name_code, path)
        column = self._properties.get(key)
        done = 0 if column is None else len(column.kind)
        if column is not None and done == len(of_name):
            return column
        missing = self.ids[of_name[done:]]
        rows = conn.execute(
            text(
                "SELECT id, properties FROM events WHERE id >= :low AND id <= :high"
                " AND organization_id + 0 = :org AND name || '' = :name"
            ),
            {
                "low": int(missing[0]),
                "high": int(missing[-1]),
                "org": self.organization_id,
                "name": name,
            },
        ).all()
        by_id = {row[0]: row[1] for row in rows}
        texts: dict[str, int] = {} if column is None else column.texts
        kinds = np.zeros(len(missing), np.int8)
        numbers = np.full(len(missing), np.nan)
        codes = np.full(len(missing), -1, np.int32)
        for index, event_id in enumerate(missing.tolist()):
            properties = by_id.get(event_id)
            if isinstance(properties, str | bytes):
                properties = orjson.loads(properties)
            value = _walk(properties, path)
            if value is None:
                continue
            if isinstance(value, bool):
                kinds[index], numbers[index] = BOOLEAN, float(value)
            elif isinstance(value, int | float):
                kinds[index], numbers[index] = NUMBER, float(value)
            elif isinstance(value, str):
                kinds[index] = STRING
                codes[index] = texts.setdefault(value, len(texts))
            else:
                kinds[index] = OTHER
        if column is None:
            column = _PropertyColumn(kinds, numbers, codes, texts)
        else:
            column.kind = np.concatenate([column.kind, kinds])
            column.number = np.concatenate([column.number, numbers])
            column.code = np.concatenate([column.code, codes])
        self._properties[key] = column
        return column

    # -- asking --------------------------------------------------------------------------

    def user_counts(self, conn: Connection, expr: EventFilter, since: datetime | None) -> Ints:
        """How many settled events of each user code match (name, time, properties)."""
        name_code = self.name_codes.get(expr.name)
        if name_code is None:
            return np.zeros(len(self.user_codes), np.int64)
        of_name = np.flatnonzero(self.names == name_code)
        keep = np.ones(len(of_name), np.bool_)
        if since is not None:
            keep &= self.times[of_name] >= micros(since)
        for prop in expr.where:
            column = self._property(conn, name_code, expr.name, prop.path, of_name)
            keep &= _property_matches(column, prop)
        return np.bincount(self.users[of_name[keep]], minlength=len(self.user_codes))


def _property_matches(column: _PropertyColumn, prop: PropertyFilter) -> Bools:
    condition = prop.condition
    complemented = positive(condition)
    if complemented is not None:
        return ~_property_matches(column, PropertyFilter(prop.path, complemented))
    kind = column.kind
    op = condition.op
    if op == "exists":
        return kind != 0  # type: ignore[no-any-return]
    if op == "contains":
        needle = condition.values[0].text
        wanted = [code for text_, code in column.texts.items() if needle in text_]
        return (kind == STRING) & np.isin(column.code, wanted)  # type: ignore[no-any-return]
    if op in ("eq", "in"):
        result = np.zeros(len(kind), np.bool_)
        for value in condition.values:
            if value.boolean is not None:
                result |= (kind == BOOLEAN) & (column.number == float(value.boolean))
            elif value.number is not None:
                result |= (kind == NUMBER) & (column.number == value.number)
            elif value.text in column.texts:
                result |= (kind == STRING) & (column.code == column.texts[value.text])
        return result
    low: Any = None if condition.low is None else condition.low.number
    high: Any = None if condition.high is None else condition.high.number
    return (kind == NUMBER) & compare(column.number, op, low, high)  # type: ignore[no-any-return]


def tail_counts(
    conn: Connection,
    organization_id: int,
    horizon: int,
    expr: EventFilter,
    conditions: Sequence[Any],
) -> dict[str, int]:
    """The same count over the events after the horizon, asked of the database."""
    e = events.c
    # "+ 0" and "|| ''" keep the planner on the primary key: the tail is the newest events.
    stmt = (
        select(e.user_id, func.count())
        .where(
            e.id > horizon,
            (e.organization_id + 0) == organization_id,
            e.name.concat("") == expr.name,
            *conditions,
        )
        .group_by(e.user_id)
    )
    return {user: int(count) for user, count in conn.execute(stmt).all()}
