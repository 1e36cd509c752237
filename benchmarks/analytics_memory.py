"""Bytes per response held by the analytics columns, on the analytics benchmark's data.

Generates the benchmark's data (``analytics_data.Dataset``: contacts with 10 snapshot
attributes, responses, events), loads it into a SQLite file, loads one organization's
``ResponseColumns``, asks for the contact index that contact-level questions build, and
prints each array's bytes, then the total with every snapshot attribute read. Bytes per
response times a million gives the memory per million responses.

    PYTHONPATH=src:benchmarks .venv/bin/python benchmarks/analytics_memory.py \
        [--contacts 20000] [--responses 100000] [--seed 20261129]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from analytics_data import ATTRIBUTE_NAMES, Dataset, load_sqlite

from promoter.analytics.response_columns import ResponseColumns
from promoter.storage.engine import Database

MB = 1 << 20


def per_million(nbytes: int, responses: int) -> str:
    return f"{nbytes / responses:6.1f} B/response, {nbytes / responses * 1e6 / MB:6.1f} MB/million"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261129)
    args = parser.parse_args()
    data = Dataset.generate(args.contacts, args.responses, args.seed)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "memory.sqlite3"
        load_sqlite(path, data, lambda line: None)
        database = Database.from_url(f"sqlite:///{path}")
        with database.read() as conn:
            columns = ResponseColumns.load(conn, data.organization_id)
            columns.events.refresh(conn)  # read on the first question about events
            columns.contact_dense()
            n = columns.size
            events = columns.events
            arrays = columns.arrays() | {
                f"events.{name}": getattr(events, name)
                for name in ("ids", "users", "names", "times")
            }
            for name, array in arrays.items():
                if not name.startswith("tag "):
                    print(f"{name:<20} {array.dtype!s:<8} {array.nbytes / n:6.2f} B/response")
            base = columns.nbytes
            for name in ATTRIBUTE_NAMES:
                columns.attribute(conn, name)
            full = columns.nbytes
        database.dispose()
    attribute = (full - base) / len(ATTRIBUTE_NAMES)
    event_bytes = columns.events.nbytes
    print(f"\n{n:,} responses, {len(columns.events.ids):,} events")
    print(f"responses:                  {per_million(base - event_bytes, n)}")
    print(f"each attribute:             {per_million(int(attribute), n)}")
    print(f"responses, all attributes:  {per_million(full - event_bytes, n)}")
    print(f"events:                     {per_million(event_bytes, n)}")
    print(f"all ({len(ATTRIBUTE_NAMES)} attributes, events): {per_million(full, n)}")


if __name__ == "__main__":
    main()
