"""Group commit: concurrent write jobs share one transaction and one fsync.

SQLite has one writer at a time, and each commit waits for the disk. When several
requests want to write at once, the first to get the writer's turn (the leader)
takes every job waiting in the queue, runs them in one transaction and commits
once; the others find their job done when they get the turn. Nobody is answered
before the commit. On PostgreSQL there may be several turns ("lanes"): each leader
takes the jobs waiting when it starts, and a job taken by another lane waits for
that lane's commit.

A transaction that fails for a reason that is no fault of its jobs (``retry``: a
deadlock or serialization failure on PostgreSQL, against another process) is run
again as a whole, a few times, before its jobs see the error.

Jobs submitted with the same ``apply_many`` function are handed to it together, so
that it can write their rows with one statement per table instead of one per job.
When several groups share a transaction each runs in a savepoint; if a group fails,
its jobs are retried one by one, so one bad job fails alone. A transaction of one
group (the usual case: every request's messages go through one function) needs no
savepoint: if the group fails, the transaction is rolled back and run again with each
job in a savepoint of its own.

A job may leave work for after the commit (:func:`after_commit`: a cache of what the
transaction wrote, say): it runs once the transaction has committed, and not at all if the
transaction, or the job's savepoint, is rolled back.

Coroutines submit with :meth:`GroupCommit.run_many_async`: their jobs wait on the event
loop, not in a thread each, and one thread at a time (per lane) commits them a batch at
a time. A request then costs no thread of its own, no hop to it and no lock to wake it:
the batch's thread takes the next batch as soon as it has committed one, while the loop
answers every job the last one carried.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import Connection

from promoter.storage.errors import is_unavailable

log = logging.getLogger("promoter.storage")

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - the item type of a batched job
R = TypeVar("R")

#: Jobs one transaction takes at most, so one commit never waits on an unbounded queue.
MAX_JOBS_PER_COMMIT = 32
#: Under load (its last batch had at least BUSY_BATCH jobs) a thread committing a loop's
#: jobs waits up to COMMIT_DELAY seconds, as PostgreSQL's ``commit_delay`` does, for the
#: senders it has just answered to come back, before it takes the next batch: then they
#: share its transaction, its fsync and its statements instead of waiting for the one
#: after. With one message per request (benchmarks/single_message.py) the batches of 16
#: at 32 connections became batches of 32, and the CPU per message fell by a sixth.
BUSY_BATCH = 8
COMMIT_DELAY = 0.0015
#: Times a transaction is tried when ``retry`` says its failure was a conflict.
ATTEMPTS = 5

ApplyMany = Callable[[Connection, Sequence[Any]], Sequence[Any]]
#: The connection of the transaction being run in this thread, and its after-commit work.
_AFTER_COMMIT: contextvars.ContextVar[tuple[Connection, list[Callable[[], None]]] | None] = (
    contextvars.ContextVar("promoter_after_commit", default=None)
)
#: What runs in a savepoint of its own: nothing, each group of jobs, each job.
_Isolation = Literal["none", "groups", "jobs"]


@dataclass(slots=True)
class _Job(Generic[R]):
    item: Any
    apply_many: ApplyMany
    done: bool = False
    result: R | None = None
    error: BaseException | None = None
    #: What a thread waiting for the job waits on (none for a coroutine's job).
    finished: threading.Event | None = None


@dataclass(slots=True)
class _LoopJobs:
    """The jobs of one event loop's coroutines waiting for a batch, and the batches
    being committed for them."""

    waiting: deque[tuple[_Job[Any], asyncio.Future[Any]]] = field(default_factory=deque)
    #: Threads committing the loop's jobs.
    committing: int = 0
    #: Held by the loop to add a job, by a committing thread to take a batch.
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: The jobs a committing thread waits for (0: none is), and set once they wait.
    gathering: int = 0
    full: threading.Event = field(default_factory=threading.Event)

    def senders(self, answered: int) -> int:
        """In a committing thread, before it answers ``answered`` jobs: the jobs to wait
        for once they are answered, a batch at most (those waiting, and as many again as
        are answered, whose senders will come back with their next ones)."""
        with self.lock:
            return min(MAX_JOBS_PER_COMMIT, len(self.waiting) + answered)

    def gather(self, wanted: int, seconds: float) -> None:
        """In a committing thread: wait up to ``seconds`` until ``wanted`` jobs wait."""
        with self.lock:
            if len(self.waiting) >= wanted:
                return
            self.full.clear()
            self.gathering = wanted
        self.full.wait(seconds)
        with self.lock:
            self.gathering = 0


def _answer_batch(batch: list[tuple[_Job[Any], asyncio.Future[Any]]]) -> None:
    """On the loop: each committed job's result (or error) to its coroutine."""
    for job, answer in batch:
        if answer.done():  # its request was cancelled meanwhile
            continue
        if job.error is not None:
            answer.set_exception(job.error)
        else:
            answer.set_result(job.result)


def _call_each(conn: Connection, fns: Sequence[Callable[[Connection], Any]]) -> list[Any]:
    return [fn(conn) for fn in fns]


def _never(_exc: BaseException) -> bool:
    return False


def after_commit(conn: Connection, fn: Callable[[], None]) -> bool:
    """Have ``fn`` run once ``conn``'s transaction has committed (not if it, or the
    savepoint the group commit runs this job in, is rolled back). Only transactions of a
    :class:`GroupCommit` take such work: elsewhere ``fn`` is dropped and False returned."""
    waiting = _after_commit_waiting(conn)
    if waiting is None:
        return False
    waiting.append(fn)
    return True


def _after_commit_waiting(conn: Connection) -> list[Callable[[], None]] | None:
    """The work waiting for ``conn``'s transaction to commit (None: not a group commit's)."""
    current = _AFTER_COMMIT.get()
    return current[1] if current is not None and current[0] is conn else None


class GroupCommit:
    """Runs write jobs in shared transactions opened by ``begin``; ``lanes`` transactions
    at most at once; a failure ``retry`` accepts makes the whole transaction run again;
    ``commit_delay``: see COMMIT_DELAY."""

    def __init__(
        self,
        begin: Callable[[], AbstractContextManager[Connection]],
        *,
        lanes: int = 1,
        retry: Callable[[BaseException], bool] = _never,
        commit_delay: float = COMMIT_DELAY,
    ) -> None:
        self._begin = begin
        self._commit_delay = commit_delay
        self._retry = retry
        self._queue: deque[_Job[Any]] = deque()
        self._turn = threading.BoundedSemaphore(lanes)
        self._lanes = lanes
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopJobs] = (
            weakref.WeakKeyDictionary()
        )

    def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a committed transaction, possibly shared; return its result."""
        # A fresh function per call: plain jobs are never merged with one another.
        result: T = self.run_many(fn, lambda conn, fns: _call_each(conn, fns))
        return result

    def run_many(self, item: I, apply_many: Callable[[Connection, Sequence[I]], Sequence[R]]) -> R:
        """Have ``apply_many(conn, items)`` handle ``item``, with whatever other items
        submitted with the same function are waiting; return this item's result."""
        job: _Job[R] = _Job(item, apply_many, finished=threading.Event())
        self._queue.append(job)
        while not job.done:
            with self._turn:
                while not job.done and self._queue:
                    self._commit_jobs(list(self._take()))
            # Not done and nothing queued: another lane took the job and is committing it.
            job.finished.wait()  # type: ignore[union-attr]
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    async def run_many_async(
        self,
        item: I,
        apply_many: Callable[[Connection, Sequence[I]], Sequence[R]],
        executor: Executor,
    ) -> R:
        """:meth:`run_many` for a coroutine: the item waits on the event loop, and the
        loop's waiting items are committed a batch at a time in a thread of ``executor``
        (as many batches at once as there are lanes). Returns once committed. Jobs of
        coroutines and of threads take turns at the database's writer; they do not share
        a transaction."""
        loop = asyncio.get_running_loop()
        jobs = self._loops.get(loop)
        if jobs is None:
            jobs = self._loops[loop] = _LoopJobs()
        answer: asyncio.Future[R] = loop.create_future()
        with jobs.lock:
            jobs.waiting.append((_Job(item, apply_many), answer))
            if jobs.gathering and len(jobs.waiting) >= jobs.gathering:
                jobs.full.set()
            start = jobs.committing < self._lanes
            if start:
                jobs.committing += 1
        if start:
            # Once the coroutines ready to run have added their jobs: they share the batch.
            loop.call_soon(self._start_committing, loop, jobs, executor)
        return await answer

    def _start_committing(
        self, loop: asyncio.AbstractEventLoop, jobs: _LoopJobs, executor: Executor
    ) -> None:
        try:
            executor.submit(self._commit_batches, loop, jobs)
        except RuntimeError as exc:  # the executor is shut down
            with jobs.lock:
                jobs.committing -= 1
                # A thread still committing takes the waiting jobs; with none, nobody will.
                refused = [] if jobs.committing else list(jobs.waiting)
                if refused:
                    jobs.waiting.clear()
            for _, answer in refused:
                if not answer.done():
                    answer.set_exception(exc)

    def _commit_batches(self, loop: asyncio.AbstractEventLoop, jobs: _LoopJobs) -> None:
        """In a thread: commit the loop's waiting jobs, a batch at a time, until none is
        left; the loop answers each batch's jobs while the next one commits."""
        wanted = 0
        while True:
            if wanted:
                jobs.gather(wanted, self._commit_delay)
            with jobs.lock:
                if not jobs.waiting:
                    jobs.committing -= 1
                    return
                count = min(MAX_JOBS_PER_COMMIT, len(jobs.waiting))
                batch = [jobs.waiting.popleft() for _ in range(count)]
            self._commit_jobs([job for job, _ in batch])
            wanted = jobs.senders(count) if count >= BUSY_BATCH else 0
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is left to answer
                loop.call_soon_threadsafe(_answer_batch, batch)

    def _take(self) -> Iterator[_Job[Any]]:
        for _ in range(MAX_JOBS_PER_COMMIT):
            try:
                yield self._queue.popleft()
            except IndexError:
                return

    def _commit_jobs(self, jobs: list[_Job[Any]]) -> None:
        """Commit ``jobs`` in one transaction (tried again on a conflict); each job ends
        done, with its result or its error."""
        groups: dict[ApplyMany, list[_Job[Any]]] = {}
        for job in jobs:
            groups.setdefault(job.apply_many, []).append(job)
        # Savepoints isolate the groups from one another; one group goes without, until
        # it fails: then each of its jobs gets one.
        isolate: _Isolation = "groups" if len(groups) > 1 else "none"
        try:
            attempt = 1
            while True:
                try:
                    self._commit(jobs, groups, isolate=isolate)
                    return
                except BaseException as exc:
                    # The transaction failed as a whole: nothing of it was kept.
                    if isolate == "none" and len(jobs) > 1 and self._job_fault(exc):
                        isolate = "jobs"  # run again, to find the job at fault
                        continue
                    if attempt < ATTEMPTS and self._retry(exc):
                        time.sleep(random.uniform(0, 0.005 * attempt))
                        attempt += 1
                        continue
                    for job in jobs:
                        job.result, job.error = None, job.error or exc
                    return
        finally:
            for job in jobs:
                job.done = True
                if job.finished is not None:
                    job.finished.set()

    def _job_fault(self, exc: BaseException) -> bool:
        """Whether ``exc`` may be one job's fault: not a conflict, not an outage."""
        return isinstance(exc, Exception) and not self._retry(exc) and not is_unavailable(exc)

    def _commit(
        self,
        jobs: list[_Job[Any]],
        groups: dict[ApplyMany, list[_Job[Any]]],
        *,
        isolate: _Isolation,
    ) -> None:
        for job in jobs:
            job.result = job.error = None
        waiting: list[Callable[[], None]] = []
        with self._begin() as conn:
            token = _AFTER_COMMIT.set((conn, waiting))
            try:
                for group in groups.values():
                    if isolate == "jobs":
                        for job in group:
                            _apply(conn, [job], isolated=True, retry=self._retry)
                    else:
                        _apply(conn, group, isolated=isolate == "groups", retry=self._retry)
            finally:
                _AFTER_COMMIT.reset(token)
        for fn in waiting:  # committed: a failure here must not run the jobs again
            try:
                fn()
            except Exception:
                log.exception("work after a commit failed")


def _apply(
    conn: Connection,
    group: list[_Job[Any]],
    *,
    isolated: bool,
    retry: Callable[[BaseException], bool],
) -> None:
    apply_many = group[0].apply_many
    if not isolated:  # the only group: its failure rolls back the whole transaction
        results = apply_many(conn, [job.item for job in group])
        for job, result in zip(group, results, strict=True):
            job.result = result
        return
    waiting = _after_commit_waiting(conn)
    before = len(waiting) if waiting is not None else 0
    try:
        with conn.begin_nested():
            results = apply_many(conn, [job.item for job in group])
    except Exception as exc:
        if waiting is not None:
            del waiting[before:]  # what the rolled-back savepoint wrote is gone
        if retry(exc):  # no job's fault: the whole transaction runs again
            raise
        if conn.invalidated or is_unavailable(exc):
            # The database went away (or cannot write now): no job's fault either, and
            # nothing more can run on this transaction; every job gets the outage.
            raise
        if len(group) == 1:
            group[0].error = exc
            return
        for job in group:  # find the job that failed; the others still succeed
            _apply(conn, [job], isolated=True, retry=retry)
        return
    for job, result in zip(group, results, strict=True):
        job.result = result
