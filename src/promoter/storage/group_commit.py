"""Group commit: concurrent write jobs share one transaction and one fsync.

SQLite has one writer at a time, and each commit waits for the disk. When several
requests want to write at once, the first to get the writer's turn (the leader)
takes every job waiting in the queue, runs each in a savepoint of one transaction
and commits once; the others find their job done when they get the turn. A job that
raises is rolled back to its savepoint alone. Nobody is answered before the commit.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

T = TypeVar("T")

#: Jobs one transaction takes at most, so one commit never waits on an unbounded queue.
MAX_JOBS_PER_COMMIT = 32


@dataclass(slots=True)
class _Job(Generic[T]):
    fn: Callable[[Connection], T]
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, begin: Callable[[], AbstractContextManager[Connection]]) -> None:
        self._begin = begin
        self._queue: deque[_Job[Any]] = deque()
        self._turn = threading.Lock()

    def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a committed transaction, possibly shared; return its result."""
        job: _Job[T] = _Job(fn)
        self._queue.append(job)
        with self._turn:
            while not job.done:
                self._commit_waiting()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[no-any-return]

    def _take(self) -> Iterator[_Job[Any]]:
        for _ in range(MAX_JOBS_PER_COMMIT):
            try:
                yield self._queue.popleft()
            except IndexError:
                return

    def _commit_waiting(self) -> None:
        jobs = list(self._take())
        try:
            with self._begin() as conn:
                if len(jobs) == 1:  # alone: its failure may roll back the whole transaction
                    jobs[0].result = jobs[0].fn(conn)
                    return
                for job in jobs:
                    try:
                        with conn.begin_nested():
                            job.result = job.fn(conn)
                    except Exception as exc:
                        job.error = exc
        except BaseException as exc:
            # The commit itself failed: nothing of this transaction was kept.
            for job in jobs:
                job.result, job.error = None, job.error or exc
        finally:
            for job in jobs:
                job.done = True
