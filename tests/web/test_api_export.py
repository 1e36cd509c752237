"""GET /api/v2/export/{table}: the files of ``promoter export``, streamed, for the key's
organization only; bad input answered 400."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from promoter.domain.timestamps import parse_timestamp
from promoter.exports.tables import TABLES
from promoter.storage.engine import Database
from tests.analytics.dataset import build
from tests.conftest import Org
from tests.credentials import token


@pytest.fixture
def dataset(database: Database, org: Org) -> Org:
    build(database, org.id, random.Random(5), contacts_count=6, responses_count=12)
    return org


def _ids(database: Database, org: Org, name: str) -> set[int]:
    table = TABLES[name].table
    with database.read() as conn:
        found = conn.execute(select(table.c.id).where(table.c.organization_id == org.id))
        return set(found.scalars())


@pytest.mark.parametrize("name", sorted(TABLES))
def test_each_table_downloads_as_parquet_and_csv(
    client: TestClient, database: Database, dataset: Org, name: str
) -> None:
    parquet = client.get(f"/api/v2/export/{name}", headers=token(dataset.key))
    assert parquet.status_code == 200, parquet.text
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"
    assert parquet.headers["content-disposition"] == f'attachment; filename="{name}.parquet"'
    rows = pq.read_table(io.BytesIO(parquet.content)).to_pylist()
    assert {row["id"] for row in rows} == _ids(database, dataset, name)
    got = client.get(f"/api/v2/export/{name}?format=csv", headers=token(dataset.key))
    assert got.status_code == 200
    assert got.headers["content-type"] == "text/csv; charset=utf-8"
    assert got.headers["content-disposition"] == f'attachment; filename="{name}.csv"'
    text = list(csv.DictReader(io.StringIO(got.text)))
    assert sorted(int(row["id"]) for row in text) == sorted(row["id"] for row in rows)
    mark = parse_timestamp(got.headers["x-next-since"])
    assert mark is not None and mark < datetime.now(UTC)


def test_since_keeps_the_rows_changed_from_then(
    client: TestClient, database: Database, dataset: Org
) -> None:
    everything = client.get("/api/v2/export/responses?format=csv", headers=token(dataset.key))
    rows = list(csv.DictReader(io.StringIO(everything.text)))
    times = sorted(datetime.fromisoformat(row["updated_at"]) for row in rows)
    middle = times[len(times) // 2]
    since = middle.isoformat().replace("+00:00", "Z")
    got = client.get(
        "/api/v2/export/responses",
        params={"format": "csv", "since": since},
        headers=token(dataset.key),
    )
    assert got.status_code == 200
    assert 'filename="responses-' in got.headers["content-disposition"]
    kept = {int(row["id"]) for row in csv.DictReader(io.StringIO(got.text))}
    assert kept == {int(r["id"]) for r in rows if datetime.fromisoformat(r["updated_at"]) >= middle}
    later = (times[-1] + timedelta(seconds=1)).isoformat()
    empty = client.get(
        "/api/v2/export/responses", params={"since": later}, headers=token(dataset.key)
    )
    assert pq.read_table(io.BytesIO(empty.content)).num_rows == 0


def test_a_key_exports_only_its_organizations_rows(
    client: TestClient, database: Database, dataset: Org, other_org: Org
) -> None:
    for name in TABLES:
        got = client.get(f"/api/v2/export/{name}", headers=token(other_org.key))
        assert got.status_code == 200
        assert pq.read_table(io.BytesIO(got.content)).num_rows == len(
            _ids(database, other_org, name)
        )
    contacts = client.get("/api/v2/export/contacts?format=csv", headers=token(other_org.key))
    assert "@example.com" not in contacts.text


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v2/export/orders", "table"),
        ("/api/v2/export/responses?format=xlsx", "format"),
        ("/api/v2/export/responses?since=yesterday", "detail"),
        ("/api/v2/export/responses?since=2026-13-01", "detail"),
        (f"/api/v2/export/responses?since={'9' * 80}", "since"),
    ],
)
def test_bad_input_is_answered_400(client: TestClient, org: Org, path: str, field: str) -> None:
    got = client.get(path, headers=token(org.key))
    assert got.status_code == 400, got.text
    assert field in got.json()


def test_the_export_needs_a_key(client: TestClient) -> None:
    assert client.get("/api/v2/export/responses").status_code == 401
