"""Rotating a webhook's signing secret, on both databases: requests are signed with the
new secret at once and, for 24 hours, with the previous one too (a receiver checking
either accepts them); then with the new one alone. Through the service, the REST API and
the CLI."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient

from promoter.cli import main
from promoter.storage.engine import Database
from promoter.webhooks.events import SURVEY_SENT, emit
from promoter.webhooks.rotation import GRACE, rotate_secret
from promoter.webhooks.signing import verify_signature
from tests.conftest import Org
from tests.credentials import token
from tests.receiver import Receiver
from tests.webhooks import T0, Clock, run_once, sender, subscribe


def signed_with(request: Any, secret: str, at: float) -> bool:
    return verify_signature(secret, request.headers["Promoter-Signature"], request.body, now=at)


def test_both_secrets_sign_for_a_day_then_the_new_one(
    database: Database, org: Org, receiver: Receiver
) -> None:
    hook = subscribe(database, org, SURVEY_SENT, receiver.url)
    with database.write() as conn:
        rotated = rotate_secret(conn, organization_id=org.id, subscription_id=hook.id, now=T0)
    assert rotated.secret != hook.secret and rotated.previous_secret_until == T0 + GRACE
    clock = Clock(T0 + GRACE - timedelta(minutes=1))
    for at in (clock.now, T0 + GRACE):
        with database.write() as conn:
            emit(conn, organization_id=org.id, event=SURVEY_SENT, data={}, now=at)
        clock.now = at
        run_once(sender(database, clock))
    within, after = receiver.requests
    t = (T0 + GRACE).timestamp()
    assert signed_with(within, rotated.secret, t) and signed_with(within, hook.secret, t)
    assert within.headers["Promoter-Signature"].count("v1=") == 2
    assert signed_with(after, rotated.secret, t) and not signed_with(after, hook.secret, t)
    # A test sent by hand is signed the same way.
    asyncio.run(sender(database, Clock(T0)).ping(organization_id=org.id, subscription_id=hook.id))
    ping = receiver.requests[-1]
    assert signed_with(ping, hook.secret, T0.timestamp())


def test_api_and_cli_rotate_the_secret(
    client: TestClient,
    database: Database,
    database_url: str,
    org: Org,
    other_org: Org,
    monkeypatch: Any,
) -> None:
    hook = subscribe(database, org, SURVEY_SENT, "https://a.example/h")
    url = f"/api/v2/webhooks/{hook.id}/rotate-secret/"
    assert client.post(url, headers=token(other_org.key)).status_code == 404
    rotated = client.post(url, headers=token(org.key))
    assert rotated.status_code == 200, rotated.text
    body = rotated.json()
    assert body["secret"].startswith("whsec_") and body["secret"] != hook.secret
    assert body["previous_secret_until"] is not None
    shown = client.get(f"/api/v2/webhooks/{hook.id}/", headers=token(org.key)).json()
    assert shown["secret"] == body["secret"]

    monkeypatch.setenv("PROMOTER_DATABASE_URL", database_url)
    out = CliRunner().invoke(main, ["webhook", "rotate-secret", str(org.id), str(hook.id)])
    assert out.exit_code == 0, out.output
    secret = re.search(r"signing secret: (whsec_\w+)", out.output).group(1)  # type: ignore[union-attr]
    assert secret != body["secret"] and "the previous secret also signs until" in out.output
    shown = client.get(f"/api/v2/webhooks/{hook.id}/", headers=token(org.key)).json()
    assert shown["secret"] == secret
    refused = CliRunner().invoke(
        main, ["webhook", "rotate-secret", str(other_org.id), str(hook.id)]
    )
    assert refused.exit_code == 1 and "no webhook" in refused.output
