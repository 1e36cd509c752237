"""``promoter export``: an organization's tables as Parquet or CSV files for a warehouse."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click

from promoter.cli.common import open_database, settings_from_env
from promoter.domain.timestamps import parse_timestamp
from promoter.exports.formats import FORMATS, Format, parquet_available
from promoter.exports.runs import ExportError, Progress, export_to_directory
from promoter.exports.state import STATE_FILE, StateError
from promoter.exports.tables import TABLES
from promoter.orgs.service import NotFound, get_organization
from promoter.storage.migrate import upgrade


def _tables(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in TABLES]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown table {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(TABLES)}",
            param_hint="--tables",
        )
    return list(dict.fromkeys(names))


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = parse_timestamp(value)
    if parsed is None:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date or date-time (e.g. 2026-12-01T00:00:00Z)",
            param_hint="--since",
        )
    return parsed


def _progress(quiet: bool) -> Progress:
    @contextmanager
    def bar(table: str, rows: int) -> Iterator[Callable[[int], None]]:
        if quiet:
            yield lambda n: None
            return
        with click.progressbar(length=rows, label=f"{table:<9}", file=sys.stderr) as shown:
            yield shown.update

    return bar


@click.command()
@click.argument("org_id", type=int)
@click.option(
    "--to",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the files (created if missing).",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="parquet", show_default=True)
@click.option(
    "--tables",
    default=",".join(TABLES),
    show_default=True,
    help="Comma-separated tables to export.",
)
@click.option("--since", help="Only rows changed at or after this ISO 8601 time (UTC if bare).")
@click.option(
    "--incremental",
    is_flag=True,
    help=f"Only rows changed since the last incremental export into DIR (kept in {STATE_FILE}).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def export(
    org_id: int,
    directory: Path,
    fmt: Format,
    tables: str,
    since: str | None,
    incremental: bool,
    quiet: bool,
) -> None:
    """Write organization ORG_ID's tables to files in DIR, one per table, for loading
    into a warehouse (see docs/export.md).

    \b
    Examples:
      promoter export 1 --to exports/
      promoter export 1 --to exports/ --format csv --tables responses,contacts
      promoter export 1 --to exports/ --incremental
    """
    names = _tables(tables)
    started = _since(since)
    if started is not None and incremental:
        raise click.UsageError("give --since or --incremental, not both")
    if fmt == "parquet" and not parquet_available():
        raise click.UsageError(
            "Parquet needs pyarrow: pip install 'promoter[warehouse]' (or use --format csv)"
        )
    database = open_database(settings_from_env())
    try:
        upgrade(database.engine)
        with database.read() as conn:
            get_organization(conn, organization_id=org_id)
        written = export_to_directory(
            database.read,
            organization_id=org_id,
            directory=directory,
            tables=names,
            fmt=fmt,
            now=datetime.now(UTC),
            since=started,
            incremental=incremental,
            progress=_progress(quiet),
        )
    except (NotFound, ExportError, StateError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        database.dispose()
    for item in written:
        click.echo(f"{item.table}: {item.rows} rows to {item.path}")
