"""Ingestion on real databases (each test runs on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from promoter.contacts.service import ContactFilter, get_contact, list_contacts
from promoter.domain.messages import Envelope
from promoter.domain.paging import Page
from promoter.ingest.listeners import StoredTrack
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.results import MessageResult
from promoter.ingest.service import Ingestor
from promoter.storage.engine import Database
from promoter.storage.tables import contacts, events, orders, processed_messages
from tests.conftest import Org

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def send(
    database: Database, org: Org, *messages: dict[str, Any], ingestor: Ingestor | None = None
) -> list[MessageResult]:
    return ingest_messages(
        database=database,
        ingestor=ingestor or Ingestor(),
        organization_id=org.id,
        messages=list(messages),
        envelope=Envelope(received_at=NOW),
        allowed=TRACKING_API_TYPES,
    )


def identify(user_id: str, message_id: str | None = None, **traits: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "identify", "userId": user_id, "traits": traits}
    if message_id:
        msg["messageId"] = message_id
    return msg


def track(user_id: str, event: str, message_id: str | None = None, **props: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "track", "userId": user_id, "event": event, "properties": props}
    if message_id:
        msg["messageId"] = message_id
    return msg


def contacts_of(database: Database, org: Org, **flt: Any) -> list[Any]:
    with database.read() as conn:
        _, found = list_contacts(
            conn, organization_id=org.id, flt=ContactFilter(**flt), page=Page(1, 100)
        )
    return found


def count(database: Database, table: Any, **where: Any) -> int:
    query = select(func.count()).select_from(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    with database.read() as conn:
        return int(conn.execute(query).scalar_one())


def test_identify_creates_contact_with_typed_attributes_in_segment_list(
    database: Database, org: Org
) -> None:
    results = send(
        database,
        org,
        identify(
            "12345",
            email="ted@mosbiusdesigns.com",
            firstName="Ted",
            lastName="Mosby",
            plan="Premium",
            seats=3,
            company={"plan": "Enterprise"},
        ),
    )
    assert [r.status for r in results] == ["accepted"]
    (contact,) = contacts_of(database, org)
    assert (contact.user_id, contact.email, contact.first_name, contact.last_name) == (
        "12345",
        "ted@mosbiusdesigns.com",
        "Ted",
        "Mosby",
    )
    assert contact.attributes == {"company.plan": "Enterprise", "plan": "Premium", "seats": 3}
    assert [lst["name"] for lst in contact.lists] == ["Segment List"]


def test_later_identify_updates_only_what_it_carries(database: Database, org: Org) -> None:
    send(database, org, identify("u1", email="a@x.co", firstName="Ann", plan="Free", seats=1))
    send(database, org, identify("u1", plan="Pro", lastName="Lee"))
    send(database, org, identify("u1", seats=None))
    (contact,) = contacts_of(database, org)
    assert (contact.email, contact.first_name, contact.last_name) == ("a@x.co", "Ann", "Lee")
    assert contact.attributes == {"plan": "Pro"}


def test_identify_without_email_for_unknown_user_is_rejected_and_stores_nothing(
    database: Database, org: Org
) -> None:
    (result,) = send(database, org, identify("ghost", plan="Pro"))
    assert result.status == "rejected"
    assert "email" in (result.reason or "")
    assert contacts_of(database, org) == []


def test_track_for_unknown_user_is_kept_flagged_then_linked_on_identify(
    database: Database, org: Org
) -> None:
    (result,) = send(database, org, track("later", "Signed Up", plan="Pro"))
    assert result.status == "accepted" and "not identified" in (result.reason or "")
    assert contacts_of(database, org) == []  # no half contact
    assert count(database, events, flag="unidentified") == 1
    send(database, org, identify("later", email="later@x.co"))
    (contact,) = contacts_of(database, org)
    assert count(database, events, contact_id=contact.id) == 1
    assert count(database, events, flag="unidentified") == 0


def test_orders_are_kept_from_both_event_names_and_casings(database: Database, org: Org) -> None:
    send(
        database,
        org,
        identify("buyer", email="b@x.co"),
        track("buyer", "Order Completed", order_id="o1", total=10, currency="USD", products=[]),
        track("buyer", "Completed Order", orderId="o2", revenue=20.5, products=[{"id": "p"}]),
    )
    with database.read() as conn:
        rows = conn.execute(select(orders).order_by(orders.c.order_id)).all()
    assert [(r.order_id, r.total, r.revenue, r.currency) for r in rows] == [
        ("o1", 10.0, 10.0, "USD"),
        ("o2", 20.5, 20.5, None),
    ]
    assert rows[1].products == [{"id": "p", "product_id": "p"}]
    assert count(database, events) == 2


def test_same_message_id_is_applied_once(database: Database, org: Org) -> None:
    msg = track("u", "Clicked", message_id="dup-1")
    first = send(database, org, identify("u", email="u@x.co"), msg, msg)
    assert [r.status for r in first] == ["accepted", "accepted", "duplicate"]
    again = send(database, org, msg)
    assert [r.status for r in again] == ["duplicate"]
    assert count(database, events) == 1


def test_message_ids_are_per_organization(database: Database, org: Org, other_org: Org) -> None:
    send(database, org, identify("u", "same-id", email="u@x.co"))
    (result,) = send(database, other_org, identify("u", "same-id", email="u@y.co"))
    assert result.status == "accepted"
    assert [c.email for c in contacts_of(database, org)] == ["u@x.co"]
    assert [c.email for c in contacts_of(database, other_org)] == ["u@y.co"]


def test_delete_erases_contact_events_orders_and_attributes(database: Database, org: Org) -> None:
    send(
        database,
        org,
        identify("gone", email="g@x.co", plan="Pro"),
        track("gone", "Order Completed", order_id="o"),
        identify("kept", email="k@x.co"),
        track("kept", "Clicked"),
    )
    send(database, org, track("gone", "Late event"))
    (result,) = send(database, org, {"type": "delete", "userId": "gone"})
    assert result.status == "accepted"
    assert [c.user_id for c in contacts_of(database, org)] == ["kept"]
    assert count(database, events, user_id="gone") == 0
    assert count(database, orders) == 0
    assert count(database, events) == 1


def test_messages_apply_in_order_around_a_delete(database: Database, org: Org) -> None:
    results = send(
        database,
        org,
        identify("u", email="old@x.co", plan="Old"),
        {"type": "delete", "userId": "u"},
        identify("u", email="new@x.co"),
        track("u", "After"),
    )
    assert [r.status for r in results] == ["accepted"] * 4
    (contact,) = contacts_of(database, org)
    assert contact.email == "new@x.co" and contact.attributes == {}
    assert count(database, events, contact_id=contact.id) == 1


def test_a_replayed_delete_does_not_split_the_run_around_it(database: Database, org: Org) -> None:
    """Contacts read with the messageId claim serve the operations before the first
    delete; when that delete is a replay, the run goes on past it and reads again."""
    send(database, org, identify("a", email="a@x.co"), identify("b", email="b@x.co"))
    send(database, org, {"type": "delete", "userId": "nobody", "messageId": "del-1"})
    send(database, org, track("a", "Earlier", "t-0"))
    results = send(
        database,
        org,
        track("a", "Earlier", "t-0"),  # a replay
        track("a", "Before", "t-1"),
        {"type": "delete", "userId": "nobody", "messageId": "del-1"},  # a replay
        track("b", "After", "t-2"),
    )
    assert [r.status for r in results] == ["duplicate", "accepted", "duplicate", "accepted"]
    by_user = {c.user_id: c.id for c in contacts_of(database, org)}
    assert count(database, events, contact_id=by_user["a"]) == 2
    assert count(database, events, contact_id=by_user["b"]) == 1  # not left unidentified
    # The same users on both sides, more tracks than were counted before the delete.
    results = send(
        database,
        org,
        track("b", "Before", "t-3"),
        {"type": "delete", "userId": "nobody", "messageId": "del-1"},
        track("b", "After", "t-4"),
    )
    assert [r.status for r in results] == ["accepted", "duplicate", "accepted"]
    assert count(database, events, contact_id=by_user["b"]) == 3
    assert count(database, events, flag="unidentified") == 0


def test_a_run_after_a_delete_reads_the_contacts_again(database: Database, org: Org) -> None:
    send(database, org, identify("u", email="u@x.co"))
    results = send(
        database,
        org,
        track("u", "Before"),
        {"type": "delete", "userId": "u"},
        track("u", "After"),
    )
    assert [r.status for r in results] == ["accepted"] * 3
    assert results[2].reason == "userId not identified yet: event kept, flagged"
    assert contacts_of(database, org) == []
    assert count(database, events) == 1  # "Before" went with the contact


def test_last_identify_in_a_batch_wins(database: Database, org: Org) -> None:
    send(
        database,
        org,
        identify("u", email="one@x.co", plan="A"),
        identify("u", email="two@x.co", plan="B"),
    )
    (contact,) = contacts_of(database, org)
    assert (contact.email, contact.attributes) == ("two@x.co", {"plan": "B"})


def test_one_organization_never_sees_anothers_contacts(
    database: Database, org: Org, other_org: Org
) -> None:
    send(database, org, identify("u", email="secret@x.co", plan="Pro"))
    assert contacts_of(database, other_org) == []
    (mine,) = contacts_of(database, org)
    with database.read() as conn:
        assert get_contact(conn, organization_id=other_org.id, contact_id=mine.id) is None
    # The same userId in the other organization is a different contact.
    send(database, other_org, identify("u", email="mine@y.co"))
    assert [c.email for c in contacts_of(database, org)] == ["secret@x.co"]


def test_filters_by_email_user_and_attributes(database: Database, org: Org) -> None:
    send(
        database,
        org,
        identify("a", email="Ann@X.co", plan="Pro", seats=5),
        identify("b", email="bob@x.co", plan="Pro", seats=2),
        identify("c", email="cat@x.co", plan="Free"),
    )
    assert [c.user_id for c in contacts_of(database, org, email="ann@x.co")] == ["a"]
    assert [c.user_id for c in contacts_of(database, org, user_id="c")] == ["c"]
    pro = contacts_of(database, org, attributes=(("plan", "Pro"),))
    assert [c.user_id for c in pro] == ["a", "b"]
    both = contacts_of(database, org, attributes=(("plan", "Pro"), ("seats", "5")))
    assert [c.user_id for c in both] == ["a"]


def test_listeners_see_tracks_in_the_transaction_and_notes_are_stored(
    database: Database, org: Org
) -> None:
    seen: list[StoredTrack] = []

    class Recorder:
        def on_tracks(self, conn: Any, tracks: Any) -> dict[int, str]:
            seen.extend(tracks)
            # Inside the transaction: the contact identified just before is there.
            assert conn.execute(select(func.count()).select_from(contacts)).scalar_one() == 1
            return {t.event_id: f"seen {t.name}" for t in tracks if t.contact_id}

    send(
        database,
        org,
        identify("u", email="u@x.co"),
        track("u", "Signed Up", message_id="t1"),
        track("stranger", "Clicked", message_id="t2"),
        ingestor=Ingestor([Recorder()]),
    )
    assert [(t.name, t.user_id, t.contact_id is not None) for t in seen] == [
        ("Signed Up", "u", True),
        ("Clicked", "stranger", False),
    ]
    with database.read() as conn:
        stored = conn.execute(select(events.c.id, events.c.trigger_note).order_by(events.c.id))
        assert [(r.id, r.trigger_note) for r in stored] == [
            (seen[0].event_id, "seen Signed Up"),
            (seen[1].event_id, None),
        ]


def test_a_failing_listener_rolls_back_the_whole_request(database: Database, org: Org) -> None:
    class Broken:
        def on_tracks(self, conn: Any, tracks: Any) -> None:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        send(
            database,
            org,
            identify("u", email="u@x.co"),
            track("u", "E"),
            ingestor=Ingestor([Broken()]),
        )
    assert contacts_of(database, org) == []
    assert count(database, processed_messages) == 0
    assert count(database, events) == 0


def test_message_ids_are_forgotten_after_the_retention(database: Database, org: Org) -> None:
    from datetime import timedelta

    from promoter.ingest.dedup import prune_processed_messages

    msg = identify("u", "old-1", email="u@x.co")
    send(database, org, msg)
    with database.write() as conn:
        assert prune_processed_messages(conn, older_than=NOW) == 0
        assert prune_processed_messages(conn, older_than=NOW + timedelta(seconds=1)) == 1
    assert [r.status for r in send(database, org, msg)] == ["accepted"]


def test_requests_applied_together_keep_their_own_results(
    database: Database, org: Org, other_org: Org
) -> None:
    from promoter.domain.messages import parse_message
    from promoter.ingest.service import IngestRequest

    def request(o: Org, *messages: dict[str, Any]) -> IngestRequest:
        envelope = Envelope(received_at=NOW)
        ops = [
            (i * 2, parse_message(m, envelope, allowed=TRACKING_API_TYPES))
            for i, m in enumerate(messages)
        ]
        return IngestRequest(o.id, ops, NOW)

    requests = [
        request(org, identify("a", "m1", email="a@x.co"), track("a", "E", "m2")),
        request(other_org, identify("a", "m1", email="a@y.co")),
        request(org, track("a", "E", "m2"), identify("b", email=None)),
    ]
    with database.write() as conn:
        out = Ingestor().apply_requests(conn, requests)
    assert [[(r.index, r.status) for r in rs] for rs in out] == [
        [(0, "accepted"), (2, "accepted")],
        [(0, "accepted")],
        [(0, "duplicate"), (2, "rejected")],
    ]
    assert [c.email for c in contacts_of(database, org)] == ["a@x.co"]
    assert [c.email for c in contacts_of(database, other_org)] == ["a@y.co"]
    assert count(database, events) == 1


def test_a_track_before_its_identify_is_linked_but_was_not_identified(
    database: Database, org: Org
) -> None:
    seen: list[StoredTrack] = []

    class Recorder:
        def on_tracks(self, conn: Any, tracks: Any) -> None:
            seen.extend(tracks)

    send(
        database,
        org,
        track("u9", "Before identify"),
        identify("u9", email="u9@x.co"),
        track("u9", "After identify"),
        ingestor=Ingestor([Recorder()]),
    )
    assert [(t.name, t.contact_id is not None) for t in seen] == [
        ("Before identify", False),
        ("After identify", True),
    ]
    (contact,) = contacts_of(database, org)
    assert count(database, events, contact_id=contact.id) == 2
    assert count(database, events, flag="unidentified") == 0


def test_many_traits_are_stored_and_updated_in_one_statement_each(
    database: Database, org: Org
) -> None:
    """Enough attribute rows for PostgreSQL's one-statement upsert, numbers mixing integers
    and decimals, then again with values changed, added and removed."""
    from promoter.storage.tables import contact_attributes

    first = {f"n{i}": (i if i % 2 else i + 0.5) for i in range(10)} | {"plan": "Free"}
    second = {f"n{i}": i * 10 for i in range(5)} | {"n9": None, "since": "2026-01-02"}
    send(database, org, identify("a", email="a@x.co", **first))
    send(database, org, identify("a", **second), identify("b", email="b@x.co", **first))
    with database.read() as conn:
        stored = {
            (r.contact_id, r.name): (r.value_type, r.value_number, r.value_text)
            for r in conn.execute(select(contact_attributes))
        }
    a, b = (c.id for c in sorted(contacts_of(database, org), key=lambda c: c.user_id))
    assert stored[(a, "n0")][:2] == ("number", 0.0)
    assert stored[(a, "n3")][:2] == ("number", 30.0)
    assert stored[(a, "n7")][:2] == ("number", 7.0) == stored[(b, "n7")][:2]
    assert stored[(a, "n8")][:2] == ("number", 8.5)
    assert (a, "n9") not in stored and stored[(b, "n9")][:2] == ("number", 9.0)
    assert stored[(a, "plan")] == ("string", None, "Free")
    assert stored[(a, "since")][0] == "date"
    assert len(stored) == 11 + 11  # a: 11 + since - n9; b: 11
