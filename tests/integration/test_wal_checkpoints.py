"""SQLite's log copied into the database file by the checkpoint thread, not by writers."""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from promoter.storage.engine import Database
from promoter.storage.wal_checkpoints import WRITER_CHECKPOINT_PAGES


@pytest.fixture
def file_database(tmp_path: Path) -> Iterator[Database]:
    database = Database.from_url(f"sqlite:///{tmp_path / 'checkpoints.sqlite3'}")
    with database.write() as conn:
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    try:
        yield database
    finally:
        database.dispose()


def _running(database: Database) -> bool:
    assert database.checkpoints is not None
    return database.checkpoints.running


def _rows_in_main_file(database_file: Path, copy: Path) -> int:
    """The rows a reader finds in the database file alone, without its log."""
    shutil.copyfile(database_file, copy)
    conn = sqlite3.connect(copy)
    try:
        return int(conn.execute("SELECT count(*) FROM notes").fetchone()[0])
    finally:
        conn.close()


def test_commits_reach_the_database_file_without_a_writer_checkpointing(
    file_database: Database, tmp_path: Path
) -> None:
    with file_database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == (
            WRITER_CHECKPOINT_PAGES
        )
    for n in range(50):  # a few pages: far below where a writer would checkpoint
        with file_database.write() as conn:
            conn.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": f"note {n}"})
    main_file = tmp_path / "checkpoints.sqlite3"
    deadline = time.monotonic() + 30
    while _rows_in_main_file(main_file, tmp_path / "copy.sqlite3") < 50:
        assert time.monotonic() < deadline, "the log was never copied into the file"
        time.sleep(0.05)
    assert _running(file_database)


def test_the_thread_stops_with_the_database_and_starts_again_if_it_is_used(
    file_database: Database,
) -> None:
    file_database.dispose()
    assert not _running(file_database)
    with file_database.write() as conn:
        conn.execute(text("INSERT INTO notes (body) VALUES ('after')"))
    assert _running(file_database)
    file_database.dispose()
    assert not _running(file_database)
