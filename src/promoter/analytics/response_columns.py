"""An organization's responses as columns in memory: the analytic copy of the database.

One ``ResponseColumns`` holds, in (answered at, id) order, each response's time, campaign,
contact, score, channel, comment/status flags, tags, and its typed attribute snapshot (per
attribute: a type code, a dictionary code of the canonical text, and a number — numbers,
booleans, and dates as microseconds). Attribute columns are read when a question first
names them, and only the ``MAX_ATTRIBUTE_COLUMNS`` most recently named are kept: an
organization may have thousands of names, questions use a few. It is loaded once, then
kept up to date from
``responses.updated_at`` (every write to a response stamps it): new and changed responses
are re-read, appended or overwritten in place. Deleting responses (erasing a contact)
bumps ``organizations.analytics_epoch``, after which the copy is loaded again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, String, and_, func, select, type_coerce

from promoter.analytics.bulk_read import (
    KINDS,
    NEVER,
    AttributeRows,
    attribute_batches,
    attribute_rows,
    responses_of,
    surveys_sent_of,
)
from promoter.analytics.events import EventColumns
from promoter.analytics.numpy_arrays import Bools, Ints, micros, micros_of
from promoter.domain.channels import CHANNELS
from promoter.storage.tables import (
    organizations,
    response_attributes,
    response_tags,
    responses,
    surveys,
)

MISSING = 0
#: Each channel's code in the channel column: its index in CHANNELS.
CHANNEL_CODES: dict[str, int] = {channel: code for code, channel in enumerate(CHANNELS)}
#: Responses written this long before the newest one seen are re-read when catching up:
#: a transaction that stamped ``updated_at`` and committed a little later is not missed.
CATCH_UP_MARGIN = timedelta(minutes=5)
LOAD_BATCH = 200_000
#: Attribute columns kept per organization (the most recently used).
MAX_ATTRIBUTE_COLUMNS = 32

Floats = npt.NDArray[np.float64]
INT16_MAX = np.iinfo(np.int16).max
INT32_MAX = np.iinfo(np.int32).max
#: Contact and response ids: 32-bit while they fit, 64-bit once one does not.
Ids = npt.NDArray[np.int32] | npt.NDArray[np.int64]


@dataclass
class AttributeColumn:
    """One attribute over all responses. ``number`` is None while no response has a
    number, boolean or date value for it (all NaN): text attributes need no numbers."""

    kind: npt.NDArray[np.int8]
    #: 16-bit while the texts fit, widened to 32-bit by the one that does not.
    code: npt.NDArray[np.int16] | npt.NDArray[np.int32]
    number: Floats | None
    texts: list[str] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def empty(cls, capacity: int) -> AttributeColumn:
        return cls(np.zeros(capacity, np.int8), np.full(capacity, -1, np.int16), None)

    def numbers(self, positions: Ints | slice) -> Floats:
        """The numbers at ``positions`` (NaN: none)."""
        if self.number is None:
            return np.full(self.kind[positions].shape, np.nan, np.float64)
        return self.number[positions]

    def set_numbers(self, positions: Ints, values: Floats) -> None:
        if self.number is None:
            if np.isnan(values).all():
                return
            self.number = np.full(len(self.kind), np.nan, np.float64)
        self.number[positions] = values

    def code_of(self, text: str) -> int:
        found = self.codes.get(text)
        if found is None:
            found = self.codes[text] = len(self.texts)
            self.texts.append(text)
            if found > INT16_MAX and self.code.dtype == np.int16:
                self.code = self.code.astype(np.int32)
        return found

    def clear(self, positions: Ints) -> None:
        self.kind[positions] = MISSING
        self.code[positions] = -1
        if self.number is not None:
            self.number[positions] = np.nan

    def grow(self, capacity: int) -> None:
        self.kind = _grown(self.kind, capacity, 0)
        self.code = _grown(self.code, capacity, -1)
        if self.number is not None:
            self.number = _grown(self.number, capacity, np.nan)

    def reorder(self, order: Ints, capacity: int) -> None:
        self.kind = _grown(self.kind[order], capacity, 0)
        self.code = _grown(self.code[order], capacity, -1)
        if self.number is not None:
            self.number = _grown(self.number[order], capacity, np.nan)


def _grown(array: Any, capacity: int, fill: Any) -> Any:
    grown = np.full(capacity, fill, array.dtype)
    grown[: len(array)] = array
    return grown


class LoadStopped(Exception):
    """Loading was asked to stop (the service is shutting down)."""


@dataclass(frozen=True, slots=True)
class Probe:
    """What tells whether the copy is current: the newest ``updated_at``, the epoch, and
    ``recent``: how many responses were stamped since a given instant, and the sum of their
    stamps (any write stamped in that range changes it, even one that commits after a
    newer one)."""

    newest: datetime | None
    epoch: int
    recent: Any = None


def probe(conn: Connection, organization_id: int, since: datetime | None = None) -> Probe:
    """One statement: the probe each question makes before trusting the columns."""
    mine = responses.c.organization_id == organization_id
    stamp = responses.c.updated_at
    parts: list[Any] = [
        select(func.max(stamp)).where(mine).scalar_subquery(),
        select(organizations.c.analytics_epoch)
        .where(organizations.c.id == organization_id)
        .scalar_subquery(),
    ]
    if since is not None:
        seconds = (
            func.extract("epoch", stamp)
            if conn.dialect.name == "postgresql"
            else func.julianday(stamp)
        )
        window = select(func.count(), func.sum(seconds)).where(mine, stamp >= since).subquery()
        parts += [select(window.c[0]).scalar_subquery(), select(window.c[1]).scalar_subquery()]
    row = conn.execute(select(*parts)).one()
    newest = row[0]
    if newest is not None and newest.tzinfo is None:  # SQLite hands back its text form
        newest = datetime.fromisoformat(str(newest)).replace(tzinfo=UTC)
    recent = None if since is None else (row[2], row[3])
    return Probe(newest, int(row[1] or 0), recent)


def tally(conn: Connection, organization_id: int) -> tuple[str | None, int, int]:
    """When the organization was created, how many responses it has, and the sum of their
    ids: what columns saved earlier must agree with once caught up."""
    mine = responses.c.organization_id == organization_id
    created = (
        select(organizations.c.created_at)
        .where(organizations.c.id == organization_id)
        .scalar_subquery()
    )
    row = conn.execute(
        select(created, func.count(), func.coalesce(func.sum(responses.c.id), 0)).where(mine)
    ).one()
    return _moment_text(row[0]), int(row[1]), int(row[2])


def _moment_text(moment: Any) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return moment.isoformat()
    return str(moment)


_RESPONSE_COLUMNS = (
    responses.c.id,
    responses.c.created_at,
    responses.c.campaign_id,
    responses.c.contact_id,
    responses.c.score,
    responses.c.comment,
    responses.c.status,
    responses.c.channel,
)


class ResponseColumns:
    """The columns of one organization's responses; not thread-safe (see ``AnalyticsCache``)."""

    def __init__(self, organization_id: int, epoch: int) -> None:
        self.organization_id = organization_id
        self.epoch = epoch
        #: ``organizations.created_at`` (as text): saved columns belong to this organization.
        self.organization_created: str | None = None
        self.newest: datetime | None = None
        #: ``Probe.recent`` since newest - CATCH_UP_MARGIN, when last caught up.
        self.recent: Any = None
        self.size = 0
        self.capacity = 0
        self.created: Ints = np.zeros(0, np.int64)
        #: Campaign ids are 32-bit (``campaigns.id`` is an INTEGER).
        self.campaign: npt.NDArray[np.int32] = np.zeros(0, np.int32)
        self.contact: Ids = np.zeros(0, np.int32)
        self.score: npt.NDArray[np.int8] = np.zeros(0, np.int8)
        self.commented: Bools = np.zeros(0, np.bool_)
        self.closed: Bools = np.zeros(0, np.bool_)
        #: Codes of CHANNEL_CODES.
        self.channel: npt.NDArray[np.int8] = np.zeros(0, np.int8)
        self.tags: dict[str, Bools] = {}
        #: When each response's survey was sent, as answered (``bulk_read.NEVER``: not),
        #: read on first use (see ``surveys_sent``); None until then.
        self.survey_sent: Ints | None = None
        self._survey_sent_read = 0.0
        #: The attribute columns read so far, least recently used first (see ``attribute``).
        self.attributes: OrderedDict[str, AttributeColumn] = OrderedDict()
        #: The response ids (kept only here): ids sorted, and the position of each.
        self._id_sorted: Ids = np.zeros(0, np.int32)
        self._id_position: npt.NDArray[np.int32] = np.zeros(0, np.int32)
        #: Contacts as dense numbers 0..k-1 (for contact-level conditions).
        self._contacts: Ints | None = None
        self._contact_dense: npt.NDArray[np.int32] | None = None
        self._stop: threading.Event | None = None
        self.events = EventColumns(organization_id)

    def arrays(self) -> dict[str, Any]:
        """Every numpy array held, by name: the response columns, their id and contact
        indexes, tags, the surveys' sending times once read, the attribute columns read so
        far (not the events)."""
        found: dict[str, Any] = {
            name: getattr(self, name)
            for name in ("created", "campaign", "contact", "score", "commented", "closed")
        }
        found |= {"channel": self.channel}
        found |= {"id index": self._id_sorted, "id positions": self._id_position}
        found |= {"contacts": self._contacts, "contact index": self._contact_dense}
        found |= {f"tag {tag}": flags for tag, flags in self.tags.items()}
        found |= {"survey sent": self.survey_sent}
        for name, column in self.attributes.items():
            found |= {f"{name}.kind": column.kind, f"{name}.code": column.code}
            found |= {f"{name}.number": column.number}
        return {name: array for name, array in found.items() if array is not None}

    @property
    def nbytes(self) -> int:
        """Bytes held in numpy arrays, events included (not the dictionaries of texts)."""
        held = sum(int(array.nbytes) for array in self.arrays().values())
        return held + self.events.nbytes

    def _check_stop(self) -> None:
        if self._stop is not None and self._stop.is_set():
            raise LoadStopped

    # -- loading and catching up -------------------------------------------------------

    @classmethod
    def load(
        cls, conn: Connection, organization_id: int, *, stop: threading.Event | None = None
    ) -> ResponseColumns:
        state = probe(conn, organization_id)
        columns = cls(organization_id, state.epoch)
        columns._stop = stop
        # Measured before reading: what commits meanwhile shows as a change next time.
        columns.recent = probe(conn, organization_id, _bound(state.newest)).recent
        columns.organization_created = tally(conn, organization_id)[0]
        columns._load_all(conn)
        columns.newest = state.newest
        return columns

    def tally(self) -> tuple[str | None, int, int]:
        """What ``tally`` gives for the responses these columns hold."""
        ids_sum = int(self._id_sorted.sum(dtype=np.int64))
        return self.organization_created, self.size, ids_sum

    def _load_all(self, conn: Connection) -> None:
        """Everything, read in bulk and converted column by column (not row by row)."""
        read = responses_of(conn, self.organization_id)
        self._check_stop()
        n = len(read["id"])
        if n:
            self._reserve(n)
            self.size = n
            response_ids = read["id"]
            for name in ("created", "campaign", "score", "commented", "closed", "channel"):
                getattr(self, name)[:n] = read[name]
            contact_ids = read["contact"]
            self.contact = _wide_enough(self.contact, int(contact_ids.max()))
            self.contact[:n] = contact_ids
            if not _in_order(self.created, response_ids, 1, n):
                response_ids = self._sort(response_ids)
            self._index_ids(response_ids)
        del read
        tags = conn.execute(
            select(response_tags.c.response_id, response_tags.c.tag).where(
                response_tags.c.organization_id == self.organization_id
            )
        ).all()
        self._set_tags(tags)

    def attribute(self, conn: Connection, name: str) -> AttributeColumn | None:
        """The snapshot column of attribute ``name``, read on first use (None: no response
        has it). Call it with the columns current as of ``conn``'s transaction."""
        column = self.attributes.get(name)
        if column is not None:
            self.attributes.move_to_end(name)
            return column
        packed = attribute_rows(conn, self.organization_id, name)
        if packed is not None:
            self._fill_attribute(name, packed)
        else:
            for batch in attribute_batches(conn, self.organization_id, name, LOAD_BATCH):
                self._fill_attribute_batch(batch)
        column = self.attributes.get(name)
        while len(self.attributes) > MAX_ATTRIBUTE_COLUMNS:
            self.attributes.popitem(last=False)
        return column

    def surveys_sent(self, conn: Connection) -> Ints:
        """When each response's survey was sent, as answered (``bulk_read.NEVER``: not sent
        or no longer answered), read on first use, then kept up to date with the responses.
        A survey's row can change without its response (sent by email after an answer in the
        app): ``forget_surveys_sent`` has them read again."""
        if self.survey_sent is None:
            ids, sent = surveys_sent_of(conn, self.organization_id)
            column = np.full(self.capacity, NEVER, np.int64)
            at = self._positions(ids)
            found = at >= 0
            column[at[found]] = sent[found]
            self.survey_sent = column
            self._survey_sent_read = time.monotonic()
        return self.survey_sent[: self.size]

    def surveys_sent_age(self) -> float:
        """Seconds since the surveys' sending times were read."""
        return time.monotonic() - self._survey_sent_read

    def forget_surveys_sent(self) -> None:
        self.survey_sent = None

    def _refresh_surveys_sent(self, conn: Connection, condition: Any) -> None:
        """Read again when the surveys of the responses ``condition`` selects were sent."""
        if self.survey_sent is None:
            return
        s = surveys.c
        rows = conn.execute(
            select(responses.c.id, s.status, s.sent_at)
            .join(surveys, s.id == responses.c.survey_id)
            .where(condition)
        ).all()
        if not rows:
            return
        at = self._positions(np.fromiter((r[0] for r in rows), np.int64, len(rows)))
        sent = [
            NEVER if r.status != "answered" or r.sent_at is None else micros(r.sent_at)
            for r in rows
        ]
        found = at >= 0
        self.survey_sent[at[found]] = np.asarray(sent, np.int64)[found]

    def _fill_attribute(self, name: str, packed: AttributeRows) -> None:
        """A whole attribute column from its packed rows (none: no column)."""
        positions = self._positions(packed.ids)
        rows = np.flatnonzero(positions >= 0)
        if not len(packed.ids):
            return
        column = self.attributes[name] = AttributeColumn.empty(self.capacity)
        column.texts = packed.texts
        column.codes = {text: code for code, text in enumerate(packed.texts)}
        if len(packed.texts) > INT16_MAX + 1:
            column.code = column.code.astype(np.int32)
        at = positions[rows]
        column.kind[at] = packed.kinds[rows]
        column.code[at] = packed.codes[rows]
        column.set_numbers(at, packed.numbers[rows])

    def _fill_attribute_batch(self, batch: Sequence[Any]) -> None:
        """Rows of (response id, name, type, text, number, instant), at C speed: ``map``
        over dicts and numpy, never a Python statement per row."""
        if not batch:
            return
        ids, names, types, texts, numbers, moments = zip(*batch, strict=True)
        positions = self._positions(np.asarray(ids, np.int64))
        kinds = np.fromiter(map(KINDS.__getitem__, types), np.int8, len(types))
        values = np.asarray(numbers, np.float64)
        dated = np.flatnonzero(kinds == KINDS["date"])
        if len(dated):
            values[dated] = micros_of(_pick(moments, dated))
        name_codes = {name: code for code, name in enumerate(set(names))}
        grouped = np.fromiter(map(name_codes.__getitem__, names), np.int64, len(names))
        for name, code in name_codes.items():
            column = self.attributes.get(name)
            if column is None:
                column = self.attributes[name] = AttributeColumn.empty(self.capacity)
            rows = np.flatnonzero((grouped == code) & (positions >= 0))
            if not len(rows):
                continue
            at = positions[rows]
            column.kind[at] = kinds[rows]
            mine = [text or "" for text in _pick(texts, rows)]
            for new in set(mine).difference(column.codes):
                column.code_of(new)
            column.code[at] = np.fromiter(map(column.codes.__getitem__, mine), np.int32, len(mine))
            column.set_numbers(at, values[rows])

    def probe(self, conn: Connection) -> Probe:
        """The probe, over the same recent range as at the last catch-up."""
        return probe(conn, self.organization_id, _bound(self.newest))

    def is_current(self, state: Probe) -> bool:
        return (state.epoch, state.newest, state.recent) == (
            self.epoch,
            self.newest,
            self.recent,
        )

    def catch_up(self, conn: Connection, state: Probe) -> None:
        """Re-read what was stamped since a little before ``newest`` (same epoch only)."""
        assert state.epoch == self.epoch
        recent = probe(conn, self.organization_id, _bound(state.newest)).recent
        condition = responses.c.organization_id == self.organization_id
        if self.newest is not None:
            condition = and_(condition, responses.c.updated_at >= _bound(self.newest))
        self._apply(conn, condition)
        self.newest = state.newest
        self.recent = recent

    def _apply(self, conn: Connection, condition: Any) -> None:
        """Append new responses, overwrite changed ones (those ``condition`` selects)."""
        rows = conn.execute(select(*_RESPONSE_COLUMNS).where(condition)).all()
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        known = self._positions(ids)
        fresh = known < 0
        changed = [row for row, is_new in zip(rows, fresh, strict=True) if not is_new]
        if changed:
            at = known[~fresh]
            self.score[at] = [r.score for r in changed]
            self.commented[at] = [bool(r.comment) for r in changed]
            self.closed[at] = [r.status == "CLOSED" for r in changed]
            self.channel[at] = _channel_codes([r.channel for r in changed])
        new_rows = [row for row, is_new in zip(rows, fresh, strict=True) if is_new]
        if new_rows:
            self._append(new_rows)
        positions = self._positions(ids)
        # Changed responses were snapshotted again: their old values and tags go first.
        for column in self.attributes.values():
            column.clear(positions)
        for flags in self.tags.values():
            flags[positions] = False
        self._refresh_surveys_sent(conn, condition)
        if not self.attributes:
            return self._refresh_tags(conn, condition)
        a = response_attributes.c
        attributes = (
            select(
                a.response_id,
                a.name,
                a.value_type,
                a.value_text,
                a.value_number,
                type_coerce(a.value_date, String),  # as stored, for micros_of
            )
            .join(responses, responses.c.id == a.response_id)
            .where(condition, a.name.in_(list(self.attributes)))
        )
        self._fill_attribute_batch(conn.execute(attributes).all())
        self._refresh_tags(conn, condition)

    def _refresh_tags(self, conn: Connection, condition: Any) -> None:
        t = response_tags.c
        tags = select(t.response_id, t.tag).join(responses, responses.c.id == t.response_id)
        self._set_tags(conn.execute(tags.where(condition)).all())

    def _append(self, rows: Sequence[Any]) -> None:
        count = len(rows)
        start = self.size
        self._reserve(start + count)
        end = start + count
        ids = np.concatenate([self._ids(), np.fromiter((r.id for r in rows), np.int64, count)])
        self.created[start:end] = [micros(r.created_at) for r in rows]
        self.campaign[start:end] = [r.campaign_id for r in rows]
        contact_ids = [r.contact_id for r in rows]
        self.contact = _wide_enough(self.contact, max(contact_ids))
        self.contact[start:end] = contact_ids
        self.score[start:end] = [r.score for r in rows]
        self.commented[start:end] = [bool(r.comment) for r in rows]
        self.closed[start:end] = [r.status == "CLOSED" for r in rows]
        self.channel[start:end] = _channel_codes([r.channel for r in rows])
        self.size = end
        if start and not _in_order(self.created, ids, start, end):
            ids = self._sort(ids)
        self._index_ids(ids)
        self._contacts = self._contact_dense = None

    def _reserve(self, needed: int) -> None:
        if needed <= self.capacity:
            return
        capacity = max(needed, self.capacity * 3 // 2, 1024)
        self.created = _grown(self.created, capacity, np.iinfo(np.int64).max)
        self.campaign = _grown(self.campaign, capacity, 0)
        self.contact = _grown(self.contact, capacity, 0)
        self.score = _grown(self.score, capacity, 0)
        self.commented = _grown(self.commented, capacity, False)
        self.closed = _grown(self.closed, capacity, False)
        self.channel = _grown(self.channel, capacity, 0)
        self.tags = {tag: _grown(flags, capacity, False) for tag, flags in self.tags.items()}
        if self.survey_sent is not None:
            self.survey_sent = _grown(self.survey_sent, capacity, NEVER)
        for column in self.attributes.values():
            column.grow(capacity)
        self.capacity = capacity

    def _sort(self, ids: Ints) -> Ints:
        """Put the responses in (created, id) order, given each one's id; the ids in it."""
        n = self.size
        order = np.lexsort((ids, self.created[:n]))
        for name in (
            "created",
            "campaign",
            "contact",
            "score",
            "commented",
            "closed",
            "channel",
        ):
            array = getattr(self, name)
            array[:n] = array[:n][order]
        for flags in self.tags.values():
            flags[:n] = flags[:n][order]
        if self.survey_sent is not None:
            self.survey_sent[:n] = self.survey_sent[:n][order]
        for column in self.attributes.values():
            column.reorder(order, self.capacity)
        return ids[order]

    def _index_ids(self, ids: Ints) -> None:
        """Index the ids, given each response's in position order."""
        order = np.argsort(ids, kind="stable")
        self._id_sorted = _narrowed(ids[order])
        self._id_position = order.astype(np.int32)

    def _ids(self) -> Ints:
        """Each response's id, in position order."""
        ids = np.empty(self.size, np.int64)
        ids[self._id_position] = self._id_sorted
        return ids

    def ids_at(self, positions: Ints) -> Ints:
        """The ids of the responses at ``positions``."""
        return self._ids()[positions]

    def _positions(self, ids: Ints) -> Ints:
        """Where each id is, or -1."""
        if not len(self._id_sorted):
            return np.full(len(ids), -1, np.int64)
        if self._id_sorted.dtype == np.int32:  # ids beyond it are not there; -1 is no id
            ids = np.where(ids <= INT32_MAX, ids, -1).astype(np.int32)
        at = np.searchsorted(self._id_sorted, ids)
        at = np.minimum(at, len(self._id_sorted) - 1)
        found = self._id_sorted[at] == ids
        return np.where(found, self._id_position[at], -1)

    def _set_tags(self, rows: Sequence[Any]) -> None:
        if not rows:
            return
        tagged = self._positions(np.fromiter((r[0] for r in rows), np.int64, len(rows)))
        for tag in {r[1] for r in rows}:
            if tag not in self.tags:
                self.tags[tag] = np.zeros(self.capacity, np.bool_)
        for (_, tag), position in zip(rows, tagged, strict=True):
            if position >= 0:
                self.tags[tag][position] = True

    # -- reading -----------------------------------------------------------------------

    def window(self, since: datetime, until: datetime) -> tuple[int, int]:
        """The positions [lo, hi) answered in [since, until)."""
        created = self.created[: self.size]
        lo = int(np.searchsorted(created, micros(since), "left"))
        hi = int(np.searchsorted(created, micros(until), "left"))
        return lo, hi

    def contact_dense(self) -> tuple[Ints, npt.NDArray[np.int32]]:
        """Sorted distinct contact ids, and each response's index into them."""
        if self._contacts is None or self._contact_dense is None:
            self._contacts, inverse = np.unique(self.contact[: self.size], return_inverse=True)
            self._contact_dense = inverse.astype(np.int32)
        return self._contacts, self._contact_dense

    def responses_in(self, positions: Ints | slice, response_ids: Iterable[int]) -> Bools:
        """Whether each response at ``positions`` is one of ``response_ids``."""
        flags = np.zeros(self.size, np.bool_)
        at = self._positions(np.fromiter(response_ids, np.int64))
        flags[at[at >= 0]] = True
        return flags[positions]

    def contacts_in(self, positions: Ints | slice, contact_ids: Iterable[int]) -> Bools:
        """Whether each response at ``positions`` belongs to one of ``contact_ids``."""
        distinct, dense = self.contact_dense()
        wanted = np.fromiter(contact_ids, np.int64)
        flags = np.zeros(len(distinct) + 1, np.bool_)
        if len(wanted) and len(distinct):
            at = np.minimum(np.searchsorted(distinct, wanted), len(distinct) - 1)
            flags[at[distinct[at] == wanted]] = True
        return flags[dense[positions]]


def _wide_enough(ids: Ids, largest: int) -> Ids:
    """``ids``, made 64-bit if ``largest`` does not fit its 32 bits."""
    if ids.dtype == np.int32 and largest > INT32_MAX:
        return ids.astype(np.int64)
    return ids


def _narrowed(ids: Ints) -> Ids:
    """``ids`` as 32-bit when they all fit."""
    return ids.astype(np.int32) if int(ids.max(initial=0)) <= INT32_MAX else ids


def _channel_codes(channels: Sequence[str]) -> npt.NDArray[np.int8]:
    return np.fromiter(map(CHANNEL_CODES.__getitem__, channels), np.int8, len(channels))


def _pick(values: Sequence[Any], indexes: Ints) -> list[Any]:
    """``values[i]`` for each index (C-level, for long tuples)."""
    if len(indexes) == 1:
        return [values[int(indexes[0])]]
    return list(itemgetter(*indexes.tolist())(values))


def _bound(newest: datetime | None) -> datetime | None:
    return None if newest is None else newest - CATCH_UP_MARGIN


def _in_order(created: Ints, ids: Ints, start: int, end: int) -> bool:
    """Whether appending [start, end) kept the (created, id) order."""
    block_c = created[start - 1 : end]
    block_i = ids[start - 1 : end]
    later = block_c[1:] > block_c[:-1]
    same = (block_c[1:] == block_c[:-1]) & (block_i[1:] > block_i[:-1])
    return bool(np.all(later | same))
