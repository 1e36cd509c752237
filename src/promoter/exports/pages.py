"""Reading a table for export: pages of rows by ascending id, each page in a read
transaction of its own, so a long export never holds one open."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy import Connection

from promoter.exports.tables import ExportTable, Row, page_ids, unchanged_ids

#: Rows read per transaction.
PAGE_ROWS = 2000

Read = Callable[[], AbstractContextManager[Connection]]


def pages(
    read: Read,
    table: ExportTable,
    *,
    organization_id: int,
    since: datetime | None,
    revisit: Sequence[int] = (),
    page_rows: int = PAGE_ROWS,
) -> Iterator[list[Row]]:
    """The organization's rows changed since ``since`` (``None``: all of them), then those
    of ``revisit`` (ids to read again whether changed or not) not read already.

    ``read`` opens a read transaction (``Database.read``).
    """
    after = 0
    while True:
        with read() as conn:
            ids = page_ids(
                conn,
                table,
                organization_id=organization_id,
                since=since,
                after_id=after,
                limit=page_rows,
            )
            if not ids:
                break
            rows = table.load(conn, organization_id, ids)
        after = ids[-1]
        if rows:
            yield rows
    if since is None:
        return
    wanted = sorted(set(revisit))
    for start in range(0, len(wanted), page_rows):
        chunk = wanted[start : start + page_rows]
        with read() as conn:
            ids = unchanged_ids(
                conn, table, organization_id=organization_id, since=since, ids=chunk
            )
            rows = table.load(conn, organization_id, ids) if ids else []
        if rows:
            yield rows
