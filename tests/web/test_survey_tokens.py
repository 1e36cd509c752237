"""Survey and unsubscribe links: a random token, signed, good for one survey only.

The links are the ones the email renderer puts in a survey email. Every tampered, made-up,
swapped or foreign link gets the survey pages' "not valid" page (404), never a 500, and
changes nothing: no score, no comment, no unsubscribe, no webhook event.
"""

from __future__ import annotations

import asyncio
import base64
import string
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select

from promoter.app import create_app
from promoter.config import Settings
from promoter.delivery.tokens import SIGNATURE_CHARS, TokenSigner
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import (
    contacts,
    deliveries,
    responses,
    surveys,
    webhook_deliveries,
)
from promoter.surveys.scheduling import new_token
from promoter.webhooks.events import CONTACT_UNSUBSCRIBED, FEEDBACK_ADDED_OR_CHANGED
from tests.conftest import Org, make_org
from tests.credentials import token

BASE = "http://testserver"
#: The characters of tokens and signatures (URL-safe base64).
ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
#: Every survey page, and what is sent to it.
PAGES: dict[tuple[str, str], dict[str, str] | None] = {
    ("GET", "/s/{signed}"): None,
    ("GET", "/s/{signed}/{score}"): None,
    ("POST", "/s/{signed}"): {"score": "9"},
    ("POST", "/s/{signed}/click"): {"score": "9", "source": "page"},
    ("GET", "/s/{signed}/comment"): None,
    ("POST", "/s/{signed}/comment"): {"comment": "tampered"},
    ("GET", "/s/{signed}/thanks"): None,
    ("GET", "/u/{signed}"): None,
    ("POST", "/u/{signed}"): {"List-Unsubscribe": "One-Click"},
}


@dataclass(frozen=True)
class Survey:
    org: Org
    id: int
    contact_id: int
    token: str
    #: The email's links, without the base URL: the score links 0 to 10, unsubscribe.
    score_links: list[str]
    unsubscribe_link: str

    @property
    def signed(self) -> str:
        """What the links carry: the token, a dot, the signature."""
        return self.unsubscribe_link.removeprefix("/u/")


def surveyed(client: TestClient, services: Services, org: Org, *emails: str) -> list[Survey]:
    """A survey for a contact of ``org`` with each address (its Tracking API identify and
    track), with the links its email carries."""
    batch: list[dict[str, Any]] = []
    for email in emails:
        batch.append({"type": "identify", "userId": email, "traits": {"email": email}})
        batch.append({"type": "track", "userId": email, "event": "Signed Up"})
    sent = client.post("/v1/batch", json={"batch": batch}, auth=(org.key, ""))
    assert sent.status_code == 200 and sent.json()["accepted"] == len(batch), sent.text
    found = []
    renderer = services.renderer()
    with services.database.read() as conn:
        for email in emails:
            row = conn.execute(
                select(surveys.c.id, surveys.c.contact_id, surveys.c.token)
                .join(contacts, contacts.c.id == surveys.c.contact_id)
                .where(surveys.c.organization_id == org.id, contacts.c.email == email)
            ).one()
            scores, unsubscribe = renderer.links(row.token)
            found.append(
                Survey(
                    org,
                    row.id,
                    row.contact_id,
                    row.token,
                    [url.removeprefix(BASE) for _, url in scores],
                    unsubscribe.removeprefix(BASE),
                )
            )
    return found


@dataclass(frozen=True)
class World:
    client: TestClient
    database: Database
    a: Org
    b: Org
    #: Two surveys of A's; B's survey is of a contact with A's first contact's address.
    a1: Survey
    a2: Survey
    b1: Survey


@pytest.fixture
def world(client: TestClient, services: Services, database: Database) -> World:
    a, b = make_org(database, "Acme"), make_org(database, "Globex")
    for org in (a, b):  # webhooks for what an answer or an unsubscribe emits
        for event in (FEEDBACK_ADDED_OR_CHANGED, CONTACT_UNSUBSCRIBED):
            hook = {"event": event, "target_url": "https://hooks.example/h"}
            headers = token(org.key)
            assert client.post("/api/v2/webhooks/", json=hook, headers=headers).status_code == 201
    a1, a2 = surveyed(client, services, a, "ann@example.com", "abe@example.com")
    (b1,) = surveyed(client, services, b, "ann@example.com")
    return World(client, database, a, b, a1, a2, b1)


def state(database: Database) -> dict[str, list[Any]]:
    """What answering, commenting or unsubscribing would change."""
    with database.read() as conn:
        return {
            table.name: sorted(tuple(row) for row in conn.execute(select(*columns)))
            for table, columns in (
                (responses, [responses.c.survey_id, responses.c.score, responses.c.comment]),
                (surveys, [surveys.c.id, surveys.c.status, surveys.c.answered_at]),
                (contacts, [contacts.c.id, contacts.c.status]),
                (deliveries, [deliveries.c.id, deliveries.c.status]),
                (webhook_deliveries, [webhook_deliveries.c.id]),
            )
        }


def visit(client: TestClient, method: str, page: str, signed: str) -> httpx.Response:
    path = page.replace("{signed}", signed).replace("{score}", "9")
    form = PAGES[(method, page)]
    if method == "GET":
        return client.get(path, follow_redirects=False)
    return client.post(path, data=form, follow_redirects=False)


def refusals(client: TestClient, signed: str) -> Iterator[str]:
    """Each survey page that does not answer ``signed`` with the "not valid" page."""
    for method, page in PAGES:
        response = visit(client, method, page, signed)
        where = f"{method} {page.replace('{signed}', repr(signed))}"
        if response.status_code != 404:
            yield f"{where}: {response.status_code}"
        elif "This survey link is not valid." not in response.text:
            yield f"{where}: {response.text[:200]!r}"
        elif response.headers["content-type"].startswith("text/html") and (
            '<html lang="en" dir="ltr">' not in response.text
        ):
            yield f"{where}: the page names no language"
        elif response.headers["cache-control"] != "no-store":
            yield f"{where}: cacheable"
        elif response.headers["referrer-policy"] != "no-referrer":
            yield f"{where}: the link may leak through Referer"


def _other(character: str) -> str:
    return ALPHABET[(ALPHABET.index(character) + 1) % len(ALPHABET)]


def test_the_table_has_every_survey_page(services: Services) -> None:
    served = {
        (method, str(context.path))
        for context in iter_route_contexts(create_app(services).routes)
        for method in context.methods or ()
        if str(context.path).startswith(("/s/", "/u/")) and method != "HEAD"
    }
    assert served == set(PAGES)


def test_the_links_in_an_email_work(world: World) -> None:
    survey = world.a1
    assert survey.score_links == [f"/s/{survey.signed}/{n}" for n in range(11)]
    assert survey.signed.startswith(f"{survey.token}.")
    for method, page in PAGES:
        response = visit(world.client, method, page, survey.signed)
        assert response.status_code in (200, 303), (method, page, response.text[:300])


def test_tokens_are_192_random_bits_and_differ_from_survey_to_survey(world: World) -> None:
    made = [new_token() for _ in range(1000)]
    tokens = [world.a1.token, world.a2.token, world.b1.token, *made]
    assert len(set(tokens)) == len(tokens)
    raw = [base64.urlsafe_b64decode(token) for token in tokens]
    assert {len(token) for token in tokens} == {32} and {len(r) for r in raw} == {24}
    assert all(set(token) <= set(ALPHABET) for token in tokens)
    # Each of the 192 bits is set in about half of the tokens: none is fixed or derived.
    numbers = [int.from_bytes(r, "big") for r in raw]
    for bit in range(192):
        ones = sum(number >> bit & 1 for number in numbers)
        assert 400 < ones < 603, (bit, ones)
    signature = world.a1.signed.partition(".")[2]
    assert len(signature) == SIGNATURE_CHARS == 22  # 132 bits of HMAC-SHA256


def test_every_character_of_the_token_and_the_signature_matters(world: World) -> None:
    before = state(world.database)
    signed = world.a1.signed
    problems: list[str] = []
    for at, character in enumerate(signed):
        if character == ".":
            continue
        problems += refusals(world.client, signed[:at] + _other(character) + signed[at + 1 :])
        swapped = character.swapcase()
        if swapped != character:
            tampered = signed[:at] + swapped + signed[at + 1 :]
            response = world.client.post(f"/s/{tampered}", data={"score": "9"})
            problems += [] if response.status_code == 404 else [f"case of {at}: answered"]
    assert problems == []
    assert state(world.database) == before, "a tampered link recorded something"
    assert visit(world.client, "POST", "/s/{signed}", signed).status_code == 303


def test_token_and_signature_are_bound_to_one_survey(world: World) -> None:
    before = state(world.database)
    pairs = [(world.a1, world.a2), (world.a2, world.a1), (world.a1, world.b1), (world.b1, world.a1)]
    problems: list[str] = []
    for mine, theirs in pairs:
        token = mine.signed.partition(".")[0]
        signature = theirs.signed.partition(".")[2]
        problems += refusals(world.client, f"{token}.{signature}")
        problems += refusals(world.client, f"{signature}.{token}")
        problems += refusals(world.client, f"{token}.{token}")
    assert problems == []
    assert state(world.database) == before


def test_links_signed_with_another_secret_key_are_refused(
    world: World, settings: Settings, database: Database
) -> None:
    before = state(world.database)
    forged = TokenSigner("not the secret key").sign(world.a1.token)
    assert forged != world.a1.signed
    assert list(refusals(world.client, forged)) == []
    rotated = Services.build(settings.model_copy(update={"secret_key": "rotated"}), database)
    with TestClient(create_app(rotated)) as client:
        assert list(refusals(client, world.a1.signed)) == []  # made with the old key
        assert state(world.database) == before
        (survey,) = surveyed(client, rotated, world.a, "cy@example.com")
        assert visit(client, "GET", "/s/{signed}", survey.signed).status_code == 200


def malformed(token: str, signature: str) -> dict[str, str]:
    """Links that are almost, or not at all, what an email carries."""
    return {
        "no signature": token,
        "no token": signature,
        "the dot alone": "%2E",
        "dots": "%2E%2E",
        "truncated signature": f"{token}.{signature[:-1]}",
        "truncated token": f"{token[:-1]}.{signature}",
        "overlong signature": f"{token}.{signature}A",
        "overlong token": f"{token}A.{signature}",
        "doubled signature": f"{token}.{signature}.{signature}",
        "two dots": f"{token}..{signature}",
        "far too long": f"{token * 300}.{signature}",
        "non-ASCII token": f"{token[:-1]}\N{LATIN SMALL LETTER E WITH ACUTE}.{signature}",
        "non-ASCII signature": f"{token}.{signature[:-1]}\N{LATIN SMALL LETTER SHARP S}",
        "emoji": f"{token}.\N{PILE OF POO}",
        "null byte in the token": f"{token}%00.{signature}",
        "null byte in the signature": f"{token}.{signature}%00",
        "null byte alone": "%00",
        "percent-encoded garbage": "%ff%fe.%c3%28",
        "space": f"{token} .{signature}",
        "newline": f"{token}%0A.{signature}",
        "backslash": f"{token}\\.{signature}",
    }


def test_malformed_links_are_clean_404s(world: World) -> None:
    before = state(world.database)
    token, _, signature = world.a1.signed.partition(".")
    problems = [
        f"{kind}: {problem}"
        for kind, signed in malformed(token, signature).items()
        for problem in refusals(world.client, signed)
    ]
    assert problems == []
    assert state(world.database) == before


def test_percent_encoding_a_link_is_not_tampering(world: World) -> None:
    encoded = "".join(f"%{ord(c):02X}" for c in world.a1.signed)
    assert visit(world.client, "GET", "/s/{signed}", encoded).status_code == 200


def test_a_link_percent_encoded_twice_is_refused(world: World) -> None:
    """Sent through httpx's ASGI transport, which decodes the path once as a server does
    (TestClient's decodes it twice, which would undo the second encoding)."""
    encoded = "".join(f"%25{ord(c):02X}" for c in world.a1.signed)

    async def send() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=world.client.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            return [
                await client.get(f"/s/{encoded}/9"),
                await client.post(f"/s/{encoded}", data={"score": "9"}),
                await client.post(f"/u/{encoded}", data={"List-Unsubscribe": "One-Click"}),
            ]

    before = state(world.database)
    for response in asyncio.run(send()):
        assert response.status_code == 404
        assert "This survey link is not valid." in response.text
    assert state(world.database) == before


def test_a_link_to_an_erased_contact_is_refused(world: World) -> None:
    headers = token(world.a.key)
    erased = world.client.delete(f"/api/v2/contacts/{world.a1.contact_id}/", headers=headers)
    assert erased.status_code == 204
    before = state(world.database)
    assert list(refusals(world.client, world.a1.signed)) == []
    assert state(world.database) == before


#: Scores a form or a link may carry that are not a whole number from 0 to 10 in digits.
NOT_SCORES = (
    "\N{SUPERSCRIPT TWO}",
    "\N{CIRCLED DIGIT NINE}",
    "\N{ARABIC-INDIC DIGIT THREE}",
    "\N{FULLWIDTH DIGIT NINE}",
    "%00",
    "9%00",
    "-0",
    "+9",
    "9.0",
    "1e1",
    "010",
)


def test_a_score_that_is_not_a_plain_number_is_a_400_page(world: World) -> None:
    """On a valid link: the page asks again, in the survey's language; nothing is recorded."""
    before = state(world.database)
    link = f"/s/{world.a1.signed}"
    problems = []
    for score in NOT_SCORES:
        shown = world.client.get(f"{link}/{score}")
        posted = world.client.post(link, data={"score": score.replace("%00", "\x00")})
        for response in (shown, posted):
            page = response.text
            if response.status_code != 400 or "from 0 to 10" not in page:
                problems.append(f"{response.request.method} {score!r}: {response.status_code}")
            elif '<html lang="en" dir="ltr">' not in page:
                problems.append(f"{response.request.method} {score!r}: no language")
    assert problems == []
    assert world.client.post(link, data={"score": ""}).status_code == 400
    assert state(world.database) == before


def test_a_link_acts_on_its_own_survey_and_contact_only(world: World) -> None:
    """A's link answers and unsubscribes A's survey and contact: not A's other survey, and
    not B's contact with the same address."""
    survey = world.a1
    assert visit(world.client, "POST", "/s/{signed}", survey.signed).status_code == 303
    comment = visit(world.client, "POST", "/s/{signed}/comment", survey.signed)
    assert comment.status_code == 303
    assert visit(world.client, "POST", "/u/{signed}", survey.signed).status_code == 200
    with world.database.read() as conn:
        answered = conn.execute(select(responses.c.organization_id, responses.c.survey_id)).all()
        statuses = dict(conn.execute(select(contacts.c.id, contacts.c.status)).all())
        events = conn.execute(select(webhook_deliveries.c.organization_id)).scalars().all()
    assert [tuple(row) for row in answered] == [(world.a.id, survey.id)]
    assert statuses == {
        survey.contact_id: "unsubscribed",
        world.a2.contact_id: "active",
        world.b1.contact_id: "active",
    }
    assert set(events) == {world.a.id}  # B's webhooks heard nothing
