"""The security review's flood of attribute names, replayed in process on SQLite.

50 identifies of 2,000 new trait names each for one userId (as the review sent them to
``/v1/identify``), then that contact answers a survey. Prints how many attributes were
stored, how many the answer's snapshot kept, how many analytics columns loading the
organization made, and the memory that loading allocated at its peak (tracemalloc).

    .venv/bin/python benchmarks/attribute_flood.py [--messages 50] [--names 2000]
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select

from promoter.analytics.response_columns import ResponseColumns
from promoter.campaigns import service as campaigns
from promoter.domain.messages import Envelope
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.service import Ingestor
from promoter.orgs.service import create_organization
from promoter.storage.engine import Database
from promoter.storage.migrate import upgrade
from promoter.storage.tables import contact_attributes, contacts, response_attributes, surveys
from promoter.surveys.responses import find_survey, record_score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--names", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Database.from_url(f"sqlite:///{Path(folder) / 'flood.sqlite3'}")
        upgrade(database.engine)
        run(database, args.messages, args.names)
        database.dispose()


def run(database: Database, messages: int, names: int) -> None:
    now = datetime.now(UTC)
    with database.write() as conn:
        org, _ = create_organization(conn, name="Flooded")
    ingestor = Ingestor()
    for round_ in range(messages):
        traits = {f"r{round_}.t{i}": i for i in range(names)}
        ingest_messages(
            database=database,
            ingestor=ingestor,
            organization_id=org.id,
            messages=[
                {"type": "identify", "userId": "ted", "traits": {"email": "t@x.co", **traits}}
            ],
            envelope=Envelope(received_at=now),
            allowed=TRACKING_API_TYPES,
        )
    with database.write() as conn:
        contact_id = conn.execute(select(contacts.c.id)).scalar_one()
        campaign_id = campaigns.list_campaigns(conn, organization_id=org.id)[0].id
        token = secrets.token_hex(16)
        conn.execute(
            insert(surveys).values(
                organization_id=org.id,
                campaign_id=campaign_id,
                contact_id=contact_id,
                status="sent",
                token=token,
                attributes={},
                scheduled_at=now,
                sent_at=now,
                created_at=now,
            )
        )
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_score(conn, survey, score=9, now=now)
    with database.read() as conn:
        stored = conn.execute(select(func.count()).select_from(contact_attributes)).scalar_one()
        kept = conn.execute(select(func.count()).select_from(response_attributes)).scalar_one()
        tracemalloc.start()
        columns = ResponseColumns.load(conn, org.id)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(f"sent: {messages} identifies x {names} new trait names")
    print(f"contact attributes stored: {stored}")
    print(f"snapshot attributes kept with the answer: {kept}")
    print(f"analytics attribute columns after loading: {len(columns.attributes)}")
    print(f"memory allocated by loading (peak): {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
