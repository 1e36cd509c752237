"""``promoter alerts check`` and ``promoter alerts list``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from promoter.storage.engine import Database
from tests.alerts.planted import plant
from tests.conftest import Org
from tests.integration.conftest import Run

pytestmark = pytest.mark.one_database(
    reason="the commands read and check through the functions tests/alerts runs on both"
)


def test_alerts_check_then_list(run: Run, database: Database, org: Org, other_org: Org) -> None:
    plant(database, org, until=datetime.now(UTC) - timedelta(seconds=1))
    out = run("alerts", "check", str(org.id))
    assert out.startswith("checked 4 scopes:")
    (line,) = out.splitlines()[1:]
    assert "segment 1 'Enterprise'  down: +50.0 -> -10.0 (-60.0," in line
    assert line.endswith("manual")
    assert "no new alerts" in run("alerts", "check", str(org.id))
    listed = json.loads(run("alerts", "list", str(org.id), "--json"))
    assert listed["count"] == 1 and listed["results"][0]["scope"]["name"] == "Enterprise"
    assert run("alerts", "list", str(org.id)).strip() == line.strip()
    assert (
        run("alerts", "list", str(other_org.id)).strip()
        == f"no alerts in organization {other_org.id}"
    )
    assert "no organization with id 999" in run("alerts", "check", "999", code=1)
    assert "Invalid value" in run("alerts", "list", str(org.id), "--page", "0", code=2)
