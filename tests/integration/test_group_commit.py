"""Write jobs through Database.run_write: concurrent jobs share commits, never results."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Connection, func, insert, select

from promoter.storage.engine import Database
from promoter.storage.tables import instance_settings


def _put(key: str, fail: bool = False):  # type: ignore[no-untyped-def]
    def job(conn: Connection) -> str:
        conn.execute(insert(instance_settings).values(key=key, value="v"))
        if fail:
            raise RuntimeError(f"job {key} failed")
        return key

    return job


def _keys(database: Database) -> set[str]:
    with database.read() as conn:
        return set(conn.execute(select(instance_settings.c.key)).scalars())


def test_each_job_gets_its_own_result_and_failures_stay_alone(database: Database) -> None:
    start = threading.Barrier(16)

    def submit(i: int) -> str:
        start.wait()
        return database.run_write(_put(f"k{i}", fail=i % 5 == 0))

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(submit, i) for i in range(16)]
    for i, future in enumerate(futures):
        if i % 5 == 0:
            with pytest.raises(RuntimeError, match=f"job k{i} failed"):
                future.result()
        else:
            assert future.result() == f"k{i}"
    assert _keys(database) == {f"k{i}" for i in range(16) if i % 5}


def test_a_database_error_reaches_the_caller(database: Database) -> None:
    database.run_write(_put("taken"))
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        database.run_write(_put("taken"))
    assert _keys(database) == {"taken"}


def test_many_sequential_jobs(database: Database) -> None:
    for i in range(50):
        assert database.run_write(_put(f"s{i}")) == f"s{i}"
    with database.read() as conn:
        count = conn.execute(select(func.count()).select_from(instance_settings)).scalar_one()
    assert count == 50
