"""Caps on attribute names through the real Segment endpoints: a contact holds at most
PROMOTER_MAX_ATTRIBUTES_PER_CONTACT attributes, an organization uses at most
PROMOTER_MAX_ATTRIBUTE_NAMES names; what goes past them is dropped with a note."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from promoter.app import create_app
from promoter.config import Settings
from promoter.domain.attributes import AttributeLimits
from promoter.domain.messages import Envelope
from promoter.ingest.attribute_limits import OrganizationNames
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.service import Ingestor
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import contact_attributes
from tests.conftest import Org
from tests.credentials import basic, token
from tests.web.contacts_api import contacts

CONTACT_FULL = "a contact holds at most 5 attributes"
ORG_FULL = "an organization has at most 8 attribute names"


@pytest.fixture
def small(settings: Settings, database: Database) -> Iterator[tuple[TestClient, Services]]:
    """A server whose contacts hold at most 5 attributes, organizations 8 names."""
    capped = settings.model_copy(update={"max_attributes_per_contact": 5, "max_attribute_names": 8})
    services = Services.build(capped, database)
    with TestClient(create_app(services)) as client:
        yield client, services


def identify(user: str, traits: dict[str, Any]) -> dict[str, Any]:
    return {"type": "identify", "userId": user, "traits": {"email": f"{user}@x.co", **traits}}


def send(client: TestClient, org: Org, way: str, message: dict[str, Any]) -> dict[str, Any]:
    """``message`` sent one of three ways; the answer's JSON (always a 200)."""
    if way == "call":
        response = client.post("/v1/identify", json=message, headers=basic(org.key))
    elif way == "batch":
        response = client.post("/v1/batch", json={"batch": [message]}, headers=basic(org.key))
    else:
        response = client.post("/segment", json=message, headers=basic(org.key))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def attributes(client: TestClient, org: Org, user: str) -> dict[str, Any]:
    (contact,) = [c for c in contacts(client, org) if c["user_id"] == user]
    return contact["attributes"]  # type: ignore[no-any-return]


def traits(*names: str, value: Any = 1) -> dict[str, Any]:
    return {name: value for name in names}


@pytest.mark.parametrize("way", ["call", "batch", "destination"])
def test_a_contact_keeps_its_first_attributes_and_says_what_was_dropped(
    small: tuple[TestClient, Services], org: Org, way: str
) -> None:
    client, services = small
    answer = send(client, org, way, identify("ted", traits("a", "b", "c", "d", "e", "f", "g")))
    reason = f"2 traits dropped: {CONTACT_FULL} (first dropped: 'f')"
    assert answer == {
        "success": True,
        "notes": [{"index": 0, "status": "accepted", "reason": reason}],
        "accepted": 1,
        "duplicates": 0,
    }
    assert attributes(client, org, "ted") == traits("a", "b", "c", "d", "e")
    (received,) = services.received.latest(org.id)
    assert (received.status, received.reason) == ("accepted", reason)

    # Its own attributes can always be changed; a new one still cannot come in.
    answer = send(client, org, way, identify("ted", {"a": 2, "e": "five", "h": 1}))
    assert answer["notes"][0]["reason"] == f"1 trait dropped: {CONTACT_FULL} (first dropped: 'h')"
    assert attributes(client, org, "ted") == {"a": 2, "b": 1, "c": 1, "d": 1, "e": "five"}

    # Removing one makes room, in the same message.
    answer = send(client, org, way, identify("ted", {"b": None, "h": 1}))
    assert "notes" not in answer and answer["accepted"] == 1
    assert attributes(client, org, "ted") == {"a": 2, "c": 1, "d": 1, "e": "five", "h": 1}


def test_messages_of_one_batch_share_the_contact_cap(
    small: tuple[TestClient, Services], org: Org
) -> None:
    client, _ = small
    body = {
        "batch": [
            identify("ted", traits("a", "b", "c")),
            identify("ted", traits("c", "d", "e", "f")),
            {"type": "track", "userId": "ted", "event": "Signed Up"},
        ]
    }
    answer = client.post("/v1/batch", json=body, headers=basic(org.key)).json()
    assert answer["accepted"] == 3
    assert answer["notes"] == [
        {
            "index": 1,
            "status": "accepted",
            "reason": f"1 trait dropped: {CONTACT_FULL} (first dropped: 'f')",
        }
    ]
    assert set(attributes(client, org, "ted")) == {"a", "b", "c", "d", "e"}


@pytest.mark.parametrize("way", ["call", "batch", "destination"])
def test_an_organization_keeps_its_first_names_and_the_other_is_unaffected(
    small: tuple[TestClient, Services], org: Org, other_org: Org, way: str
) -> None:
    client, services = small
    send(client, org, way, identify("ted", traits("a", "b", "c", "d", "e")))
    answer = send(client, org, way, identify("bob", traits("a", "x", "y", "z", "w")))
    reason = f"1 trait dropped: {ORG_FULL} (first dropped: 'w')"
    assert answer["notes"] == [{"index": 0, "status": "accepted", "reason": reason}]
    assert attributes(client, org, "bob") == traits("a", "x", "y", "z")
    assert services.received.latest(org.id)[0].reason == reason
    # Names the organization has are still open to every contact.
    answer = send(client, org, way, identify("ann", traits("b", "new", "x")))
    assert answer["notes"][0]["reason"] == f"1 trait dropped: {ORG_FULL} (first dropped: 'new')"
    assert attributes(client, org, "ann") == traits("b", "x")

    # Another organization has room of its own.
    answer = send(client, other_org, way, identify("eve", traits("p", "q", "r", "s", "t")))
    assert "notes" not in answer
    assert attributes(client, other_org, "eve") == traits("p", "q", "r", "s", "t")


def test_both_caps_in_one_message(small: tuple[TestClient, Services], org: Org) -> None:
    client, _ = small
    send(client, org, "batch", identify("ted", traits("a", "b", "c", "d")))
    answer = send(client, org, "batch", identify("bob", traits("w", "x", "y", "z", "v", "a", "u")))
    assert answer["notes"][0]["reason"] == (
        f"1 trait dropped: {CONTACT_FULL} (first dropped: 'u'); "
        f"1 trait dropped: {ORG_FULL} (first dropped: 'v')"
    )
    assert attributes(client, org, "bob") == traits("a", "w", "x", "y", "z")


def test_the_reviews_flood_is_held_at_the_defaults(
    client: TestClient, org: Org, other_org: Org, database: Database
) -> None:
    """2,000 new trait names a message for one userId, as in the security review."""
    flood = [f"t{i}" for i in range(2_000)]
    answer = send(client, org, "call", identify("ted", traits(*flood)))
    assert answer["notes"][0]["reason"] == (
        "1800 traits dropped: a contact holds at most 200 attributes (first dropped: 't200')"
    )
    for round in range(1, 4):
        answer = send(
            client, org, "call", identify("ted", traits(*(f"r{round}.{n}" for n in flood)))
        )
        assert answer["notes"][0]["reason"].startswith("2000 traits dropped: a contact holds")
    assert attributes(client, org, "ted") == traits(*flood[:200])
    # Nine more contacts bring the organization to 2,000 names, then no further.
    for user in range(9):
        names = [f"u{user}.{i}" for i in range(200)]
        answer = send(client, org, "batch", identify(f"u{user}", traits(*names)))
        assert "notes" not in answer, answer
    answer = send(client, org, "batch", identify("late", traits("one", "t0")))
    assert answer["notes"][0]["reason"] == (
        "1 trait dropped: an organization has at most 2000 attribute names (first dropped: 'one')"
    )
    assert attributes(client, org, "late") == {"t0": 1}
    with database.read() as conn:
        names = select(func.count(func.distinct(contact_attributes.c.name))).where(
            contact_attributes.c.organization_id == org.id
        )
        assert conn.execute(names).scalar_one() == 2_000
    assert "notes" not in send(client, other_org, "call", identify("eve", traits("one")))


def apply(database: Database, ingestor: Ingestor, org: Org, message: dict[str, Any]) -> str | None:
    """One message through the ingestion pipeline; the reason given with its acceptance."""
    (result,) = ingest_messages(
        database=database,
        ingestor=ingestor,
        organization_id=org.id,
        messages=[message],
        envelope=Envelope(received_at=datetime.now(UTC)),
        allowed=TRACKING_API_TYPES,
    )
    assert result.status == "accepted"
    return result.reason


def test_processes_writing_at_once_stay_within_the_organization_cap(
    database: Database, org: Org, backend: str
) -> None:
    """Two ingestors stand for two server processes on one PostgreSQL database, each with
    its own memory of the names. (SQLite is written by one process.)"""
    if backend != "postgresql":
        pytest.skip("one process writes a SQLite file")
    limits = AttributeLimits(per_contact=5, per_organization=8)
    first, second = Ingestor(limits=limits), Ingestor(limits=limits)

    assert apply(database, first, org, identify("ted", traits("a", "b"))) is None
    assert apply(database, second, org, identify("bob", traits("c", "d", "e", "f", "g"))) is None
    # The first process remembers two names; the database has seven.
    reason = apply(database, first, org, identify("ann", traits("h", "i", "j")))
    assert reason == f"2 traits dropped: {ORG_FULL} (first dropped: 'i')"
    with database.read() as conn:
        names = select(func.count(func.distinct(contact_attributes.c.name))).where(
            contact_attributes.c.organization_id == org.id
        )
        assert conn.execute(names).scalar_one() == 8


def test_a_name_no_contact_holds_stops_counting_within_30_seconds(
    database: Database, org: Org
) -> None:
    now = [0.0]
    names = OrganizationNames(clock=lambda: now[0])
    limits = AttributeLimits(per_contact=5, per_organization=3)
    ingestor = Ingestor(limits=limits, names=names)
    assert apply(database, ingestor, org, identify("ted", traits("a", "b", "c"))) is None
    assert apply(database, ingestor, org, identify("ted", {"a": None})) is None
    full = "1 trait dropped: an organization has at most 3 attribute names (first dropped: 'd')"
    now[0] = 29.0
    assert apply(database, ingestor, org, identify("bob", traits("d"))) == full
    now[0] = 31.0
    assert apply(database, ingestor, org, identify("bob", traits("d"))) is None


def test_the_rest_api_refuses_writes_past_the_caps(
    small: tuple[TestClient, Services], org: Org, other_org: Org
) -> None:
    """The REST API answers 400 and writes nothing: the caller, the organization itself,
    can correct its request."""
    client, _ = small
    headers = token(org.key)

    def create(email: str, attrs: dict[str, Any]) -> Any:
        return client.post(
            "/api/v2/contacts/", json={"email": email, "attributes": attrs}, headers=headers
        )

    assert create("a@x.co", {f"a{i}": i for i in range(5)}).status_code == 201
    too_many = create("a@x.co", {"a5": 5})
    assert too_many.status_code == 400
    assert too_many.json() == {
        "attributes": [
            "A contact holds at most 5 attributes: this one has 5, and 1 would be added."
        ]
    }
    # What the contact has can be changed, removed, and its room used again.
    assert create("a@x.co", {"a0": "changed", "a1": None}).status_code == 200
    assert create("a@x.co", {"a5": 5}).status_code == 200
    href = create("a@x.co", {}).json()["href"].replace("http://testserver", "")
    put = client.put(
        href,
        json={"email": "a@x.co", "attributes": {f"b{i}": i for i in range(6)}},
        headers=headers,
    )
    assert put.status_code == 400 and "at most 5 attributes" in put.json()["attributes"][0]
    b = create("b@x.co", {"c0": 1, "c1": 1})  # 7 names in use, then 8
    assert b.status_code == 201
    assert create("c@x.co", {"c0": 2, "d0": 2}).status_code == 201
    full = create("c@x.co", {"e0": 3})
    assert full.status_code == 400
    assert full.json()["attributes"] == [
        "An organization has at most 8 attribute names: 8 are in use, and 1 would be added "
        "(first: 'e0')."
    ]
    b_href = b.json()["href"].replace("http://testserver", "")
    patched = client.patch(b_href, json={"attributes": {"e1": 1}}, headers=headers)
    assert patched.status_code == 400 and "at most 8 attribute names" in patched.text
    campaign = client.get("/api/v2/campaigns/", headers=headers).json()["results"][0]["id"]
    survey = client.post(
        "/api/v2/survey/",
        json={"campaign_id": campaign, "contact": {"email": "d@x.co", "attributes": {"e2": 1}}},
        headers=headers,
    )
    assert survey.status_code == 400
    assert "at most 8 attribute names" in survey.json()["contact"]["attributes"][0]
    # Names in use stay open to every contact, and the other organization has its own.
    assert create("e@x.co", {"c0": 9, "d0": 9}).status_code == 201
    other = client.post(
        "/api/v2/contacts/",
        json={"email": "a@x.co", "attributes": {f"z{i}": i for i in range(5)}},
        headers=token(other_org.key),
    )
    assert other.status_code == 201


class _Failing:
    """A track listener that fails the transaction it runs in."""

    def on_tracks(self, conn: Any, tracks: Any) -> dict[int, str]:
        raise RuntimeError("the listener failed")


def test_names_of_a_transaction_rolled_back_are_not_remembered(
    database: Database, org: Org
) -> None:
    """A request that admitted a new name and then failed stored nothing: the name does
    not count against the cap, and the next request is decided on what was stored."""
    names = OrganizationNames()
    limits = AttributeLimits(per_contact=5, per_organization=2)
    ingestor = Ingestor(limits=limits, names=names)
    failing = Ingestor([_Failing()], limits=limits, names=names)
    assert apply(database, ingestor, org, identify("ted", traits("a"))) is None
    with pytest.raises(RuntimeError, match="the listener failed"):
        ingest_messages(
            database=database,
            ingestor=failing,
            organization_id=org.id,
            messages=[
                identify("ted", traits("b")),
                {"type": "track", "userId": "ted", "event": "Logged In"},
            ],
            envelope=Envelope(received_at=datetime.now(UTC)),
            allowed=TRACKING_API_TYPES,
        )
    # "b" was never stored: the organization holds one name, "c" is its second.
    assert apply(database, ingestor, org, identify("bob", traits("c"))) is None
    full = "1 trait dropped: an organization has at most 2 attribute names (first dropped: 'd')"
    assert apply(database, ingestor, org, identify("bob", traits("d"))) == full
