"""Columns saved to disk and mapped back: the same answers as the SQL and the reference,
writes made after the save are caught up, files that do not match are rebuilt and never
trusted, two engines share one folder, and no organization reads another's files."""

from __future__ import annotations

import json
import random
import shutil
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, select, update

from promoter.analytics.column_files import CURRENT, MANIFEST, ColumnFiles, default_directory
from promoter.analytics.engine import Analytics, AnalyticsCache
from promoter.analytics.filters import parse_filter
from promoter.analytics.query import NpsQuery, scope
from promoter.config import Settings
from promoter.contacts.writes import erase_contact
from promoter.services import analytics_of
from promoter.storage.engine import Database
from promoter.storage.tables import response_tags, responses
from tests.analytics import reference
from tests.analytics.asking import BY_PLAN, PLAIN, distributions
from tests.analytics.dataset import NAMES, NOW, build
from tests.analytics.test_against_reference import CATALOGUE, _resolved
from tests.analytics.writes import answer, identify
from tests.conftest import Org, make_org

QUESTIONS = [*PLAIN, BY_PLAN, {"where": {"attribute": "vip", "value": True}}, {"tags": ("urgent",)}]


def files_in(database: Database, folder: Path) -> ColumnFiles:
    files = ColumnFiles.for_database(database, str(folder))
    assert files is not None
    return files


def engine(database: Database, folder: Path) -> Analytics:
    """A fresh engine (as in a new process) over the files in ``folder``."""
    return Analytics(AnalyticsCache(database, background=False, files=files_in(database, folder)))


def mapped(database: Database, analytics: Analytics, organization_id: int) -> bool:
    """Whether the organization's columns in ``analytics`` are mapped from files."""
    assert analytics.cache is not None
    with database.read() as conn, analytics.cache.columns(conn, organization_id) as columns:
        assert columns is not None
        return isinstance(columns.created, np.memmap)


def agree(
    database: Database,
    analytics: Analytics,
    organization_id: int,
    questions: list[dict[str, Any]] = QUESTIONS,
) -> list[list[int]]:
    expected = distributions(database, Analytics(None), organization_id, questions)
    assert distributions(database, analytics, organization_id, questions) == expected
    return expected


def saved(database: Database, org: Org, folder: Path, seed: int = 3) -> None:
    """The organization's data, and its columns saved (with attribute columns) in ``folder``."""
    build(database, org.id, random.Random(seed), contacts_count=6, responses_count=15)
    first = engine(database, folder)
    agree(database, first, org.id)
    assert not mapped(database, first, org.id)


def test_mapped_columns_agree_with_brute_force(
    database: Database, org: Org, tmp_path: Path
) -> None:
    dataset = build(
        database, org.id, random.Random(20261129), contacts_count=12, responses_count=40
    )
    with database.read() as conn:
        loaded = reference.load(conn, org.id)
    queries = [
        NpsQuery(
            organization_id=org.id,
            where=parse_filter(_resolved(flt, dataset.campaign_ids)),
            since=NOW - timedelta(days=200),
            until=NOW + timedelta(days=1),
        )
        for flt in CATALOGUE
    ]
    saving = engine(database, tmp_path)
    with database.read() as conn:
        for name in NAMES:  # reads the attribute columns: saved with the rest
            exists = parse_filter({"attribute": name, "op": "exists"})
            query = NpsQuery(organization_id=org.id, where=exists, since=NOW - timedelta(days=200))
            saving.nps(conn, scope(conn, query, now=NOW))
    reading = engine(database, tmp_path)
    assert mapped(database, reading, org.id)
    with database.read() as conn:
        for query in queries:
            expected = reference.counts(reference.matching(loaded, query, NOW))[3]
            assert reading.nps(conn, scope(conn, query, now=NOW)).distribution == expected
    assert reading.cache is not None
    with database.read() as conn, reading.cache.columns(conn, org.id) as columns:
        assert columns is not None and isinstance(columns.attributes["plan"].code, np.memmap)


def test_writes_after_the_save_are_caught_up(database: Database, org: Org, tmp_path: Path) -> None:
    saved(database, org, tmp_path)
    before = agree(database, Analytics(None), org.id)
    # A new answer after a new attribute, a changed snapshot, a tag: all after the save.
    identify(database, org, "user-1", plan="Premium", vip=True)
    response_id = answer(database, org, "user-1", 10, NOW)
    with database.write() as conn:
        conn.execute(
            update(responses)
            .where(responses.c.id == response_id)
            .values(score=0, updated_at=NOW + timedelta(seconds=1))
        )
        conn.execute(
            response_tags.insert().values(
                organization_id=org.id, response_id=response_id, tag="urgent", created_at=NOW
            )
        )
    reading = engine(database, tmp_path)
    assert agree(database, reading, org.id) != before
    assert mapped(database, reading, org.id)
    # Erasing a contact deletes its answers (a new epoch): the files are not used.
    with database.write() as conn:
        assert erase_contact(conn, organization_id=org.id, user_id="user-1", now=NOW)
    after_erasure = engine(database, tmp_path)
    agree(database, after_erasure, org.id)
    assert not mapped(database, after_erasure, org.id)
    assert mapped(database, engine(database, tmp_path), org.id)  # saved again


def test_responses_deleted_behind_the_epoch_are_noticed(
    database: Database, org: Org, tmp_path: Path
) -> None:
    saved(database, org, tmp_path)
    with database.write() as conn:  # not through the service: the epoch stays
        oldest = select(responses.c.id).order_by(responses.c.id).limit(1).scalar_subquery()
        conn.execute(delete(responses).where(responses.c.id == oldest))
    reading = engine(database, tmp_path)
    agree(database, reading, org.id)
    assert not mapped(database, reading, org.id)


def _truncate(generation: Path) -> None:
    path = generation / "0.npy"
    path.write_bytes(path.read_bytes()[:-16])


def _flip(generation: Path) -> None:
    path = generation / "3.npy"  # the scores
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x05
    path.write_bytes(bytes(data))


def _manifest(key: str, value: Any) -> Any:
    def change(generation: Path) -> None:
        manifest = json.loads((generation / MANIFEST).read_text())
        manifest[key] = value
        (generation / MANIFEST).write_text(json.dumps(manifest))

    return change


def _lose(generation: Path) -> None:
    (generation / "1.npy").unlink()


def _garble(generation: Path) -> None:
    (generation / MANIFEST).write_text("{not json")


SPOILERS = {
    "truncated": _truncate,
    "changed": _flip,
    "missing": _lose,
    "garbled": _garble,
    "format": _manifest("format", 0),
    "revision": _manifest("revision", "0001"),
    "size": _manifest("size", 14),
    "newer": _manifest("newest", (NOW + timedelta(days=3650)).isoformat()),
}


def test_spoilt_files_are_rebuilt_not_trusted(
    database: Database, org: Org, tmp_path: Path, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the files are the same on both databases: checked once, on SQLite")
    saved(database, org, tmp_path)
    folder = files_in(database, tmp_path).folder(org.id)
    for name, spoil in SPOILERS.items():
        generation = folder / (folder / CURRENT).read_text()
        spoil(generation)
        reading = engine(database, tmp_path)
        agree(database, reading, org.id)
        assert not mapped(database, reading, org.id), name
        assert (folder / CURRENT).read_text() != generation.name, name  # saved again
        assert mapped(database, engine(database, tmp_path), org.id), name


def test_two_engines_share_one_folder(database: Database, org: Org, tmp_path: Path) -> None:
    saved(database, org, tmp_path)
    url = database.engine.url.render_as_string(hide_password=False)
    other_process = Database.from_url(url)
    try:
        engines = [engine(database, tmp_path), engine(other_process, tmp_path)]
        for analytics, db in zip(engines, (database, other_process), strict=True):
            assert mapped(db, analytics, org.id)
        identify(database, org, "user-9", plan="Premium")
        answer(database, org, "user-9", 7, NOW)
        failures: list[BaseException] = []

        def ask(analytics: Analytics, db: Database) -> None:
            try:
                agree(db, analytics, org.id, [{}, BY_PLAN])
                assert analytics.cache is not None
                with db.read() as conn, analytics.cache.columns(conn, org.id) as columns:
                    assert columns is not None
                    files_in(db, tmp_path).save(columns)  # both write at once
            except BaseException as error:
                failures.append(error)

        threads = [
            threading.Thread(target=ask, args=(a, db))
            for a, db in zip(engines, (database, other_process), strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        last = engine(other_process, tmp_path)
        agree(other_process, last, org.id, [{}, BY_PLAN])
        assert mapped(other_process, last, org.id)
    finally:
        other_process.dispose()


def test_organizations_never_read_each_others_files(
    database: Database, org: Org, tmp_path: Path, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("the folders are the same on both databases: checked once, on SQLite")
    other = make_org(database, "Globex")
    saved(database, org, tmp_path, seed=3)
    saved(database, other, tmp_path, seed=4)
    files = files_in(database, tmp_path)
    mine, theirs = files.folder(org.id), files.folder(other.id)
    assert mine != theirs
    # The other organization's folder made to hold this one's files: not used.
    shutil.rmtree(theirs)
    shutil.copytree(mine, theirs)
    reading = engine(database, tmp_path)
    agree(database, reading, other.id)
    assert not mapped(database, reading, other.id)
    assert mapped(database, reading, org.id)


def test_the_folder_comes_from_the_settings(database: Database, tmp_path: Path) -> None:
    url = database.engine.url
    if url.get_backend_name() == "sqlite":
        assert default_directory(url) == Path(str(url.database)).resolve().parent / (
            f"{Path(str(url.database)).name}-analytics"
        )
    assert ColumnFiles.for_database(database, "") is None
    chosen = analytics_of(Settings(analytics_cache_dir=str(tmp_path)), database)
    assert chosen.cache is not None and chosen.cache._files is not None
    assert chosen.cache._files.directory.parent == tmp_path
