"""The Segment source end to end, through a real ``promoter serve`` process.

Organization A's survey facts go to a Segment-compatible host: organization B of the same
Promoter (its own ``/v1/batch``, with one of B's API keys as the write key), or a receiver
run by the test; the process is killed with SIGKILL while a batch is in flight, and every
fact still arrives, a repeat only ever with the same ``messageId``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import select, update

from promoter.storage.engine import Database
from promoter.storage.tables import segment_messages
from tests.conftest import Org
from tests.credentials import basic, token
from tests.e2e.conftest import Api, ServerProcess
from tests.e2e.survey_mail import survey_link
from tests.receiver import Receiver

pytestmark = pytest.mark.e2e

WAIT_TIMEOUT = 60.0


def wait_until(what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_TIMEOUT
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def configure(http: httpx2.Client, org: Org, **body: Any) -> None:
    response = http.put("/api/v2/segment-source/", json=body, headers=token(org.key))
    assert response.status_code == 200, response.text


def survey_answered(server: ServerProcess, http: httpx2.Client, org: Org, user: str) -> None:
    """``user`` comes in through A's Tracking API, gets the survey email and answers it."""
    batch = {
        "batch": [
            {"type": "identify", "userId": user, "traits": {"email": f"{user}@a.example"}},
            {"type": "track", "userId": user, "event": "Signed Up"},
        ]
    }
    assert http.post("/v1/batch", json=batch, headers=basic(org.key)).status_code == 200
    signed = survey_link(server.workdir / "promoter-mail")
    answered = http.post(f"/s/{signed}", data={"score": "9"})
    assert answered.status_code == 303, answered.text
    commented = http.post(f"/s/{signed}/comment", data={"comment": "Fast & friendly"})
    assert commented.status_code == 303, commented.text


def test_another_organization_is_the_host(
    server: ServerProcess, http: httpx2.Client, org: Org, other_org: Org
) -> None:
    configure(http, org, write_key=other_org.key, host=server.url)
    survey_answered(server, http, org, "ted")
    b = Api(http, other_org)

    def contact_with_traits() -> dict[str, Any] | None:
        found = b.contacts(user_id="ted")
        if found and "nps_score" in found[0].get("attributes", {}):
            return found[0]  # type: ignore[no-any-return]
        return None

    contact = wait_until("ted's NPS traits in B", contact_with_traits)
    attributes = contact["attributes"]
    assert attributes["nps_score"] == 9 and attributes["nps_category"] == "promoter"
    assert attributes["nps_responded_at"].startswith(str(datetime.now(UTC).year))
    assert contact["email"] == "ted@a.example"

    def events() -> list[dict[str, Any]]:
        found = b.events(contact["id"])["results"]
        names = {e["event"] for e in found}
        wanted = {"Survey Sent", "Survey Responded", "Survey Comment Added"}
        return found if wanted <= names else []

    by_name = {e["event"]: e for e in wait_until("A's track events in B", events)}
    responded = by_name["Survey Responded"]["properties"]
    assert responded["score"] == 9 and responded["category"] == "promoter"
    assert responded["channel"] == "email" and responded["comment"] is None
    assert by_name["Survey Comment Added"]["properties"]["comment"] == "Fast & friendly"
    log = Api(http, org).get("/api/v2/segment-source/messages/")
    assert {m["status"] for m in log["results"]} == {"delivered"}
    # B's own source and log are B's: nothing of A's.
    assert b.get("/api/v2/segment-source/", expected=404) == {"detail": "Not found."}
    assert b.get("/api/v2/segment-source/messages/")["count"] == 0


def test_kill_9_mid_send_loses_nothing(
    server: ServerProcess, http: httpx2.Client, org: Org, receiver: Receiver, database_url: str
) -> None:
    receiver.delay = 3.0  # each batch is held: the kill lands while it is in flight
    configure(http, org, write_key="wk_acme", host=receiver.base)
    survey_answered(server, http, org, "ann")
    wait_until("a batch in flight", lambda: receiver.requests)
    server.kill()
    database = Database.from_url(database_url)
    try:
        with database.write() as conn:  # the dead sender's leases run out
            past = datetime.now(UTC) - timedelta(seconds=1)
            conn.execute(
                update(segment_messages)
                .where(segment_messages.c.claimed_until.is_not(None))
                .values(claimed_until=past)
            )
        receiver.delay = 0.0
        server.start()

        def all_delivered() -> list[Any]:
            with database.read() as conn:
                rows = list(conn.execute(select(segment_messages)))
            return rows if rows and {r.status for r in rows} == {"delivered"} else []

        rows = wait_until("every message delivered", all_delivered)
    finally:
        database.dispose()
    received: dict[str, list[dict[str, Any]]] = {}
    for request in receiver.requests:
        for message in request.json["batch"]:
            received.setdefault(message["messageId"], []).append(message)
    assert set(received) == {row.message_id for row in rows}
    kinds = sorted(copies[0].get("event", "identify") for copies in received.values())
    assert kinds == ["Survey Comment Added", "Survey Responded", "Survey Sent", "identify"]
    assert sum(len(copies) for copies in received.values()) > len(received)  # a repeat...
    for copies in received.values():
        assert all(copy == copies[0] for copy in copies)  # ...of the very same message
