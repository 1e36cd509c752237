"""docs/scaling.md's table of the schema on Citus matches storage/tables.py.

Every table is listed once, as distributed or reference; the doc's "carries
organization_id" and "primary key today" say what the metadata says; and the counts in
the summary under the table are the table's own.
"""

from __future__ import annotations

import re
from pathlib import Path

from promoter.storage.tables import metadata

DOC = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"
START, END = "<!-- citus-tables:start -->", "<!-- citus-tables:end -->"
KINDS = {"distributed", "reference"}


def _rows() -> dict[str, list[str]]:
    text = DOC.read_text()
    assert START in text and END in text, "the Citus table's markers are missing"
    block = text.split(START, 1)[1].split(END, 1)[0]
    rows: dict[str, list[str]] = {}
    for line in block.strip().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`([a-z_]+)`", cells[0])
        if match is None:
            continue  # the header and its rule
        name = match.group(1)
        assert name not in rows, f"{name} is listed twice"
        assert len(cells) == 5, f"{name}: expected 5 cells, got {len(cells)}"
        rows[name] = cells[1:]
    return rows


def test_every_table_is_listed_once_with_its_kind() -> None:
    rows = _rows()
    assert set(rows) - set(metadata.tables) == set(), "listed tables that do not exist"
    assert set(metadata.tables) - set(rows) == set(), "tables missing from docs/scaling.md"
    for name, (kind, *_rest) in rows.items():
        assert kind in KINDS, f"{name}: {kind!r} is not one of {sorted(KINDS)}"


def test_carries_organization_id_matches_the_columns() -> None:
    for name, (_kind, carries, _pk, _change) in _rows().items():
        answer = carries.strip("*").split()[0].strip("*")
        assert answer in ("yes", "no"), f"{name}: {carries!r}"
        has = "organization_id" in metadata.tables[name].c
        assert (answer == "yes") == has, f"{name}: the doc says {answer}, the table {has}"


def test_primary_keys_match() -> None:
    for name, (_kind, _carries, pk, _change) in _rows().items():
        documented = re.findall(r"`([a-z_]+)`", pk)
        actual = [column.name for column in metadata.tables[name].primary_key.columns]
        assert documented == actual, f"{name}: the doc says {documented}, the table {actual}"


def test_the_summary_counts_are_the_tables() -> None:
    rows = _rows()
    text = DOC.read_text()
    carrying = sum("organization_id" in table.c for table in metadata.tables.values())
    match = re.search(r"(\d+) of the (\d+) tables already carry `organization_id`", text)
    assert match is not None
    assert (int(match.group(1)), int(match.group(2))) == (carrying, len(metadata.tables))
    distributed = [
        name
        for name, (kind, *_cells) in rows.items()
        if kind == "distributed" and name != "organizations"
    ]
    without = [
        name
        for name in distributed
        if "organization_id" not in metadata.tables[name].primary_key.columns
    ]
    match = re.search(r"(\d+) of the (\d+) distributed tables besides", text)
    assert match is not None
    assert (int(match.group(1)), int(match.group(2))) == (len(without), len(distributed))
