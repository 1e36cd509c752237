"""``promoter export`` through click's runner, on both databases: files read back with
pyarrow, csv and DuckDB agree with the database; incremental exports write only what
changed and advance their state; organizations stay apart; bad input is refused clearly."""

from __future__ import annotations

import csv
import os
import random
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import insert, select, update

from promoter.domain.messages import Envelope
from promoter.domain.nps import score_type
from promoter.exports.formats import ROW_GROUP_ROWS, encode
from promoter.exports.state import STATE_FILE
from promoter.exports.tables import EVENTS, TABLES
from promoter.feedback.followup import set_status
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.service import Ingestor
from promoter.storage.engine import Database
from promoter.storage.tables import (
    campaigns,
    contact_attributes,
    contacts,
    response_tags,
    surveys,
)
from tests.analytics.dataset import build
from tests.conftest import Org, make_org
from tests.integration.conftest import Run

DOCS = Path(__file__).resolve().parents[2] / "docs" / "export.md"


@pytest.fixture
def dataset(database: Database, org: Org) -> Org:
    build(database, org.id, random.Random(17), contacts_count=10, responses_count=30)
    return org


def _ingest(database: Database, org: Org, messages: list[dict[str, Any]]) -> None:
    results = ingest_messages(
        database=database,
        ingestor=Ingestor(),
        organization_id=org.id,
        messages=messages,
        envelope=Envelope(received_at=datetime.now(UTC)),
        allowed=TRACKING_API_TYPES,
    )
    assert all(r.status == "accepted" for r in results), results


def _rows(database: Database, org: Org, name: str) -> dict[int, Any]:
    table = TABLES[name].table
    with database.read() as conn:
        found = conn.execute(select(table).where(table.c.organization_id == org.id)).all()
    return {row.id: row for row in found}


def _parquet(path: Path) -> dict[int, dict[str, Any]]:
    return {row["id"]: row for row in pq.read_table(path).to_pylist()}


def _csv(path: Path) -> dict[int, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return {int(row["id"]): row for row in csv.DictReader(f)}


def _only_file(directory: Path, table: str) -> Path:
    found = sorted(directory.glob(f"{table}*"))
    assert len(found) == 1, found
    return found[0]


def test_parquet_files_hold_the_database_rows(
    run: Run, dataset: Org, database: Database, tmp_path: Path
) -> None:
    out = run("export", str(dataset.id), "--to", str(tmp_path), "--quiet")
    assert "responses: 30 rows" in out
    exported = {name: _parquet(tmp_path / f"{name}.parquet") for name in TABLES}
    stored = {name: _rows(database, dataset, name) for name in TABLES}
    for name in TABLES:
        assert set(exported[name]) == set(stored[name]) and stored[name], name
    schema = pq.read_schema(tmp_path / "responses.parquet")
    assert schema.field("id").type == pa.int64() and not schema.field("id").nullable
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("tags").type == pa.list_(pa.string())
    assert schema.field("attributes_map").type == pa.map_(pa.string(), pa.string())
    with database.read() as conn:
        tags: dict[int, list[str]] = {}
        for response_id, tag in conn.execute(
            select(response_tags.c.response_id, response_tags.c.tag).order_by(response_tags.c.tag)
        ):
            tags.setdefault(response_id, []).append(tag)
        users = dict(conn.execute(select(contacts.c.id, contacts.c.user_id)).all())
    for response_id, row in stored["responses"].items():
        got = exported["responses"][response_id]
        assert got["score"] == row.score and got["category"] == score_type(row.score)
        assert got["created_at"] == row.created_at and got["updated_at"] == row.updated_at
        assert got["comment"] == row.comment
        assert got["comment_updated_at"] == row.comment_updated_at  # None or a UTC time
        assert (got["survey_id"], got["campaign_id"], got["contact_id"]) == (
            row.survey_id,
            row.campaign_id,
            row.contact_id,
        )
        assert got["user_id"] == users[row.contact_id]
        assert got["tags"] == tags.get(response_id, [])
        assert orjson.loads(got["attributes"]) == row.contact_snapshot
        assert set(dict(got["attributes_map"])) == set(row.contact_snapshot)
        assert all(a["question_id"] for a in orjson.loads(got["answers"]))
    assert any(orjson.loads(r["answers"]) for r in exported["responses"].values())
    for event_id, row in stored["events"].items():
        got = exported["events"][event_id]
        assert orjson.loads(got["properties"]) == row.properties
        assert (got["timestamp"], got["received_at"]) == (row.timestamp, row.received_at)
        assert got["contact_id"] == row.contact_id and got["name"] == row.name
    for survey_id, row in stored["surveys"].items():
        got = exported["surveys"][survey_id]
        assert got["status"] == row.status and got["answered_at"] == row.answered_at
        assert got["reminder_sent_at"] is None  # a null stays null
    with database.read() as conn:
        names = conn.execute(select(contact_attributes.c.contact_id, contact_attributes.c.name))
        attribute_names: dict[int, set[str]] = {}
        for contact_id, attribute in names:
            attribute_names.setdefault(contact_id, set()).add(attribute)
    for contact_id, row in stored["contacts"].items():
        got = exported["contacts"][contact_id]
        assert (got["email"], got["user_id"], got["status"]) == (row.email, row.user_id, row.status)
        assert got["updated_at"] == row.updated_at
        assert set(orjson.loads(got["attributes"])) == attribute_names.get(contact_id, set())


def test_csv_files_hold_the_same_rows_as_text(
    run: Run, dataset: Org, database: Database, tmp_path: Path
) -> None:
    run("export", str(dataset.id), "--to", str(tmp_path / "p"), "--quiet")
    run("export", str(dataset.id), "--to", str(tmp_path / "c"), "--format", "csv", "--quiet")
    for name in TABLES:
        parquet = _parquet(tmp_path / "p" / f"{name}.parquet")
        text = _csv(tmp_path / "c" / f"{name}.csv")
        assert set(text) == set(parquet) == set(_rows(database, dataset, name))
        columns = [c.name for c in TABLES[name].columns_for("csv")]
        with (tmp_path / "c" / f"{name}.csv").open(encoding="utf-8") as f:
            assert f.readline().strip() == ",".join(columns)
        for row_id, row in parquet.items():
            for column in TABLES[name].columns_for("csv"):
                value, cell = row[column.name], text[row_id][column.name]
                if value is None:
                    assert cell == "", (name, column.name)
                elif column.kind == "time":
                    assert datetime.fromisoformat(cell) == value
                    assert cell.endswith("+00:00")
                elif column.kind == "tags":
                    assert orjson.loads(cell) == value
                elif column.kind == "json":
                    assert orjson.loads(cell) == orjson.loads(value)
                else:
                    assert cell == str(value), (name, column.name)


def test_an_incremental_export_writes_only_what_changed(
    run: Run, dataset: Org, database: Database, tmp_path: Path
) -> None:
    with database.write() as conn:
        scheduled = _scheduled_survey(conn, dataset)
    run("export", str(dataset.id), "--to", str(tmp_path), "--incremental", "--quiet")
    first = orjson.loads((tmp_path / STATE_FILE).read_bytes())
    assert set(first["tables"]) == set(TABLES)
    assert first["tables"]["surveys"]["revisit"] == [scheduled]
    full = {name: _parquet(_only_file(tmp_path, name)) for name in TABLES}
    assert set(full["responses"]) == set(_rows(database, dataset, "responses"))
    assert all(re.search(r"-\d{8}T\d{6}Z\.parquet$", p.name) for p in tmp_path.glob("*.parquet"))
    (tmp_path / "loaded").mkdir()
    for path in tmp_path.glob("*.parquet"):  # as a loader moves what it loaded
        path.rename(tmp_path / "loaded" / path.name)

    changed = min(full["responses"])
    with database.write() as conn:
        assert set_status(
            conn,
            organization_id=dataset.id,
            response_id=changed,
            status="CLOSED" if full["responses"][changed]["status"] == "OPEN" else "OPEN",
            now=datetime.now(UTC),
        )
        # Cancelling stamps no time: the state's revisit list brings the survey back.
        conn.execute(update(surveys).where(surveys.c.id == scheduled).values(status="cancelled"))
    _ingest(
        database,
        dataset,
        [
            {"type": "identify", "userId": "newcomer", "traits": {"email": "new@example.com"}},
            {"type": "track", "userId": "newcomer", "event": "Signed Up"},
        ],
    )
    run("export", str(dataset.id), "--to", str(tmp_path), "--incremental", "--quiet")
    second = {name: _parquet(_only_file(tmp_path, f"{name}-")) for name in TABLES}
    assert list(second["responses"]) == [changed]
    assert [r["user_id"] for r in second["contacts"].values()] == ["newcomer"]
    assert [r["name"] for r in second["events"].values()] == ["Signed Up"]
    assert [(r["id"], r["status"]) for r in second["surveys"].values()] == [
        (scheduled, "cancelled")
    ]
    after = orjson.loads((tmp_path / STATE_FILE).read_bytes())
    for name in TABLES:
        assert after["tables"][name]["since"] > first["tables"][name]["since"]
    assert after["tables"]["surveys"]["revisit"] == []


def _scheduled_survey(conn: Any, org: Org) -> int:
    campaign_id = conn.execute(
        select(campaigns.c.id).where(campaigns.c.organization_id == org.id).limit(1)
    ).scalar_one()
    contact_id = conn.execute(
        select(contacts.c.id).where(contacts.c.organization_id == org.id).limit(1)
    ).scalar_one()
    at = datetime(2026, 6, 1, tzinfo=UTC)
    return int(
        conn.execute(
            insert(surveys)
            .values(
                organization_id=org.id,
                campaign_id=campaign_id,
                contact_id=contact_id,
                status="scheduled",
                token=secrets.token_hex(16),
                attributes={},
                scheduled_at=at,
                created_at=at,
            )
            .returning(surveys.c.id)
        ).scalar_one()
    )


def test_since_exports_the_rows_changed_from_then(
    run: Run, dataset: Org, database: Database, tmp_path: Path
) -> None:
    stored = _rows(database, dataset, "responses")
    middle = sorted(r.updated_at for r in stored.values())[len(stored) // 2]
    since = middle.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    run("export", str(dataset.id), "--to", str(tmp_path), "--tables", "responses", "--since", since)
    got = _parquet(_only_file(tmp_path, "responses-"))
    assert set(got) == {i for i, r in stored.items() if r.updated_at >= middle}
    assert not (tmp_path / STATE_FILE).exists()


def test_an_export_holds_only_its_organizations_rows(
    run: Run, dataset: Org, database: Database, tmp_path: Path
) -> None:
    other = make_org(database, "Globex")
    _ingest(
        database,
        other,
        [
            {"type": "identify", "userId": "user-1", "traits": {"email": "g@example.com"}},
            {"type": "track", "userId": "user-1", "event": "Viewed Page"},
        ],
    )
    run("export", str(other.id), "--to", str(tmp_path / "g"), "--format", "csv", "--quiet")
    run("export", str(dataset.id), "--to", str(tmp_path / "a"), "--format", "csv", "--quiet")
    for name in TABLES:
        theirs = _csv(tmp_path / "g" / f"{name}.csv")
        assert set(theirs) == set(_rows(database, other, name)), name
        assert not set(theirs) & set(_csv(tmp_path / "a" / f"{name}.csv")), name
    assert [r["email"] for r in _csv(tmp_path / "g" / "contacts.csv").values()] == ["g@example.com"]
    # An incremental state belongs to one organization.
    run("export", str(other.id), "--to", str(tmp_path / "i"), "--incremental", "--quiet")
    refused = run("export", str(dataset.id), "--to", str(tmp_path / "i"), "--incremental", code=1)
    assert f"organization {other.id}'s export" in refused


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tables", "responses,orderz"], "unknown table orderz"),
        (["--tables", ","], "unknown table (none given)"),
        (["--format", "xlsx"], "'xlsx' is not one of 'parquet', 'csv'"),
        (["--since", "yesterday"], "'yesterday' is not an ISO 8601 date"),
        (["--since", "2026-12-01", "--incremental"], "give --since or --incremental"),
    ],
)
def test_bad_options_are_refused_with_a_reason(
    run: Run, org: Org, tmp_path: Path, args: list[str], message: str
) -> None:
    out = run("export", str(org.id), "--to", str(tmp_path / "x"), *args, code=2)
    assert message in out
    assert not (tmp_path / "x").exists()


def test_an_unknown_organization_or_unwritable_directory_is_refused(
    run: Run, org: Org, tmp_path: Path
) -> None:
    assert "no organization" in run("export", "999999", "--to", str(tmp_path), code=1).lower()
    (tmp_path / STATE_FILE).write_text("{not json")
    assert "cannot read" in run(
        "export", str(org.id), "--to", str(tmp_path), "--incremental", code=1
    )
    (tmp_path / "a-file").write_text("")
    out = run("export", str(org.id), "--to", str(tmp_path / "a-file" / "inner"), code=1)
    assert f"cannot create {tmp_path / 'a-file' / 'inner'}" in out
    if os.geteuid() == 0:
        pytest.skip("root writes into any directory")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        out = run("export", str(org.id), "--to", str(locked), code=1)
        assert f"cannot write to {locked}: permission denied" in out
        out = run("export", str(org.id), "--to", str(locked / "inner"), code=1)
        assert f"cannot create {locked / 'inner'}" in out
    finally:
        locked.chmod(0o700)


def test_duckdb_reads_the_parquet_files(run: Run, dataset: Org, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    run("export", str(dataset.id), "--to", str(tmp_path), "--quiet")
    pattern = str(tmp_path / "responses*.parquet")
    db = duckdb.connect()
    found = db.execute(
        f"SELECT count(*), min(score) >= 0, count(DISTINCT category),"
        f" count(attributes_map['plan']) FROM read_parquet('{pattern}')"
    ).fetchone()
    assert found is not None and found[0] == 30 and found[1] and found[2] >= 2
    typed = db.execute(f"DESCRIBE SELECT created_at FROM read_parquet('{pattern}')").fetchone()
    assert typed is not None and typed[1] == "TIMESTAMP WITH TIME ZONE"


def test_large_exports_are_written_in_row_groups() -> None:
    at = datetime(2026, 12, 6, tzinfo=UTC)
    row = {"contact_id": None, "user_id": "u", "name": "n", "properties": {}}
    page_size = 5000
    pages = (
        [{**row, "id": i, "timestamp": at, "received_at": at} for i in range(s, s + page_size)]
        for s in range(0, ROW_GROUP_ROWS * 2 + page_size, page_size)
    )
    pieces = list(encode(EVENTS, "parquet", pages))
    assert len(pieces) == 3  # one per full row group, then the rest with the footer
    data = pq.ParquetFile(pa.BufferReader(b"".join(pieces)))
    assert data.metadata.num_row_groups == 3
    assert data.metadata.num_rows == ROW_GROUP_ROWS * 2 + page_size


def test_every_column_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    sections = re.split(r"^### ", text, flags=re.MULTILINE)
    for name, table in TABLES.items():
        section = next((s for s in sections if s.startswith(f"`{name}`")), "")
        assert section, f"docs/export.md has no section for {name}"
        missing = [c.name for c in table.columns if f"| `{c.name}` |" not in section]
        assert missing == [], f"{name}: {missing} undocumented"
