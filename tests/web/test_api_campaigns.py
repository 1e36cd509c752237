"""The campaigns and email templates API: shapes, Promoter's names and ours, DRF error
shapes, status changes, counts against a hand-built dataset, auth and scoping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from promoter.contacts.service import change_status
from promoter.storage.engine import Database
from promoter.storage.tables import contact_lists, contacts, organizations, surveys
from tests.conftest import Org
from tests.credentials import token
from tests.web.rest_api import call, default_campaign, ok

CAMPAIGN_FIELDS = {
    "id",
    "public_link",
    "href",
    "name",
    "contact_list",
    "email",
    "kind",
    "status",
    "trigger_events",
    "delay_minutes",
    "throttle_days",
    "weekdays_only",
    "send_window_start",
    "send_window_end",
    "reminder_days",
    "forward_email",
    "questions",
    "thanks_url",
    "answer_window_days",
    "channel",
    "drip_duration",
    "all_count",
    "eligible_count",
    "last_surveyed_date",
    "launch_date",
    "created_at",
    "updated_at",
}
TEMPLATE_FIELDS = {
    "id",
    "href",
    "name",
    "subject",
    "from_name",
    "reply_to_email",
    "logo",
    "uploaded_logo",
    "brand_color",
    "intro_message",
    "language",
    "company_brand_product_name",
    "created_at",
    "updated_at",
}
NOT_FOUND = {"detail": "Not found."}
NEW_TEMPLATE = {
    "name": "Onboarding",
    "subject": "How are we doing?",
    "from_name": "Acme Team",
    "company_brand_product_name": "Acme",
}


def new_template(client: TestClient, org: Org, **changes: Any) -> dict[str, Any]:
    return dict(ok(call(client, org, "POST", "/api/v2/email/", NEW_TEMPLATE | changes), 201))


def segment_list(database: Database, org: Org) -> int:
    with database.read() as conn:
        return int(
            conn.execute(
                select(contact_lists.c.id).where(contact_lists.c.organization_id == org.id)
            ).scalar_one()
        )


# Campaigns -----------------------------------------------------------------------------


def test_list_and_retrieve_in_promoters_shape(
    client: TestClient, org: Org, database: Database
) -> None:
    listing = ok(call(client, org, "GET", "/api/v2/campaigns/"))
    assert (listing["count"], listing["next"], listing["previous"]) == (1, None, None)
    (campaign,) = listing["results"]
    assert set(campaign) == CAMPAIGN_FIELDS
    assert campaign["name"] == "Segment campaign" and campaign["status"] == "active"
    assert campaign["contact_list"] == segment_list(database, org)
    assert campaign["drip_duration"] is None
    assert (campaign["all_count"], campaign["eligible_count"]) == (0, 0)
    assert campaign["launch_date"] is None and campaign["last_surveyed_date"] is None
    assert campaign["href"] == f"http://testserver/api/v2/campaigns/{campaign['id']}/"
    template = ok(call(client, org, "GET", f"/api/v2/email/{campaign['email']}/"))
    assert template["company_brand_product_name"] == "Acme"
    assert ok(call(client, org, "GET", campaign["href"])) == campaign


def test_create_with_promoters_names(client: TestClient, org: Org, database: Database) -> None:
    template = new_template(client, org)
    list_id = segment_list(database, org)
    body = {"name": " Onboarding ", "email": template["id"], "contact_list": list_id}
    created = ok(call(client, org, "POST", "/api/v2/campaigns/", body), 201)
    assert set(created) == CAMPAIGN_FIELDS
    assert created["name"] == "Onboarding"
    assert (created["email"], created["contact_list"]) == (template["id"], list_id)
    assert (created["kind"], created["status"], created["throttle_days"]) == (
        "segment",
        "active",
        90,
    )
    listing = ok(call(client, org, "GET", "/api/v2/campaigns/", params={"page_size": 1}))
    assert listing["count"] == 2 and "page=2" in listing["next"]
    second = ok(client.get(listing["next"], headers=token(org.key)))
    assert second["results"] == [created]


def test_create_with_our_names_and_every_setting(client: TestClient, org: Org) -> None:
    template = new_template(client, org)
    body = {
        "name": "Purchase",
        "email_template_id": template["id"],
        "kind": "manual",
        "status": "PAUSED",
        "trigger_events": ["Order Completed", " Order Completed "],
        "delay_minutes": 60,
        "throttle_days": 30,
        "weekdays_only": True,
        "send_window_start": 9,
        "send_window_end": 17,
        "reminder_days": 3,
        "forward_email": "team@example.com",
    }
    created = ok(call(client, org, "POST", "/api/v2/campaigns/", body), 201)
    assert created["email"] == template["id"]
    assert created["status"] == "paused" and created["trigger_events"] == ["Order Completed"]
    for name in (
        "kind",
        "delay_minutes",
        "throttle_days",
        "weekdays_only",
        "send_window_start",
        "send_window_end",
        "reminder_days",
        "forward_email",
    ):
        assert created[name] == body[name], name


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"name": ["This field is required."], "email": ["This field is required."]}),
        ({"name": "  ", "email": 1}, {"name": ["This field may not be blank."]}),
        ({"name": "x" * 201}, {"name": ["Ensure this field has no more than 200 characters."]}),
        ({"name": "a\x00b"}, {"name": ["Null characters are not allowed."]}),
        ({"name": "A", "email": None}, {"email": ["This field may not be null."]}),
        ({"name": "A", "email": "abc"}, {"email": ["A valid integer is required."]}),
        (
            {"name": "A", "email": 2**63},
            {"email": ["Ensure this value is less than or equal to 9223372036854775807."]},
        ),
        (
            {"name": "A", "email": 1, "email_template_id": 1},
            {"email": ["Give email or email_template_id, not both."]},
        ),
        ({"name": "A", "email": 1, "colour": "red"}, {"colour": ["Unknown field."]}),
        (
            {"name": "A", "email": 1, "throttle_days": 0},
            {"throttle_days": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            {"name": "A", "email": 1, "throttle_days": "x"},
            {"throttle_days": ["A valid integer is required."]},
        ),
        ({"name": "A", "email": 1, "kind": "blast"}, {"kind": ['"blast" is not a valid choice.']}),
        (
            {"name": "A", "email": 1, "reminder_days": 4},
            {"reminder_days": ["A reminder goes after 3, 5 or 7 days (or none)."]},
        ),
        (
            {"name": "A", "email": 1, "forward_email": "nope"},
            {"forward_email": ["Enter a valid email address."]},
        ),
        (
            {"name": "A", "email": 1, "weekdays_only": "often"},
            {"weekdays_only": ["Must be a valid boolean."]},
        ),
        (
            {"name": "A", "email": 1, "trigger_events": "Signed Up"},
            {"trigger_events": ['Expected a list of items but got type "str".']},
        ),
        (
            {"name": "A", "email": 1, "send_window_start": 9},
            {"non_field_errors": ["A send window needs both a start and an end hour."]},
        ),
    ],
)
def test_create_refuses_bad_fields_in_drfs_shape(
    client: TestClient, org: Org, body: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    default_campaign(client, org)
    response = call(client, org, "POST", "/api/v2/campaigns/", body)
    assert response.status_code == 400
    assert response.json() == errors


def test_create_refuses_templates_and_lists_it_cannot_use(
    client: TestClient, org: Org, other_org: Org
) -> None:
    theirs = default_campaign(client, other_org)
    mine = new_template(client, org)
    for body, field, missing in (
        ({"name": "A", "email": theirs["email"]}, "email", theirs["email"]),
        ({"name": "A", "email_template_id": 99999}, "email_template_id", 99999),
        (
            {"name": "A", "email": mine["id"], "contact_list": theirs["contact_list"]},
            "contact_list",
            theirs["contact_list"],
        ),
        ({"name": "A", "email": mine["id"], "contact_list_id": 2**40}, "contact_list_id", 2**40),
    ):
        response = call(client, org, "POST", "/api/v2/campaigns/", body)
        assert response.status_code == 400, body
        assert response.json() == {field: [f'Invalid pk "{missing}" - object does not exist.']}
    assert ok(call(client, org, "GET", "/api/v2/campaigns/"))["count"] == 1


def test_bodies_that_are_not_json_objects(client: TestClient, org: Org) -> None:
    campaign = default_campaign(client, org)
    headers = {**token(org.key), "Content-Type": "application/json"}
    for path, method in (
        ("/api/v2/campaigns/", "POST"),
        (campaign["href"], "PATCH"),
        ("/api/v2/email/", "POST"),
        (f"/api/v2/email/{campaign['email']}/", "PUT"),
    ):
        bad = client.request(method, path, content=b'{"name": ', headers=headers)
        assert bad.status_code == 400 and bad.json()["detail"].startswith("JSON parse error")
        listed = client.request(method, path, content=b"[1]", headers=headers)
        assert listed.json() == {
            "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
        }
        huge = client.request(method, path, content=b" " * 70_000, headers=headers)
        assert huge.status_code == 413
        deep = b'{"name": ' + b"[" * 1000 + b'"\\u0000"' + b"]" * 1000 + b"}"
        nested = client.request(method, path, content=deep, headers=headers)
        assert nested.json() == {"name": ["Null characters are not allowed."]}
        deeper = client.request(method, path, content=b"[" * 2000, headers=headers)
        assert deeper.status_code == 400 and "detail" in deeper.json()


def test_patch_and_put(client: TestClient, org: Org) -> None:
    campaign = default_campaign(client, org)
    template = new_template(client, org)
    patched = ok(
        call(client, org, "PATCH", campaign["href"], {"name": "Renamed", "reminder_days": 5})
    )
    assert patched["name"] == "Renamed" and patched["reminder_days"] == 5
    assert patched["throttle_days"] == 90 and patched["email"] == campaign["email"]
    cleared = ok(call(client, org, "PATCH", campaign["href"], {"reminder_days": None}))
    assert cleared["reminder_days"] is None
    # What GET answered can be sent back: the read-only fields are ignored.
    echoed = cleared | {"name": "Echoed", "email": template["id"], "all_count": 1000}
    put = ok(call(client, org, "PUT", campaign["href"], echoed))
    assert put["name"] == "Echoed" and put["email"] == template["id"]
    assert put["all_count"] == 0
    missing = call(client, org, "PUT", campaign["href"], {"throttle_days": 30})
    assert missing.status_code == 400
    assert missing.json() == {
        "name": ["This field is required."],
        "email": ["This field is required."],
    }
    bad = call(client, org, "PATCH", campaign["href"], {"send_window_end": 8})
    assert bad.json() == {"non_field_errors": ["A send window needs both a start and an end hour."]}
    ours = call(client, org, "PATCH", campaign["href"], {"email_template_id": 999})
    assert ours.json() == {"email_template_id": ['Invalid pk "999" - object does not exist.']}
    unchanged = ok(call(client, org, "GET", campaign["href"]))
    assert unchanged["name"] == "Echoed" and unchanged["send_window_end"] is None


def test_pause_resume_complete(client: TestClient, org: Org) -> None:
    campaign = default_campaign(client, org)
    for action, status in (
        ("pause", "paused"),
        ("pause", "paused"),
        ("resume", "active"),
        ("complete", "complete"),
    ):
        changed = ok(call(client, org, "POST", f"{campaign['href']}{action}/"))
        assert changed["status"] == status
        assert set(changed) == CAMPAIGN_FIELDS
    done = ok(call(client, org, "GET", "/api/v2/campaigns/", params={"status": "complete"}))
    assert [c["id"] for c in done["results"]] == [campaign["id"]]
    active = ok(call(client, org, "GET", "/api/v2/campaigns/", params={"status": "active"}))
    assert active["count"] == 0


def test_every_route_needs_a_key(client: TestClient, org: Org) -> None:
    campaign = default_campaign(client, org)
    template_path = f"/api/v2/email/{campaign['email']}/"
    path = f"/api/v2/campaigns/{campaign['id']}/"
    for method, url in (
        ("GET", "/api/v2/campaigns/"),
        ("POST", "/api/v2/campaigns/"),
        ("GET", path),
        ("PATCH", path),
        ("PUT", path),
        ("POST", f"{path}pause/"),
        ("POST", f"{path}resume/"),
        ("POST", f"{path}complete/"),
        ("GET", "/api/v2/email/"),
        ("POST", "/api/v2/email/"),
        ("GET", template_path),
        ("PATCH", template_path),
        ("PUT", template_path),
    ):
        response = call(client, None, method, url, {"name": "x"})
        assert response.status_code == 401, (method, url)
        assert response.json() == {"detail": "Invalid token."}


def test_another_organizations_objects_are_not_found(
    client: TestClient, org: Org, other_org: Org
) -> None:
    campaign = default_campaign(client, org)
    path = f"/api/v2/campaigns/{campaign['id']}/"
    template_path = f"/api/v2/email/{campaign['email']}/"
    for method, url in (
        ("GET", path),
        ("PATCH", path),
        ("PUT", path),
        ("POST", f"{path}pause/"),
        ("POST", f"{path}resume/"),
        ("POST", f"{path}complete/"),
        ("GET", template_path),
        ("PATCH", template_path),
        ("PUT", template_path),
    ):
        for body in ({"name": "Stolen"}, {"bad": "\x00"}):
            response = call(client, other_org, method, url, body)
            assert response.status_code == 404, (method, url)
            assert response.json() == NOT_FOUND
    assert ok(call(client, org, "GET", path))["name"] == "Segment campaign"
    assert ok(call(client, org, "GET", path))["status"] == "active"
    assert ok(call(client, org, "GET", template_path))["name"] == "Default"
    assert ok(call(client, other_org, "GET", "/api/v2/email/"))["count"] == 1


@pytest.mark.parametrize(
    "text", ["0", "abc", "-1", "2147483648", str(2**63 - 1), str(2**63), str(10**30), "9" * 5000]
)
def test_ids_no_object_can_have_are_not_found(client: TestClient, org: Org, text: str) -> None:
    for method, url in (
        ("GET", f"/api/v2/campaigns/{text}/"),
        ("PATCH", f"/api/v2/campaigns/{text}/"),
        ("POST", f"/api/v2/campaigns/{text}/pause/"),
        ("GET", f"/api/v2/email/{text}/"),
        ("PUT", f"/api/v2/email/{text}/"),
    ):
        response = call(client, org, method, url, {})
        assert response.status_code == 404, (method, url)
        assert response.json() == NOT_FOUND


def test_counts_against_a_hand_built_dataset(
    client: TestClient, org: Org, database: Database
) -> None:
    """Eight contacts on the Segment list; the default campaign (throttle 90 days) may
    survey three now, a second campaign (throttle 30 days) three (five without the
    organization's cooldown)."""
    people = ["fresh", "recent", "gone", "today", "old", "bounced", "waiting", "cancelled"]
    batch = [
        {"type": "identify", "userId": p, "traits": {"email": f"{p}@example.com"}} for p in people
    ]
    assert client.post("/v1/batch", json={"batch": batch, "writeKey": org.key}).is_success
    first = default_campaign(client, org)
    second = ok(
        call(
            client,
            org,
            "POST",
            "/api/v2/campaigns/",
            {"name": "Second", "email": first["email"], "throttle_days": 30, "kind": "manual"},
        ),
        201,
    )
    now = datetime.now(UTC)
    with database.write() as conn:
        ids = dict(
            conn.execute(
                select(contacts.c.user_id, contacts.c.id).where(
                    contacts.c.organization_id == org.id
                )
            ).all()
        )

        def survey(who: str, campaign: int, status: str, age: timedelta, sent: bool) -> None:
            conn.execute(
                insert(surveys).values(
                    organization_id=org.id,
                    campaign_id=campaign,
                    contact_id=ids[who],
                    status=status,
                    token=f"token-{who}-{campaign}-{status}",
                    attributes={},
                    scheduled_at=now - age,
                    sent_at=now - age if sent else None,
                    created_at=now - age,
                )
            )

        survey("recent", first["id"], "sent", timedelta(days=10), sent=True)
        survey("today", second["id"], "answered", timedelta(hours=2), sent=True)
        survey("old", first["id"], "sent", timedelta(days=200), sent=True)
        survey("waiting", first["id"], "scheduled", timedelta(days=3), sent=False)
        survey("cancelled", first["id"], "cancelled", timedelta(hours=1), sent=False)
        change_status(
            conn, organization_id=org.id, contact_id=ids["gone"], status="unsubscribed", now=now
        )
        conn.execute(
            update(contacts).where(contacts.c.id == ids["bounced"]).values(status="bounced")
        )
    counted = ok(call(client, org, "GET", first["href"]))
    assert (counted["all_count"], counted["eligible_count"]) == (8, 3)
    assert counted["launch_date"] == (now - timedelta(days=200)).isoformat()
    assert counted["last_surveyed_date"] == (now - timedelta(days=10)).isoformat()
    other = ok(call(client, org, "GET", second["href"]))
    # The organization's cooldown (30 days) spans campaigns: "recent" and "waiting" were
    # surveyed by the first campaign within it.
    assert (other["all_count"], other["eligible_count"]) == (8, 3)
    with database.write() as conn:
        conn.execute(update(organizations).values(cooldown_days=0))
    assert ok(call(client, org, "GET", second["href"]))["eligible_count"] == 5
    with database.write() as conn:
        conn.execute(update(organizations).values(cooldown_days=30))
    assert (
        other["launch_date"]
        == other["last_surveyed_date"]
        == (now - timedelta(hours=2)).isoformat()
    )
    listed = {c["id"]: c for c in ok(call(client, org, "GET", "/api/v2/campaigns/"))["results"]}
    assert listed[first["id"]] == counted and listed[second["id"]] == other


# Email templates -----------------------------------------------------------------------


def test_templates_with_promoters_names(client: TestClient, org: Org) -> None:
    listing = ok(call(client, org, "GET", "/api/v2/email/"))
    assert listing["count"] == 1 and set(listing["results"][0]) == TEMPLATE_FIELDS
    created = new_template(
        client,
        org,
        reply_to_email="help@example.com",
        logo="https://example.com/logo.png",
        intro_message="Two minutes of your time?",
        language="de",
    )
    assert set(created) == TEMPLATE_FIELDS
    assert created["href"] == f"http://testserver/api/v2/email/{created['id']}/"
    expected = NEW_TEMPLATE | {
        "reply_to_email": "help@example.com",
        "logo": "https://example.com/logo.png",
        "intro_message": "Two minutes of your time?",
        "language": "de",
    }
    assert {k: created[k] for k in expected} == expected
    assert ok(call(client, org, "GET", created["href"])) == created
    assert ok(call(client, org, "GET", "/api/v2/email/"))["count"] == 2


def test_templates_with_our_names(client: TestClient, org: Org) -> None:
    body = {
        "name": "Ours",
        "subject": "Hi",
        "from_name": "Acme",
        "brand_name": "Acme Pro",
        "reply_to": "a@example.com",
        "logo_url": "http://example.com/l.png",
    }
    created = ok(call(client, org, "POST", "/api/v2/email/", body), 201)
    assert created["company_brand_product_name"] == "Acme Pro"
    assert created["reply_to_email"] == "a@example.com"
    assert created["logo"] == "http://example.com/l.png"
    assert created["language"] == "en" and created["intro_message"] == ""


def test_template_patch_put_and_errors(client: TestClient, org: Org) -> None:
    created = new_template(client, org)
    href = created["href"]
    patched = ok(call(client, org, "PATCH", href, {"name": "New name", "language": "fr"}))
    assert patched["name"] == "New name" and patched["language"] == "fr"
    assert patched["subject"] == NEW_TEMPLATE["subject"]
    for language in ("pt", "it", "nl", "ja", "ar"):
        changed = ok(call(client, org, "PATCH", href, {"language": language}))
        assert changed["language"] == language
    ok(call(client, org, "PATCH", href, {"language": "fr"}))
    only_settings = ok(call(client, org, "PATCH", href, {"brand_name": "Acme 2"}))
    assert only_settings["company_brand_product_name"] == "Acme 2"
    assert only_settings["name"] == "New name"
    put = ok(call(client, org, "PUT", href, patched | {"subject": "Changed"}))
    assert put["subject"] == "Changed" and put["company_brand_product_name"] == "Acme"
    missing = call(client, org, "PUT", href, {"name": "x"})
    assert missing.status_code == 400
    assert missing.json() == {
        "subject": ["This field is required."],
        "from_name": ["This field is required."],
        "company_brand_product_name": ["This field is required."],
    }
    for body, errors in (
        ({"language": "xx"}, {"language": ['"xx" is not a valid choice.']}),
        ({"logo": "ftp://example.com/l.png"}, {"logo": ["Enter a valid URL."]}),
        ({"logo_url": "javascript:1"}, {"logo_url": ["Enter a valid URL."]}),
        ({"reply_to_email": "nope"}, {"reply_to_email": ["Enter a valid email address."]}),
        ({"subject": ""}, {"subject": ["This field may not be blank."]}),
        ({"name": " "}, {"name": ["This field may not be blank."]}),
        (
            {"name": None, "subject": None},
            {
                "name": ["This field may not be null."],
                "subject": ["This field may not be null."],
            },
        ),
        (
            {"intro_message": "x" * 5001},
            {"intro_message": ["Ensure this field has no more than 5000 characters."]},
        ),
        (
            {"logo": "https://a", "logo_url": "https://b"},
            {"logo": ["Give logo or logo_url, not both."]},
        ),
        ({"from_name": "a\x00"}, {"from_name": ["Null characters are not allowed."]}),
        (
            {"subject": "Hi\r\nBcc: all@example.com"},
            {"subject": ["Must be one line: no line breaks or control characters."]},
        ),
        (
            {"from_name": "Acme\nX-Spam: 1"},
            {"from_name": ["Must be one line: no line breaks or control characters."]},
        ),
        (
            {"company_brand_product_name": "Acme\u2028Co"},
            {
                "company_brand_product_name": [
                    "Must be one line: no line breaks or control characters."
                ]
            },
        ),
        ({"footer": "x"}, {"footer": ["Unknown field."]}),
    ):
        response = call(client, org, "PATCH", href, body)
        assert response.status_code == 400, body
        assert response.json() == errors, body
    assert ok(call(client, org, "GET", href)) == put
    empty = call(client, org, "POST", "/api/v2/email/", {})
    assert empty.json() == {
        "name": ["This field is required."],
        "subject": ["This field is required."],
        "from_name": ["This field is required."],
        "company_brand_product_name": ["This field is required."],
    }
