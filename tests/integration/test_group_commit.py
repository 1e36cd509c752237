"""Write jobs through Database.run_write: concurrent jobs share commits, never results."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Connection, event, func, insert, select

from promoter.storage.dialect import insert_for
from promoter.storage.engine import Database
from promoter.storage.errors import DATABASE_UNAVAILABLE
from promoter.storage.group_commit import (
    BUSY_BATCH,
    MAX_JOBS_PER_COMMIT,
    GroupCommit,
    after_commit,
)
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


def _queued_together(gc: GroupCommit, calls: list[Callable[[], object]]) -> list[object]:
    """Run ``calls`` on threads so that all of them wait in one queue, then let one lead."""
    outcomes: list[object] = [None] * len(calls)

    def call(i: int) -> None:
        try:
            outcomes[i] = calls[i]()
        except Exception as exc:
            outcomes[i] = exc

    with gc._turn:  # hold the turn until every job is queued
        threads = [threading.Thread(target=call, args=(i,)) for i in range(len(calls))]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(gc._queue) < len(calls) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(gc._queue) == len(calls)
    for thread in threads:
        thread.join(10)
    return outcomes


def test_items_of_one_function_are_applied_together(database: Database) -> None:
    batches: list[list[str]] = []

    def apply_many(conn: Connection, keys: Sequence[str]) -> list[str]:
        batches.append(list(keys))
        for key in keys:
            if key == "bad":
                raise RuntimeError("bad item")
            conn.execute(insert(instance_settings).values(key=key, value="v"))
        return [f"stored {k}" for k in keys]

    gc = GroupCommit(database.write)
    keys = ["a", "b", "bad", "c"]
    outcomes = _queued_together(
        gc,
        [lambda k=k: gc.run_many(k, apply_many) for k in keys],  # type: ignore[misc]
    )
    assert outcomes[:2] == ["stored a", "stored b"] and outcomes[3] == "stored c"
    assert isinstance(outcomes[2], RuntimeError)
    # All four were tried at once, then one by one to isolate the failure.
    assert sorted(batches[0]) == sorted(keys)
    assert sorted(map(tuple, batches[1:])) == [("a",), ("b",), ("bad",), ("c",)]
    assert _keys(database) == {"a", "b", "c"}


def test_plain_jobs_share_a_commit_but_not_a_call(database: Database) -> None:
    gc = GroupCommit(database.write)
    outcomes = _queued_together(gc, [lambda i=i: gc.run(_put(f"p{i}")) for i in range(5)])  # type: ignore[misc]
    assert sorted(outcomes) == [f"p{i}" for i in range(5)]  # type: ignore[type-var]
    assert _keys(database) == {f"p{i}" for i in range(5)}


def _store_all(conn: Connection, keys: Sequence[str]) -> list[str]:
    for key in keys:
        conn.execute(insert(instance_settings).values(key=key, value="v"))
    return [f"stored {k}" for k in keys]


def test_batched_jobs_from_threads_share_one_commit_on_both_databases(
    database: Database,
) -> None:
    commits: list[int] = []
    event.listen(database.engine, "commit", lambda conn: commits.append(1))
    keys = [f"t{i}" for i in range(8)]
    outcomes = _queued_together(
        database._group,
        [lambda k=k: database.run_many(k, _store_all) for k in keys],  # type: ignore[misc]
    )
    assert outcomes == [f"stored {k}" for k in keys]
    assert len(commits) == 1
    assert _keys(database) == set(keys)


def _statements(database: Database) -> list[str]:
    """The SQL each cursor of ``database`` runs from now on."""
    seen: list[str] = []
    event.listen(
        database.engine,
        "before_cursor_execute",
        lambda _conn, _cursor, statement, *_: seen.append(statement),
    )
    return seen


def test_one_function_s_jobs_share_a_transaction_without_savepoints(
    database: Database,
) -> None:
    statements = _statements(database)
    keys = [f"n{i}" for i in range(6)]
    outcomes = _queued_together(
        database._group,
        [lambda k=k: database.run_many(k, _store_all) for k in keys],  # type: ignore[misc]
    )
    assert outcomes == [f"stored {k}" for k in keys]
    assert not [s for s in statements if "SAVEPOINT" in s.upper()]
    assert _keys(database) == set(keys)


def test_a_failed_group_without_savepoints_runs_again_job_by_job(database: Database) -> None:
    statements = _statements(database)
    batches: list[list[str]] = []

    def apply_many(conn: Connection, keys: Sequence[str]) -> list[str]:
        batches.append(list(keys))
        stored = _store_all(conn, keys)
        if "bad" in keys:  # fails after writing: its rows and the others' roll back
            raise RuntimeError("bad item")
        return stored

    keys = ["a", "bad", "b"]
    outcomes = _queued_together(
        database._group,
        [lambda k=k: database.run_many(k, apply_many) for k in keys],  # type: ignore[misc]
    )
    assert outcomes[0] == "stored a" and outcomes[2] == "stored b"
    assert isinstance(outcomes[1], RuntimeError)
    assert [sorted(b) for b in batches] == [sorted(keys), ["a"], ["bad"], ["b"]]
    # The second transaction put each job in a savepoint: the bad one's write undone.
    assert sum("ROLLBACK TO SAVEPOINT" in s.upper() for s in statements) == 1
    assert _keys(database) == {"a", "b"}


def test_an_outage_in_a_group_without_savepoints_is_every_job_s(database: Database) -> None:
    calls: list[int] = []

    def apply_many(conn: Connection, keys: Sequence[str]) -> list[str]:
        calls.append(len(keys))
        raise DATABASE_UNAVAILABLE[-1]("no connection free")

    outcomes = _queued_together(
        database._group,
        [lambda k=k: database.run_many(k, apply_many) for k in ("x", "y")],  # type: ignore[misc]
    )
    assert all(isinstance(o, DATABASE_UNAVAILABLE) for o in outcomes)
    assert calls == [2]  # not run again job by job: no job was at fault


@pytest.fixture
def other_process(database_url: str) -> Iterator[Database]:
    db = Database.from_url(database_url)
    try:
        yield db
    finally:
        db.dispose()


def test_a_deadlock_with_another_process_runs_the_transaction_again(
    database: Database, other_process: Database, backend: str
) -> None:
    if backend == "sqlite":
        pytest.skip("one writer at a time: SQLite transactions cannot deadlock")
    both_hold_one = threading.Barrier(2)
    attempts: Counter[str] = Counter()

    def put(conn: Connection, key: str, value: str) -> None:
        stmt = insert_for(conn, instance_settings).values(key=key, value=value)
        conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))

    def crossing(first: str, second: str) -> Callable[[Connection, Sequence[str]], list[str]]:
        def apply_many(conn: Connection, items: Sequence[str]) -> list[str]:
            attempts[first] += 1
            put(conn, first, first)
            if attempts[first] == 1:  # each holds its row, then wants the other's
                both_hold_one.wait(timeout=10)
            put(conn, second, first)
            return list(items)

        return apply_many

    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(database.run_many, "a", crossing("x", "y"))
        b = pool.submit(other_process.run_many, "b", crossing("y", "x"))
    assert (a.result(), b.result()) == ("a", "b")
    assert sorted(attempts.values()) == [1, 2]  # PostgreSQL chose one to roll back
    retried = next(k for k, n in attempts.items() if n == 2)
    with database.read() as conn:
        values = set(conn.execute(select(instance_settings.c.value)).scalars())
    assert values == {retried}  # the retried transaction committed last, whole


def test_a_connection_lost_in_a_shared_transaction_is_an_outage_for_every_job(
    database: Database, backend: str
) -> None:
    """The server drops the connection while a group of jobs runs in a savepoint: no job
    is to blame, so every job gets the outage (a 503 to its request), not whatever error
    the dead connection gives a retry of each job alone."""
    if backend != "postgresql":
        pytest.skip("a server connection to lose: PostgreSQL")
    group = GroupCommit(database.write)
    entered, release = threading.Event(), threading.Event()

    def hold(conn: Connection, items: Sequence[str]) -> list[str]:
        entered.set()
        release.wait(10)
        return list(items)

    def dropped(conn: Connection, items: Sequence[int]) -> list[int]:
        conn.exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")
        return list(items)

    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(group.run_many, "first", hold)
        assert entered.wait(10)  # the first job leads, alone, and waits in its transaction
        rest = [pool.submit(group.run_many, i, dropped) for i in range(4)]
        deadline = time.monotonic() + 10
        while len(group._queue) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)  # the others queue behind it: the next transaction takes them all
        release.set()
        assert first.result() == "first"
        for future in rest:
            with pytest.raises(DATABASE_UNAVAILABLE):
                future.result()
    assert database.run_write(lambda conn: conn.execute(select(func.count())).scalar()) == 1


# --- jobs from coroutines: they wait on the event loop, a thread commits them -------------


def test_coroutines_jobs_share_commits_and_failures_stay_alone(database: Database) -> None:
    """Coroutines submitting at once are committed together (one call, one commit), each
    gets its own result, and a failing item fails alone, on both databases."""
    batches: list[list[str]] = []
    commits: list[int] = []
    event.listen(database.engine, "commit", lambda conn: commits.append(1))

    def apply_many(conn: Connection, keys: Sequence[str]) -> list[str]:
        batches.append(list(keys))
        if "bad" in keys:
            raise RuntimeError("bad item")
        return _store_all(conn, keys)

    keys = [f"a{i}" for i in range(10)] + ["bad"] + [f"b{i}" for i in range(5)]

    async def submit_all() -> list[object]:
        return await asyncio.gather(
            *(database.run_many_async(k, apply_many, pool) for k in keys),
            return_exceptions=True,
        )

    with ThreadPoolExecutor(2) as pool:
        outcomes = asyncio.run(submit_all())
    for key, outcome in zip(keys, outcomes, strict=True):
        if key == "bad":
            assert isinstance(outcome, RuntimeError)
        else:
            assert outcome == f"stored {key}"
    # All were queued before the first batch started: tried together, then one by one.
    assert sorted(batches[0]) == sorted(keys)
    assert sorted(map(tuple, batches[1:])) == sorted((k,) for k in keys)
    assert len(commits) == 1
    assert _keys(database) == {k for k in keys if k != "bad"}


def test_coroutines_beyond_a_batch_are_committed_in_later_batches(database: Database) -> None:
    sizes: list[int] = []

    def apply_many(conn: Connection, keys: Sequence[str]) -> list[str]:
        sizes.append(len(keys))
        return _store_all(conn, keys)

    keys = [f"m{i}" for i in range(2 * MAX_JOBS_PER_COMMIT + 3)]

    async def submit_all() -> list[str]:
        return await asyncio.gather(*(database.run_many_async(k, apply_many, pool) for k in keys))

    with ThreadPoolExecutor(2) as pool:
        assert asyncio.run(submit_all()) == [f"stored {k}" for k in keys]
    assert sizes == [MAX_JOBS_PER_COMMIT, MAX_JOBS_PER_COMMIT, 3]
    assert _keys(database) == set(keys)


def test_a_cancelled_coroutine_does_not_stop_the_others(database: Database) -> None:
    """A request that goes away while its job waits: the others are answered and every
    job that was taken is committed (nothing is answered for it, so nothing is lost)."""
    release = threading.Event()

    def slow(conn: Connection, keys: Sequence[str]) -> list[str]:
        release.wait(10)
        return _store_all(conn, keys)

    async def scenario() -> list[str]:
        first = asyncio.ensure_future(database.run_many_async("c0", slow, pool))
        await asyncio.sleep(0.05)  # c0's batch is being committed; the next ones wait
        waiting = [asyncio.ensure_future(database.run_many_async(k, slow, pool)) for k in "xyz"]
        await asyncio.sleep(0)
        waiting[1].cancel()
        release.set()
        results = [await first, await waiting[0], await waiting[2]]
        with pytest.raises(asyncio.CancelledError):
            await waiting[1]
        return results

    with ThreadPoolExecutor(2) as pool:
        assert asyncio.run(scenario()) == ["stored c0", "stored x", "stored z"]
    assert _keys(database) == {"c0", "x", "y", "z"}


def test_coroutines_and_threads_take_turns_at_the_writer(database: Database) -> None:
    """Jobs from threads (the CLI, the worker) and from coroutines (the Segment
    endpoints) at once: every one is stored, none sees a locked database."""
    keys = [f"c{i}" for i in range(40)]

    async def coroutines() -> list[str]:
        return await asyncio.gather(*(database.run_many_async(k, _store_all, pool) for k in keys))

    with ThreadPoolExecutor(4) as pool, ThreadPoolExecutor(8) as threads:
        from_threads = [threads.submit(database.run_many, f"t{i}", _store_all) for i in range(40)]
        assert asyncio.run(coroutines()) == [f"stored {k}" for k in keys]
        assert [f.result() for f in from_threads] == [f"stored t{i}" for i in range(40)]
    assert _keys(database) == set(keys) | {f"t{i}" for i in range(40)}


def _senders(
    gc: GroupCommit, senders: int, rounds: int, stops_early: int = 0
) -> tuple[list[int], list[str]]:
    """``senders`` coroutines each submitting ``rounds`` jobs one after another, as clients
    sending their next message once the last is answered; ``stops_early`` of them stop
    after their first. The batches' sizes and every answer."""
    sizes: list[int] = []

    def apply_many(conn: Connection, keys: Sequence[str]) -> list[str]:
        sizes.append(len(keys))
        return _store_all(conn, keys)

    async def sender(n: int) -> list[str]:
        count = 1 if n < stops_early else rounds
        return [await gc.run_many_async(f"s{n}-{r}", apply_many, pool) for r in range(count)]

    async def everyone() -> list[str]:
        answers = await asyncio.gather(*(sender(n) for n in range(senders)))
        return [a for answer in answers for a in answer]

    with ThreadPoolExecutor(2) as pool:
        return sizes, asyncio.run(everyone())


def test_under_load_a_commit_waits_for_the_senders_it_answered(database: Database) -> None:
    """After a batch of at least BUSY_BATCH jobs the committing thread waits for the
    answered senders' next jobs (here up to 2 s, but no longer than they take), so they
    share one commit instead of trickling into several."""
    gc = GroupCommit(database.write, commit_delay=2.0)
    started = time.monotonic()
    sizes, answers = _senders(gc, senders=16, rounds=4)
    assert sizes == [16, 16, 16, 16]
    assert sorted(answers) == sorted(f"stored s{n}-{r}" for n in range(16) for r in range(4))
    # Woken by the jobs each time but the last, when nobody came back: one delay in all.
    assert time.monotonic() - started < 3 * 2.0
    assert len(_keys(database)) == 64


def test_a_commit_waits_no_longer_than_its_delay_for_senders_that_do_not_come_back(
    database: Database,
) -> None:
    gc = GroupCommit(database.write, commit_delay=0.2)
    sizes, answers = _senders(gc, senders=12, rounds=3, stops_early=2)
    assert sizes == [12, 10, 10]
    assert len(answers) == 2 + 10 * 3 == len(_keys(database))


def test_small_batches_are_committed_without_waiting(database: Database) -> None:
    """Below BUSY_BATCH jobs a batch is no sign of load: the next one is not held back."""
    gc = GroupCommit(database.write, commit_delay=60.0)
    started = time.monotonic()
    sizes, _ = _senders(gc, senders=BUSY_BATCH - 1, rounds=3)
    assert sizes == [BUSY_BATCH - 1] * 3
    assert time.monotonic() - started < 30


def test_work_after_a_commit_runs_only_for_what_was_committed(database: Database) -> None:
    """after_commit: run once the transaction has committed; dropped with a rolled-back
    transaction or a job's rolled-back savepoint; refused outside a group commit."""
    done: list[str] = []

    def apply_many(conn: Connection, keys: Sequence[str]) -> list[str]:
        for key in keys:
            conn.execute(insert(instance_settings).values(key=key, value="v"))
            assert after_commit(conn, lambda key=key: done.append(key))  # type: ignore[misc]
            assert key not in done  # not before the commit
            if key.startswith("bad"):
                raise RuntimeError(f"{key} failed")
        return list(keys)

    assert database.run_many("a", apply_many) == "a"
    assert done == ["a"]
    with pytest.raises(RuntimeError, match="bad failed"):
        database.run_many("bad", apply_many)
    assert done == ["a"]
    # Jobs sharing a transaction: the one that fails is run again alone in a savepoint,
    # and only its work is dropped.
    group = GroupCommit(database.write)
    outcomes = _queued_together(
        group,
        [lambda key=key: group.run_many(key, apply_many) for key in ("b", "bad2", "c")],  # type: ignore[misc]
    )
    assert outcomes[0] == "b" and outcomes[2] == "c"
    assert isinstance(outcomes[1], RuntimeError) and "bad2 failed" in str(outcomes[1])
    assert sorted(done) == ["a", "b", "c"]
    assert _keys(database) == {"a", "b", "c"}
    with database.write() as conn:
        assert not after_commit(conn, lambda: done.append("never"))
    assert "never" not in done
