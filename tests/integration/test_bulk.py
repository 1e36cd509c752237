"""The hot path's fixed-SQL reads and bulk writes store and return what SQLAlchemy would."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select

from promoter.ingest.writes import _ATTRIBUTE_COLUMNS, _upsert_attributes
from promoter.storage.bulk import COPY_MIN_ROWS, BulkInsert, InSelect, allocate_ids, insert_rows
from promoter.storage.engine import Database
from promoter.storage.pipeline import pipeline
from promoter.storage.tables import contact_attributes, contacts, events, orders, processed_messages
from tests.conftest import Org

T0 = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)

_IDS = InSelect(
    "SELECT message_id FROM processed_messages WHERE organization_id = {p} AND message_id {in}"
)
_SINCE = InSelect(
    "SELECT message_id, received_at FROM processed_messages"
    " WHERE organization_id = {p} AND received_at >= {p} AND message_id {in}"
    " ORDER BY message_id",
    params={1: processed_messages.c.received_at.type},
    columns={1: processed_messages.c.received_at.type},
)
_COUNT = InSelect("SELECT count(*) FROM processed_messages WHERE organization_id = {p}")


def _messages(database: Database, org_id: int, names: list[str], at: datetime) -> None:
    with database.write() as conn:
        conn.execute(
            insert(processed_messages),
            [{"organization_id": org_id, "message_id": n, "received_at": at} for n in names],
        )


def test_in_select_matches_the_list_and_the_scalar_parameters(database: Database) -> None:
    odd = ["plain", 'it\'s "quoted"', "ünïcødé ✓", "back\\slash", "%s", "?"]
    _messages(database, 1, odd + [f"m{i}" for i in range(1500)], T0)
    _messages(database, 2, ["plain", "other org"], T0)
    with database.read() as conn:
        wanted = [*odd, "m7", "m1499", "not there"]
        found = {r[0] for r in _IDS.rows(conn, 1, values=wanted)}
        assert found == set(wanted) - {"not there"}
        assert _IDS.rows(conn, 1, values=[]) == []
        assert {r[0] for r in _IDS.rows(conn, 2, values=wanted)} == {"plain"}
        assert len(_IDS.rows(conn, 1, values=[f"m{i}" for i in range(1500)])) == 1500
        # Without {in}, no list is passed.
        assert _COUNT.rows(conn, 1) == [(1506,)]


def test_in_select_converts_typed_parameters_and_columns(database: Database) -> None:
    _messages(database, 1, ["old"], T0 - timedelta(days=2))
    _messages(database, 1, ["new"], T0)
    # An instant given in another zone (16:30 there): converted to stored UTC first.
    since = (T0 - timedelta(hours=1)).astimezone(timezone(timedelta(hours=5)))
    with database.read() as conn:
        rows = _SINCE.rows(conn, 1, since, values=["old", "new"])
        expected = conn.execute(
            select(processed_messages.c.message_id, processed_messages.c.received_at).where(
                processed_messages.c.received_at >= since
            )
        ).all()
    assert rows == [("new", T0)]
    assert [tuple(r) for r in expected] == rows
    assert rows[0][1].tzinfo is UTC


_EVENT_COLUMNS = (
    "organization_id",
    "contact_id",
    "user_id",
    "name",
    "properties",
    "timestamp",
    "received_at",
    "message_id",
)


def _event(org_id: int, message_id: str, **values: object) -> dict[str, object]:
    return {
        "organization_id": org_id,
        "contact_id": None,
        "user_id": "u1",
        "name": "Order Completed",
        "properties": {"total": 9.5, "products": [{"sku": "a", "n": 2}], "ok": True},
        "timestamp": T0,
        "received_at": T0 + timedelta(seconds=1),
        "message_id": message_id,
        **values,
    }


def test_bulk_insert_stores_what_sqlalchemy_would(database: Database, org: Org) -> None:
    bulk = BulkInsert(events, _EVENT_COLUMNS)
    rows = [_event(org.id, "m1"), _event(org.id, "m2", timestamp=T0 + timedelta(hours=1))]
    with database.write() as conn:
        bulk.execute(conn, [tuple(row[c] for c in _EVENT_COLUMNS) for row in rows])
        conn.execute(insert(events), [_event(org.id, "core")])
    with database.read() as conn:
        stored = conn.execute(
            select(
                events.c.message_id, events.c.user_id, events.c.properties, events.c.timestamp
            ).order_by(events.c.message_id)
        ).all()
    assert [tuple(r) for r in stored] == [
        ("core", "u1", rows[0]["properties"], T0),
        ("m1", "u1", rows[0]["properties"], T0),
        ("m2", "u1", rows[0]["properties"], T0 + timedelta(hours=1)),
    ]


#: Text that COPY's format escapes, or JSON or SQL might trip on.
_AWKWARD = ["tab\there", "new\nline", "back\\slash", "\\N", "ünïcødé ✓", 'q"uote', "", "{}"]


def _awkward_events(
    org_id: int,
    count: int,
    zone: timezone,
    more: Callable[[int], dict[str, object]] = lambda _: {},
    microseconds: int = 0,
) -> list[dict[str, object]]:
    """``count`` events with awkward userIds and properties, their times in ``zone``."""
    return [
        _event(
            org_id,
            f"m{i:02d}",
            user_id=_AWKWARD[i % len(_AWKWARD)],
            contact_id=None,
            properties={"text": _AWKWARD[i % len(_AWKWARD)], "n": i, "none": None, **more(i)},
            timestamp=(T0 + timedelta(minutes=i, microseconds=microseconds)).astimezone(zone),
        )
        for i in range(count)
    ]


def test_many_rows_store_what_sqlalchemy_would(database: Database, org: Org) -> None:
    """Enough rows for COPY on PostgreSQL, with the values COPY's text format escapes."""
    rows = _awkward_events(org.id, COPY_MIN_ROWS * 2, timezone(timedelta(hours=-7)))
    with database.write() as conn:
        BulkInsert(events, _EVENT_COLUMNS).execute(
            conn, [tuple(row[c] for c in _EVENT_COLUMNS) for row in rows]
        )
        conn.execute(
            insert(events), [{**row, "message_id": f"core-{row['message_id']}"} for row in rows]
        )
    columns = (events.c.user_id, events.c.contact_id, events.c.properties, events.c.timestamp)
    with database.read() as conn:
        bulk = conn.execute(
            select(*columns)
            .where(~events.c.message_id.like("core-%"))
            .order_by(events.c.message_id)
        ).all()
        core = conn.execute(
            select(*columns).where(events.c.message_id.like("core-%")).order_by(events.c.message_id)
        ).all()
    assert [tuple(r) for r in bulk] == [tuple(r) for r in core]
    assert [r.user_id for r in bulk] == [row["user_id"] for row in rows]
    assert bulk[3].timestamp == T0 + timedelta(minutes=3)


def test_rows_sent_as_one_json_document_store_what_sqlalchemy_would(
    database: Database, org: Org, backend: str
) -> None:
    """PostgreSQL's pipelined inserts (insert_rows): awkward text, nested JSON, floats,
    instants in other zones, NULLs; two tables in one round trip."""
    if backend == "sqlite":
        pytest.skip("SQLite inserts with executemany")
    odd = _AWKWARD
    rows = _awkward_events(
        org.id,
        12,
        timezone(timedelta(hours=-7, minutes=-30)),
        lambda i: {
            "big": 2**62,
            "x": 0.1 + i / 3,
            "list": [odd[i % len(odd)], {"deep": [1.5e300, -0.0]}],
        },
        microseconds=7,
    )
    columns = ("id", *_EVENT_COLUMNS)
    order_columns = (
        "organization_id",
        "event_id",
        "user_id",
        "total",
        "currency",
        "products",
        "timestamp",
    )
    with database.write() as conn:
        ids = allocate_ids(conn, events, len(rows) * 2)
        order_rows = [
            (
                org.id,
                ids[i],
                row["user_id"],
                1 / (i + 3),
                None if i % 2 else "EUR",
                [{"sku": odd[i % len(odd)]}],
                row["timestamp"],
            )
            for i, row in enumerate(rows)
        ]
        insert_rows(
            conn,
            [
                (
                    BulkInsert(events, columns),
                    [(ids[i], *(r[c] for c in _EVENT_COLUMNS)) for i, r in enumerate(rows)],
                ),
                (BulkInsert(orders, order_columns), order_rows),
            ],
        )
        conn.execute(
            insert(events),
            [
                {**row, "id": ids[len(rows) + i], "message_id": f"core-{row['message_id']}"}
                for i, row in enumerate(rows)
            ],
        )
        conn.execute(
            insert(orders),
            [
                dict(zip(order_columns, (*row[:1], ids[len(rows) + i], *row[2:]), strict=True))
                for i, row in enumerate(order_rows)
            ],
        )
    shown = (events.c.user_id, events.c.contact_id, events.c.properties, events.c.timestamp)
    with database.read() as conn:
        sent = conn.execute(
            select(*shown).where(~events.c.message_id.like("core-%")).order_by(events.c.id)
        ).all()
        core = conn.execute(
            select(*shown).where(events.c.message_id.like("core-%")).order_by(events.c.id)
        ).all()
        order_shown = [orders.c[name] for name in order_columns if name != "event_id"]
        stored_orders = conn.execute(select(*order_shown).order_by(orders.c.event_id)).all()
    assert [tuple(r) for r in sent] == [tuple(r) for r in core]
    assert [r.user_id for r in sent] == [row["user_id"] for row in rows]
    assert sent[3].timestamp == T0 + timedelta(minutes=3, microseconds=7)
    assert sent[1].properties == rows[1]["properties"]
    half = len(stored_orders) // 2
    assert [tuple(r) for r in stored_orders[:half]] == [tuple(r) for r in stored_orders[half:]]
    assert stored_orders[0].total == 1 / 3 and stored_orders[1].currency is None


def test_a_none_in_a_json_column_is_stored_as_sqlalchemy_stores_it(
    database: Database, org: Org, backend: str
) -> None:
    """JSON's null, not SQL's NULL: such rows do not go as a JSON document."""
    bulk = BulkInsert(events, _EVENT_COLUMNS)
    rows = [tuple(_event(org.id, "none", properties=None)[c] for c in _EVENT_COLUMNS)]
    assert not bulk.takes_json(rows) and bulk.takes_json([(*rows[0][:4], {}, *rows[0][5:])])
    with database.write() as conn:
        insert_rows(conn, [(bulk, rows)])
        conn.execute(insert(events), [_event(org.id, "core", properties=None)])
    with database.read() as conn:
        stored = conn.execute(
            select(events.c.properties.is_(None), func.count()).group_by(
                events.c.properties.is_(None)
            )
        ).all()
    assert [tuple(r) for r in stored] == [(False, 2)]  # both JSON null, neither NULL
    if backend == "postgresql":
        with (
            database.write() as conn,
            pytest.raises(ValueError, match="JSON document"),
            pipeline(conn) as queued,
        ):
            bulk.queue(conn, queued, rows)


def test_bulk_insert_refuses_rows_that_do_not_fit_its_columns(database: Database) -> None:
    with pytest.raises(ValueError, match="has no column nope"):
        BulkInsert(events, ("user_id", "nope"))
    bulk = BulkInsert(processed_messages, ("organization_id", "message_id", "received_at"))
    with database.write() as conn, pytest.raises(ValueError, match="2 values for 3 columns"):
        bulk.execute(conn, [(1, "m")])


def test_allocated_ids_are_free_and_used_in_order(database: Database, org: Org) -> None:
    bulk = BulkInsert(events, ("id", *_EVENT_COLUMNS))
    with database.write() as conn:
        conn.execute(insert(events), [_event(org.id, "a")])
        ids = allocate_ids(conn, events, 3)
        assert allocate_ids(conn, events, 0) == []
        bulk.execute(
            conn,
            [(i, *(_event(org.id, f"b{i}")[c] for c in _EVENT_COLUMNS)) for i in ids],
        )
        after = allocate_ids(conn, events, 2)
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert min(after) > max(ids)
    with database.read() as conn:
        stored = conn.execute(select(events.c.id).order_by(events.c.id)).scalars().all()
    assert stored[1:] == ids and stored[0] < ids[0]


def _attribute_rows(org_id: int, contact_id: int, round_: int) -> list[tuple[object, ...]]:
    """Awkward text, integers beyond a double's exact range among decimals, instants in
    another zone, NULLs; ``round_`` changes every other value."""
    zone = timezone(timedelta(hours=-7, minutes=-30))
    numbers = [0, 0.1 + 0.2, 2**60 + 1, -1e300, 5e-324, 7, 1 / 3, 12.5]
    rows = []
    for i in range(len(_AWKWARD) * 2):
        changed = round_ if i % 2 else 0
        when = (T0 + timedelta(days=i + changed, microseconds=i)).astimezone(zone)
        kind = ("string", "number", "date")[(i + changed) % 3]
        rows.append(
            (
                contact_id,
                _AWKWARD[i % len(_AWKWARD)] + f"#{i}",
                org_id,
                kind,
                f"{_AWKWARD[i % len(_AWKWARD)]}{changed}" if kind == "string" else None,
                numbers[i % len(numbers)] + changed if kind == "number" else None,
                when if kind == "date" else None,
                when,
            )
        )
    return rows


def test_an_upsert_of_many_rows_stores_what_sqlalchemy_would(
    database: Database, org: Org, backend: str
) -> None:
    """On PostgreSQL the rows go as one JSON document with the upsert's ON CONFLICT
    clause; inserted, then updated, they match SQLAlchemy's own upsert of the same rows
    row by row (on a second contact)."""
    with database.write() as conn:
        ids = allocate_ids(conn, contacts, 2)
        for cid in ids:
            conn.execute(
                insert(contacts).values(
                    id=cid,
                    organization_id=org.id,
                    user_id=f"u{cid}",
                    email=f"u{cid}@x.co",
                    email_key=f"u{cid}@x.co",
                    status="active",
                    created_at=T0,
                    updated_at=T0,
                )
            )
    bulk = BulkInsert(contact_attributes, _ATTRIBUTE_COLUMNS, build=_upsert_attributes)
    for round_ in (0, 1):
        bulk_rows = _attribute_rows(org.id, ids[0], round_)
        assert len(bulk_rows) >= COPY_MIN_ROWS
        with database.write() as conn:
            bulk.execute(conn, bulk_rows)
            # PostgreSQL took them as one JSON document.
            assert (bulk._from_json is not None) == (backend == "postgresql")
            for row in _attribute_rows(org.id, ids[1], round_):
                conn.execute(
                    _upsert_attributes(conn), [dict(zip(_ATTRIBUTE_COLUMNS, row, strict=True))]
                )
        with database.read() as conn:
            stored = {
                cid: [
                    tuple(r)[1:]
                    for r in conn.execute(
                        select(contact_attributes)
                        .where(contact_attributes.c.contact_id == cid)
                        .order_by(contact_attributes.c.name)
                    )
                ]
                for cid in ids
            }
        assert stored[ids[0]] == stored[ids[1]]
        assert len(stored[ids[0]]) == len(_AWKWARD) * 2
    by_name = {row[0]: row for row in stored[ids[0]]}
    # name, organization, type, text, number, date, updated
    assert by_name[f"{_AWKWARD[1]}#1"][2:6] == (
        "date",
        None,
        None,
        T0 + timedelta(days=2, microseconds=1),
    )
    assert by_name[f"{_AWKWARD[7]}#15"][2:5] == ("number", None, 12.5 + 1)
    assert by_name[f"{_AWKWARD[4]}#4"][2:5] == ("number", None, 5e-324)
