"""One export into a directory: a file per table, all rows or those changed since a time or
since the last incremental export (whose state the directory keeps)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from promoter.exports.formats import Format, encode
from promoter.exports.pages import Read, pages
from promoter.exports.state import ExportState, TableMark, load_state, mark_for, save_state
from promoter.exports.tables import TABLES, ExportTable, Row, count_rows

#: ``progress(table, rows)`` -> a context giving ``advance(rows)`` while the table is read.
Progress = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]


class ExportError(Exception):
    """The export cannot be written (the directory, a file, the state)."""


@dataclass(frozen=True, slots=True)
class Written:
    table: str
    path: Path
    rows: int


def _no_progress(table: str, rows: int) -> AbstractContextManager[Callable[[int], None]]:
    return nullcontext(lambda n: None)


def file_name(table: str, fmt: Format, *, stamp: datetime | None) -> str:
    """``responses.parquet``; ``responses-20261206T153000Z.parquet`` for a partial export,
    so the files of successive exports sit side by side."""
    suffix = "" if stamp is None else f"-{stamp:%Y%m%dT%H%M%SZ}"
    return f"{table}{suffix}.{fmt}"


def export_to_directory(
    read: Read,
    *,
    organization_id: int,
    directory: Path,
    tables: Sequence[str],
    fmt: Format,
    now: datetime,
    since: datetime | None = None,
    incremental: bool = False,
    progress: Progress = _no_progress,
) -> list[Written]:
    """Write the tables' files; with ``incremental``, only the rows changed since the last
    incremental export into this directory, and advance its state once every file is
    written (a failed export leaves the state as it was: the next one reads the rows
    again). Raises :class:`ExportError`, or ``StateError`` for a bad state file."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {directory}: {exc.strerror or exc}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write to {directory}: permission denied")
    state = load_state(directory, organization_id=organization_id) if incremental else None
    mark = mark_for(now)
    partial = incremental or since is not None
    written = []
    for name in tables:
        table = TABLES[name]
        previous = state.tables.get(name) if state is not None else None
        table_since = previous.since if previous is not None else since
        revisit = previous.revisit if previous is not None else ()
        tally = _Tally()
        with read() as conn:
            total = count_rows(conn, table, organization_id=organization_id, since=table_since)
        path = directory / file_name(name, fmt, stamp=now if partial else None)
        if partial and path.exists():
            raise ExportError(f"{path} exists already: one export per second into a directory")
        with progress(name, total + len(revisit)) as advance:
            rows = pages(
                read, table, organization_id=organization_id, since=table_since, revisit=revisit
            )
            _write_file(path, encode(table, fmt, _watched(table, rows, tally, advance)))
        written.append(Written(name, path, tally.rows))
        if state is not None:
            state.tables[name] = TableMark(mark, tuple(tally.opened))
    if state is not None:
        _save(directory, state)
    return written


@dataclass(slots=True)
class _Tally:
    rows: int = 0
    #: Ids of the rows read in the table's open status.
    opened: list[int] = field(default_factory=list)


def _watched(
    table: ExportTable, rows: Iterable[list[Row]], tally: _Tally, advance: Callable[[int], None]
) -> Iterator[list[Row]]:
    """The pages as they are read, counted, noting the open rows' ids."""
    for page in rows:
        if table.open_status is not None:
            tally.opened.extend(row["id"] for row in page if row["status"] == table.open_status)
        tally.rows += len(page)
        advance(len(page))
        yield page


def _write_file(path: Path, pieces: Iterator[bytes]) -> None:
    """Write to a partial file, then rename it: a loader never sees half a file."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as out:
            for piece in pieces:
                out.write(piece)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _save(directory: Path, state: ExportState) -> None:
    try:
        save_state(directory, state)
    except OSError as exc:
        raise ExportError(f"cannot save the export state in {directory}: {exc}") from None
