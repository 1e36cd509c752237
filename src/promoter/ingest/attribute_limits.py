"""Caps on attribute names, applied to identify messages before their traits are written.

A contact holds at most ``per_contact`` attributes, and an organization uses at most
``per_organization`` distinct names. A contact may always update or remove the attributes
it has; a trait naming a new attribute is dropped when the contact is full, or when the
name is new to a full organization. The message is still accepted, with a reason saying
what was dropped.

``OrganizationNames`` remembers each organization's names in the process, so a message
whose names are all known reads nothing. Names new to it are checked against the
database: on PostgreSQL under a lock per organization, so that processes writing at once
cannot go past the cap. Once an organization is full, new names are dropped without a
read until its names are ``fresh_seconds`` old; a name that no contact holds any more
stops counting at the next read. It remembers only what committed transactions read and
admitted (``after_commit``): a transaction rolled back, and run again, decides anew.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from promoter.contacts.attribute_names import lock_names, organization_names
from promoter.domain.attributes import AttributeLimits, AttributeValue
from promoter.domain.messages import Identify
from promoter.storage.bulk import InSelect
from promoter.storage.group_commit import after_commit

_COUNTS = InSelect(
    "SELECT contact_id, COUNT(*) FROM contact_attributes WHERE contact_id {in} GROUP BY contact_id"
)
_NAMES = InSelect("SELECT contact_id, name FROM contact_attributes WHERE contact_id {in}")


@dataclass(frozen=True, slots=True)
class Admitted:
    """What is kept of an identify's attributes, and why the rest was dropped."""

    attributes: dict[str, AttributeValue | None]
    reason: str


@dataclass(slots=True)
class _Known:
    names: set[str]
    read_at: float


class OrganizationNames:
    """The attribute names of the ``organizations`` most recently active organizations,
    as last read plus those admitted since. Thread-safe."""

    def __init__(
        self,
        *,
        organizations: int = 1_000,
        fresh_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_orgs = organizations
        self._fresh = fresh_seconds
        self._clock = clock
        self._known: OrderedDict[int, _Known] = OrderedDict()
        self.lock = threading.Lock()

    def prepare(
        self, conn: Connection, organization_id: int, wanted: Collection[str], cap: int
    ) -> set[str]:
        """The organization's names, read again if needed to decide on ``wanted``: a copy,
        for the caller to add the names it admits to (see :meth:`admitted`)."""
        with self.lock:
            known = self._known.get(organization_id)
            if known is not None:
                self._known.move_to_end(organization_id)
                names, read_at = set(known.names), known.read_at
        if known is None:
            return self._read(conn, organization_id)
        unknown = sum(name not in names for name in wanted)
        fresh = self._clock() - read_at <= self._fresh
        if not unknown or (fresh and len(names) >= cap):
            return names
        # Other processes may be adding names (PostgreSQL): decide under the lock, on what
        # they committed; taken after the userId locks, so two requests cannot deadlock.
        lock_names(conn, organization_id)
        return self._read(conn, organization_id)

    def admitted(self, conn: Connection, organization_id: int, names: Collection[str]) -> None:
        """``names`` were admitted in ``conn``'s transaction: known once it commits."""
        if names:
            after_commit(conn, lambda: self._add(organization_id, set(names)))

    def _read(self, conn: Connection, organization_id: int) -> set[str]:
        names = organization_names(conn, organization_id)
        known = _Known(set(names), self._clock())
        after_commit(conn, lambda: self._store(organization_id, known))
        return names

    def _store(self, organization_id: int, known: _Known) -> None:
        with self.lock:
            stored = self._known.get(organization_id)
            if stored is not None and stored.read_at > known.read_at:
                return  # a later read committed first
            self._known[organization_id] = known
            self._known.move_to_end(organization_id)
            while len(self._known) > self._max_orgs:
                self._known.popitem(last=False)

    def _add(self, organization_id: int, names: set[str]) -> None:
        with self.lock:
            known = self._known.get(organization_id)
            if known is not None:
                known.names |= names


def admit_attributes(
    conn: Connection,
    *,
    organization_id: int,
    identifies: Sequence[tuple[int, Identify]],
    contact_ids: Mapping[str, int | None],
    limits: AttributeLimits,
    names: OrganizationNames,
) -> dict[int, Admitted]:
    """For each identify (by message index) that loses traits to the caps, what is kept.

    ``contact_ids`` gives the id of each userId's contact, None for one not stored yet.
    Identifies are taken in order: a trait removed by one frees room for the next.
    """
    wanted: dict[str, set[str]] = {}
    for _, op in identifies:
        if op.attributes:
            mine = wanted.setdefault(op.user_id, set())
            mine.update(name for name, value in op.attributes.items() if value is not None)
    if not wanted:
        return {}
    every = set[str]().union(*wanted.values())
    cap = limits.per_organization
    known = names.prepare(conn, organization_id, every, cap)
    before = set(known)
    org_may_refuse = len(known) + sum(name not in known for name in every) > cap
    held = _held_names(conn, wanted, contact_ids, limits.per_contact, known, org_may_refuse)
    admitted: dict[int, Admitted] = {}
    for index, op in identifies:
        if op.attributes:
            result = _admit(op, held.get(op.user_id), known, limits)
            if result is not None:
                admitted[index] = result
    names.admitted(conn, organization_id, known - before)
    return admitted


def _held_names(
    conn: Connection,
    wanted: Mapping[str, set[str]],
    contact_ids: Mapping[str, int | None],
    per_contact: int,
    known: set[str],
    org_may_refuse: bool,
) -> dict[str, set[str]]:
    """The names held by each contact that might lose a trait (absent: it cannot).

    A contact cannot when what it holds and every name it is sent fit its cap, and the
    organization takes every name it is sent; then its names are not read.
    """
    held: dict[str, set[str]] = {}
    counts: dict[int, int] = {}
    stored = {user: cid for user in wanted if (cid := contact_ids.get(user)) is not None}
    if stored:
        counts = dict(_COUNTS.rows(conn, values=sorted(stored.values())))
    to_read: dict[int, str] = {}
    for user, names in wanted.items():
        cid = stored.get(user)
        count = counts.get(cid, 0) if cid is not None else 0
        refusable = org_may_refuse and not names <= known
        if count + len(names) <= per_contact and not refusable:
            continue
        held[user] = set()
        if cid is not None and count:
            to_read[cid] = user
    if to_read:
        for cid, name in _NAMES.rows(conn, values=sorted(to_read)):
            held[to_read[cid]].add(name)
    return held


def _admit(
    op: Identify, held: set[str] | None, known: set[str], limits: AttributeLimits
) -> Admitted | None:
    """Apply the caps to one identify; ``held`` (updated) is None for a contact with room."""
    kept: dict[str, AttributeValue | None] = {}
    full_contact: list[str] = []
    full_org: list[str] = []
    for name, value in op.attributes.items():
        if value is None:
            if held is not None:
                held.discard(name)
        elif held is not None and name not in held:
            if len(held) >= limits.per_contact:
                full_contact.append(name)
                continue
            if name not in known and len(known) >= limits.per_organization:
                full_org.append(name)
                continue
            held.add(name)
            known.add(name)
        elif name not in known:
            if held is None and len(known) >= limits.per_organization:
                full_org.append(name)
                continue
            known.add(name)  # held by the contact, so known to the organization
        kept[name] = value
    if not (full_contact or full_org):
        return None
    reasons = []
    if full_contact:
        reasons.append(
            _dropped(full_contact, f"a contact holds at most {limits.per_contact} attributes")
        )
    if full_org:
        reasons.append(
            _dropped(
                full_org, f"an organization has at most {limits.per_organization} attribute names"
            )
        )
    return Admitted(kept, "; ".join(reasons))


def _dropped(names: list[str], rule: str) -> str:
    count = "1 trait" if len(names) == 1 else f"{len(names)} traits"
    return f"{count} dropped: {rule} (first dropped: {names[0][:40]!r})"
