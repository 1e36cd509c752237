"""Webhook targets on the server's own network: refused when saved (any spelling of the
address) and when connecting (every address a name resolves to), unless the operator
allows them; and what the delivery log keeps of an answer (never its body). Real
receivers on 127.0.0.1, on both databases."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import insert, update

from promoter.app import create_app
from promoter.cli import main
from promoter.config import Settings
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import webhook_attempts, webhook_deliveries, webhook_subscriptions
from promoter.webhooks.events import SURVEY_SENT, emit
from promoter.webhooks.targets import IPAddress, TargetPolicy, category
from promoter.webhooks.transport import Resolver
from tests.conftest import Org
from tests.credentials import token
from tests.receiver import Receiver
from tests.webhooks import (
    LOOPBACK_ALLOWED,
    REFUSED_AT_SAVE,
    SECRET,
    attempts,
    deliveries,
    run_once,
    subscribe,
    webhook_sender,
)

STRICT = TargetPolicy()


def static_resolver(table: Mapping[str, Sequence[str]]) -> Resolver:
    """A resolver of the test's own: the names in ``table``, nothing else."""

    async def resolve(host: str, port: int) -> list[IPAddress]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(a) for a in table[host]]

    return resolve


def emit_now(database: Database, org: Org) -> None:
    with database.write() as conn:
        emit(conn, organization_id=org.id, event=SURVEY_SENT, data={}, now=datetime.now(UTC))


# --- the policy -----------------------------------------------------------------------------


def test_categories() -> None:
    assert category(ipaddress.ip_address("93.184.216.34")) is None
    assert category(ipaddress.ip_address("2606:2800:220:1::1")) is None
    assert category(ipaddress.ip_address("::ffff:93.184.216.34")) is None
    assert category(ipaddress.ip_address("::ffff:10.1.2.3")) == "private"
    assert category(ipaddress.ip_address("192.0.2.1")) == "private"  # documentation


def test_allowed_networks_and_allowing_everything() -> None:
    policy = TargetPolicy.of(allow_private=False, allowed_networks="10.1.0.0/16, fd00::/8")
    assert policy.refusal(ipaddress.ip_address("10.1.2.3")) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:10.1.2.3")) is None
    assert policy.refusal(ipaddress.ip_address("fd00::7")) is None
    assert policy.refusal(ipaddress.ip_address("10.2.0.1")) == "private"
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) == "loopback"
    assert LOOPBACK_ALLOWED.refusal(ipaddress.ip_address("169.254.169.254")) is None


def test_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().webhook_allow_private is False
    monkeypatch.setenv("PROMOTER_WEBHOOK_ALLOWED_NETWORKS", "10.1.2.3/16, fd00::1")
    assert Settings().webhook_allowed_networks == "10.1.0.0/16,fd00::1/128"
    monkeypatch.setenv("PROMOTER_WEBHOOK_ALLOWED_NETWORKS", "10.0.0.0/8,intranet")
    with pytest.raises(ValidationError, match="'intranet' is not a network"):
        Settings()


# --- when saving ----------------------------------------------------------------------------


@pytest.mark.one_database(reason="each address is refused before anything is stored")
@pytest.mark.parametrize(("url", "shown"), REFUSED_AT_SAVE)
def test_the_api_refuses_addresses_of_the_servers_network(
    client: TestClient, org: Org, url: str, shown: str
) -> None:
    answer = client.post(
        "/api/v2/webhooks/", json={"event": SURVEY_SENT, "target_url": url}, headers=token(org.key)
    )
    assert answer.status_code == 400, answer.text
    assert answer.json() == {
        "target_url": [f"Webhooks cannot be sent to {shown}: enter a public address."]
    }


def test_a_change_of_url_is_checked_too(client: TestClient, org: Org) -> None:
    created = client.post(
        "/api/v2/webhooks/",
        json={"event": SURVEY_SENT, "target_url": "https://hooks.example.com/in"},
        headers=token(org.key),
    )
    assert created.status_code == 201, created.text
    moved = client.patch(
        f"/api/v2/webhooks/{created.json()['id']}/",
        json={"target_url": "http://2130706433/"},
        headers=token(org.key),
    )
    assert moved.status_code == 400 and "127.0.0.1 (loopback address)" in moved.text


def test_the_operator_can_allow_networks(
    settings: Settings, database: Database, org: Org, receiver: Receiver
) -> None:
    allowed = settings.model_copy(update={"webhook_allowed_networks": "127.0.0.0/8"})
    services = Services.build(allowed, database)
    with TestClient(create_app(services)) as client:
        created = client.post(
            "/api/v2/webhooks/",
            json={"event": SURVEY_SENT, "target_url": receiver.url},
            headers=token(org.key),
        )
        assert created.status_code == 201, created.text
        refused = client.post(
            "/api/v2/webhooks/",
            json={"event": SURVEY_SENT, "target_url": "http://[::1]/"},
            headers=token(org.key),
        )
        assert refused.status_code == 400
    emit_now(database, org)
    assert run_once(services.webhook_sender()) == 1
    (delivery,) = deliveries(database)
    assert delivery.status == "delivered" and len(receiver.requests) == 1


def test_the_cli_refuses_them(database_url: str, org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMOTER_DATABASE_URL", database_url)
    monkeypatch.delenv("PROMOTER_WEBHOOK_ALLOW_PRIVATE", raising=False)
    result = CliRunner().invoke(
        main, ["webhook", "create", str(org.id), SURVEY_SENT, "http://0x7f.1:9/"]
    )
    assert result.exit_code == 1
    assert "Webhooks cannot be sent to 127.0.0.1 (loopback address)" in result.output


# --- when connecting ------------------------------------------------------------------------


def test_a_name_resolving_to_loopback_is_refused_when_connecting(
    database: Database, org: Org, receiver: Receiver
) -> None:
    port = receiver.server.server_address[1]
    names = static_resolver({"hooks.acme.test": ["127.0.0.1"]})
    # Saved: the name is not an address (and resolved to a public one then, say).
    sub = subscribe(database, org, SURVEY_SENT, f"http://hooks.acme.test:{port}/h", policy=STRICT)
    emit_now(database, org)
    assert run_once(webhook_sender(database, STRICT, resolver=names)) == 1
    (delivery,) = deliveries(database)
    assert receiver.requests == []
    assert delivery.last_error == "target address 127.0.0.1 is not allowed (loopback)"
    assert delivery.status == "failed" and delivery.last_status_code is None  # no retry
    (attempt,) = attempts(database, delivery.id)
    assert attempt.error == delivery.last_error
    # Allowed by the operator, the same name reaches the receiver: the sender connects to
    # the address it checked (no other resolver knows this name).
    with database.write() as conn:
        conn.execute(update(webhook_deliveries).values(status="pending", due_at=datetime.now(UTC)))
    assert run_once(webhook_sender(database, LOOPBACK_ALLOWED, resolver=names)) == 1
    assert deliveries(database)[0].status == "delivered"
    assert receiver.requests[0].headers["Host"] == f"hooks.acme.test:{port}"
    assert sub.target_url.startswith("http://hooks.acme.test")


def test_localhost_through_the_system_resolver(
    database: Database, org: Org, receiver: Receiver
) -> None:
    port = receiver.server.server_address[1]
    sub = subscribe(database, org, SURVEY_SENT, f"http://localhost:{port}/h")  # saved when allowed
    delivery = asyncio.run(
        webhook_sender(database, STRICT).ping(organization_id=org.id, subscription_id=sub.id)
    )
    assert delivery.status == "failed" and receiver.requests == []
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("target address ")
    assert delivery.last_error.endswith(" is not allowed (loopback)")


def test_one_refused_address_among_public_ones_refuses_the_name(
    database: Database, org: Org
) -> None:
    names = static_resolver({"rebind.test": ["93.184.216.34", "10.0.0.7"]})
    subscribe(database, org, SURVEY_SENT, "https://rebind.test/h", policy=STRICT)
    emit_now(database, org)
    run_once(webhook_sender(database, STRICT, resolver=names))
    (delivery,) = deliveries(database)
    assert delivery.last_error == "target address 10.0.0.7 is not allowed (private)"


def test_a_target_saved_before_the_policy_is_refused_by_hand_too(
    client: TestClient, database: Database, org: Org, receiver: Receiver
) -> None:
    sub = subscribe(database, org, SURVEY_SENT, receiver.url)  # saved when allowed
    emit_now(database, org)
    run_once(webhook_sender(database, STRICT))
    (delivery,) = deliveries(database)
    assert delivery.status == "failed"
    redelivered = client.post(
        f"/api/v2/webhooks/{sub.id}/deliveries/{delivery.id}/redeliver/", headers=token(org.key)
    )
    assert redelivered.status_code == 200
    assert redelivered.json()["last_error"] == "target address 127.0.0.1 is not allowed (loopback)"
    pinged = client.post(f"/api/v2/webhooks/{sub.id}/test/", headers=token(org.key))
    assert pinged.json()["status"] == "failed" and "(loopback)" in pinged.json()["last_error"]
    assert receiver.requests == []


# --- what the log keeps of an answer --------------------------------------------------------


def test_the_answers_body_and_reason_are_not_kept(
    client: TestClient,
    database: Database,
    database_url: str,
    org: Org,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver.respond = lambda request: 500
    receiver.refusal = f"Traceback ... api_key={SECRET}".encode()
    receiver.reason = f"Oops {SECRET}"
    sub = subscribe(database, org, SURVEY_SENT, receiver.url)
    emit_now(database, org)
    run_once(webhook_sender(database, LOOPBACK_ALLOWED))
    (delivery,) = deliveries(database)
    assert delivery.last_status_code == 500
    assert delivery.last_error == "HTTP 500 Internal Server Error"
    base = f"/api/v2/webhooks/{sub.id}"
    shown = [
        client.get(f"{base}/deliveries/", headers=token(org.key)).text,
        client.get(f"{base}/deliveries/{delivery.id}/", headers=token(org.key)).text,
        client.post(f"{base}/test/", headers=token(org.key)).text,
    ]
    monkeypatch.setenv("PROMOTER_DATABASE_URL", database_url)
    cli = CliRunner().invoke(main, ["webhook", "deliveries", str(org.id), str(sub.id)])
    shown.append(cli.output)
    assert "HTTP 500 Internal Server Error" in shown[0] and "500" in cli.output
    assert all(SECRET not in text and "Traceback" not in text for text in shown)


def test_a_malformed_answer_is_not_quoted(database: Database, org: Org) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def answer_garbage() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(f"NOT-HTTP {SECRET}\r\n\r\n".encode())

        thread = threading.Thread(target=answer_garbage, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/h"
        sub = subscribe(database, org, SURVEY_SENT, url)
        delivery = asyncio.run(
            webhook_sender(database, LOOPBACK_ALLOWED).ping(
                organization_id=org.id, subscription_id=sub.id
            )
        )
        thread.join(timeout=10)
    assert delivery.last_error == "the answer was not valid HTTP"


def test_bodies_quoted_by_earlier_versions_are_not_shown(
    client: TestClient, database: Database, org: Org
) -> None:
    sub = subscribe(database, org, SURVEY_SENT, "https://hooks.example.com/h")
    emit_now(database, org)
    (delivery,) = deliveries(database)
    quoted = f"HTTP 500: <html>{SECRET}</html>"
    with database.write() as conn:
        conn.execute(update(webhook_deliveries).values(last_status_code=500, last_error=quoted))
        conn.execute(
            insert(webhook_attempts).values(
                organization_id=org.id,
                delivery_id=delivery.id,
                attempted_at=datetime.now(UTC),
                status_code=500,
                error=quoted,
                duration_ms=3,
                manual=False,
            )
        )
        conn.execute(
            update(webhook_subscriptions).values(
                status="disabled",
                disabled_reason=f"Every delivery failed for 24 hours (last: {quoted})",
            )
        )
    base = f"/api/v2/webhooks/{sub.id}"
    detail = client.get(f"{base}/deliveries/{delivery.id}/", headers=token(org.key)).json()
    assert detail["last_error"] == "HTTP 500"
    assert [a["error"] for a in detail["attempt_log"]] == ["HTTP 500"]
    webhook = client.get(f"{base}/", headers=token(org.key)).json()
    assert webhook["disabled_reason"] == "Every delivery failed for 24 hours (last: HTTP 500)"
