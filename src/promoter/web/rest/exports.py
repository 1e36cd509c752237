"""A table of the key's organization as a Parquet or CSV file, for loading into a warehouse:
/api/v2/export/{table} (see docs/export.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import StreamingResponse

from promoter.domain.timestamps import parse_timestamp
from promoter.exports.formats import MEDIA_TYPES, Format, ParquetUnavailable, encode
from promoter.exports.pages import pages
from promoter.exports.runs import file_name
from promoter.exports.state import mark_for
from promoter.exports.tables import TABLES
from promoter.web import threads
from promoter.web.rest.deps import OrgDep
from promoter.web.state import ServicesDep

router = APIRouter(prefix="/api/v2", tags=["export"])

TableName = Literal["contacts", "responses", "surveys", "events"]
assert set(get_args(TableName)) == set(TABLES)

#: The ``since`` to ask for next time, so successive downloads miss no change.
NEXT_SINCE = "X-Next-Since"


@router.get(
    "/export/{table}",
    summary="A table as a Parquet or CSV file",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file, streamed (see docs/export.md for its columns).",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in MEDIA_TYPES.values()
            },
            "headers": {
                NEXT_SINCE: {
                    "description": "The `since` to give next time: no change is missed.",
                    "schema": {"type": "string", "format": "date-time"},
                }
            },
        }
    },
)
async def export_table(
    services: ServicesDep,
    org: OrgDep,
    table: Annotated[TableName, Path(description="The table.")],
    format: Annotated[Format, Query(description="The file's format.")] = "parquet",
    since: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Only rows changed at or after this ISO 8601 time (UTC if bare).",
        ),
    ] = None,
) -> StreamingResponse:
    """Every row of the table, or those changed since ``since``; rows changed while it is
    read may come again in the next download (keep each id's latest)."""
    changed_since = None
    if since is not None:
        changed_since = parse_timestamp(since)
        if changed_since is None:
            raise HTTPException(400, f"since: {since!r} is not an ISO 8601 date or date-time.")
    now = datetime.now(UTC)
    exported = TABLES[table]
    rows = pages(services.database.read, exported, organization_id=org.id, since=changed_since)
    try:
        body = encode(exported, format, rows)
    except ParquetUnavailable as exc:
        raise HTTPException(400, f"format: {exc}.") from None
    name = file_name(table, format, stamp=now if changed_since is not None else None)
    return StreamingResponse(
        threads.iterate_in_thread(body),
        media_type=MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            NEXT_SINCE: mark_for(now).isoformat(),
        },
    )
