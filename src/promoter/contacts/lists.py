"""Contact lists: the organization's Segment list and others, and who is on them.

Every function takes the caller's connection and is scoped to one organization; none
commits.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from promoter.domain.ids import MAX_INT_ID
from promoter.storage.bulk import InSelect
from promoter.storage.dialect import insert_for
from promoter.storage.tables import campaigns, contact_lists, contacts, list_memberships

SEGMENT_LIST_NAME = "Segment List"
MAX_NAME_LENGTH = 200
#: List ids are 32-bit: a larger one names no list (and PostgreSQL refuses to compare it).
MAX_LIST_ID = MAX_INT_ID


@dataclass(frozen=True, slots=True)
class ContactList:
    id: int
    name: str
    #: The list identified contacts join (it cannot be deleted).
    is_segment: bool
    created_at: datetime
    contact_count: int


class ListNotFound(LookupError):
    """The organization has no such list (or no such member on it)."""


class ListNameTaken(ValueError):
    """Another list of the organization has this name."""


class ListInUse(ValueError):
    """The list cannot be deleted (its message says why)."""


#: Read by every request that identifies someone: fixed SQL, built once.
_SEGMENT_LIST = InSelect("SELECT id FROM contact_lists WHERE organization_id = {p} AND is_segment")


def segment_list_id(conn: Connection, *, organization_id: int) -> int:
    found = _SEGMENT_LIST.rows(conn, organization_id)
    list_id = found[0][0] if found else None
    if list_id is None:  # an organization made before lists existed, or the list was removed
        list_id = conn.execute(
            insert(contact_lists)
            .values(
                organization_id=organization_id,
                name=SEGMENT_LIST_NAME,
                is_segment=True,
                created_at=datetime.now(UTC),
            )
            .returning(contact_lists.c.id)
        ).scalar_one()
    return int(list_id)


def list_lists(
    conn: Connection, *, organization_id: int, limit: int, offset: int
) -> tuple[int, list[ContactList]]:
    """How many lists the organization has, and the asked-for slice of them, oldest first."""
    mine = contact_lists.c.organization_id == organization_id
    total = conn.execute(select(func.count()).select_from(contact_lists).where(mine)).scalar_one()
    ids = conn.execute(
        select(contact_lists.c.id)
        .where(mine)
        .order_by(contact_lists.c.id)
        .limit(limit)
        .offset(offset)
    ).scalars()
    return int(total), _load(conn, organization_id, list(ids))


def list_names(conn: Connection, *, organization_id: int) -> dict[int, str]:
    """The organization's list names by id: the Segment list first, then by name."""
    rows = conn.execute(
        select(contact_lists.c.id, contact_lists.c.name)
        .where(contact_lists.c.organization_id == organization_id)
        .order_by(contact_lists.c.is_segment.desc(), contact_lists.c.name)
    )
    return {row.id: row.name for row in rows}


def get_list(conn: Connection, *, organization_id: int, list_id: int) -> ContactList:
    found = _load(conn, organization_id, [list_id])
    if not found:
        raise ListNotFound(f"no contact list {list_id}")
    return found[0]


def _load(conn: Connection, organization_id: int, ids: list[int]) -> list[ContactList]:
    ids = [i for i in ids if 1 <= i <= MAX_LIST_ID]
    if not ids:
        return []
    counts: dict[int, int] = {
        list_id: int(n)
        for list_id, n in conn.execute(
            select(list_memberships.c.list_id, func.count())
            .where(list_memberships.c.list_id.in_(ids))
            .group_by(list_memberships.c.list_id)
        )
    }
    rows = conn.execute(
        select(contact_lists).where(
            contact_lists.c.organization_id == organization_id, contact_lists.c.id.in_(ids)
        )
    )
    by_id = {
        r.id: ContactList(r.id, r.name, bool(r.is_segment), r.created_at, counts.get(r.id, 0))
        for r in rows
    }
    return [by_id[i] for i in ids if i in by_id]


def existing_list_ids(conn: Connection, *, organization_id: int, ids: Collection[int]) -> set[int]:
    """Those of ``ids`` that are the organization's lists."""
    ids = [i for i in ids if 1 <= i <= MAX_LIST_ID]
    if not ids:
        return set()
    return set(
        conn.execute(
            select(contact_lists.c.id).where(
                contact_lists.c.organization_id == organization_id,
                contact_lists.c.id.in_(sorted(ids)),
            )
        ).scalars()
    )


def create_list(conn: Connection, *, organization_id: int, name: str, now: datetime) -> ContactList:
    """A new, empty list; raises :class:`ListNameTaken`."""
    list_id = conn.execute(
        insert_for(conn, contact_lists)
        .values(organization_id=organization_id, name=name, is_segment=False, created_at=now)
        .on_conflict_do_nothing(index_elements=["organization_id", "name"])
        .returning(contact_lists.c.id)
    ).scalar()
    if list_id is None:
        raise ListNameTaken(f"a list named {name!r} exists already")
    return get_list(conn, organization_id=organization_id, list_id=list_id)


def rename_list(conn: Connection, *, organization_id: int, list_id: int, name: str) -> ContactList:
    """Raises :class:`ListNotFound` or :class:`ListNameTaken`."""
    current = get_list(conn, organization_id=organization_id, list_id=list_id)
    if name != current.name:
        taken = conn.execute(
            select(contact_lists.c.id).where(
                contact_lists.c.organization_id == organization_id,
                contact_lists.c.name == name,
            )
        ).scalar()
        if taken is not None:
            raise ListNameTaken(f"a list named {name!r} exists already")
        conn.execute(update(contact_lists).where(contact_lists.c.id == list_id).values(name=name))
    return get_list(conn, organization_id=organization_id, list_id=list_id)


def delete_list(conn: Connection, *, organization_id: int, list_id: int) -> None:
    """Delete a list (its contacts stay). The Segment list, and a list a campaign surveys,
    cannot be deleted: raises :class:`ListInUse` (or :class:`ListNotFound`)."""
    found = get_list(conn, organization_id=organization_id, list_id=list_id)
    if found.is_segment:
        raise ListInUse("The Segment list cannot be deleted: identified contacts join it.")
    users = list(
        conn.execute(
            select(campaigns.c.name)
            .where(campaigns.c.contact_list_id == list_id)
            .order_by(campaigns.c.id)
        ).scalars()
    )
    if users:
        named = ", ".join(repr(n) for n in users[:5]) + (", ..." if len(users) > 5 else "")
        raise ListInUse(f"The list is used by campaign(s) {named}: give them another list first.")
    conn.execute(delete(list_memberships).where(list_memberships.c.list_id == list_id))
    conn.execute(delete(contact_lists).where(contact_lists.c.id == list_id))


def add_members(
    conn: Connection,
    *,
    organization_id: int,
    list_ids: Collection[int],
    contact_id: int,
    now: datetime,
) -> None:
    """Put a contact on lists (those it is on already are left alone). Both must be the
    organization's: the caller checked."""
    if not list_ids:
        return
    conn.execute(
        insert_for(conn, list_memberships).on_conflict_do_nothing(
            index_elements=["list_id", "contact_id"]
        ),
        [{"list_id": i, "contact_id": contact_id, "created_at": now} for i in sorted(list_ids)],
    )


def remove_member(conn: Connection, *, organization_id: int, list_id: int, contact_id: int) -> None:
    """Take a contact off a list; raises :class:`ListNotFound` when the list is not the
    organization's or the contact is not on it."""
    get_list(conn, organization_id=organization_id, list_id=list_id)
    removed = conn.execute(
        delete(list_memberships).where(
            list_memberships.c.list_id == list_id, list_memberships.c.contact_id == contact_id
        )
    ).rowcount
    if not removed:
        raise ListNotFound(f"contact {contact_id} is not on list {list_id}")


def member_ids(
    conn: Connection, *, organization_id: int, list_id: int, after: int, limit: int
) -> list[int]:
    """Up to ``limit`` ids of the list's members above ``after``, in order (to walk a long
    list in batches)."""
    return list(
        conn.execute(
            select(list_memberships.c.contact_id)
            .join(contacts, contacts.c.id == list_memberships.c.contact_id)
            .where(
                list_memberships.c.list_id == list_id,
                contacts.c.organization_id == organization_id,
                list_memberships.c.contact_id > after,
            )
            .order_by(list_memberships.c.contact_id)
            .limit(limit)
        ).scalars()
    )
