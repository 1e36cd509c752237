"""The one place web code leaves the event loop: database reads and writes in a worker
thread (datasette's ``execute_fn`` / ``execute_write_fn``), and other blocking work."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from promoter.services import Services

P = ParamSpec("P")
T = TypeVar("T")


async def read(
    services: Services,
    fn: Callable[Concatenate[Connection, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """``fn(conn, *args, **kwargs)`` on a reading connection, in a worker thread."""

    def run() -> T:
        with services.database.read() as conn:
            return fn(conn, *args, **kwargs)

    return await run_in_threadpool(run)


async def write(
    services: Services,
    fn: Callable[Concatenate[Connection, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """``fn(conn, *args, **kwargs)`` in a write transaction, committed unless it raises
    (:meth:`~promoter.storage.engine.Database.run_write`), in a worker thread."""

    def run(conn: Connection) -> T:
        return fn(conn, *args, **kwargs)

    return await run_in_threadpool(services.database.run_write, run)


async def in_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Blocking work that is not one database call (password hashing, mail files, a
    function that opens its own transactions), in a worker thread."""
    return await run_in_threadpool(fn, *args, **kwargs)


async def in_pool(pool: Executor, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` in a thread of ``pool``: a leaner hop than :func:`in_thread`
    (anyio's limiter and cancel scopes cost more CPU than many a request's own work), for
    the Segment endpoints, which have threads of their own
    (:attr:`~promoter.services.Services.ingest_threads`)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, functools.partial(fn, *args, **kwargs))


def iterate_in_thread(rows: Iterator[T]) -> AsyncIterator[T]:
    """A blocking iterator (a streamed export) read in worker threads, a row at a time."""
    return iterate_in_threadpool(rows)
