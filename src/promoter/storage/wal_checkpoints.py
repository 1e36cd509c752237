"""SQLite's write-ahead log copied back into the database file by a thread of its own.

By default SQLite checkpoints in the commit that takes the log past 1,000 pages: that
writer copies the log's pages into the database file and fsyncs it before its caller
hears of the commit, while every other write waits for the writer. Under a stream of
single messages that was one commit in a few dozen, and about a tenth of the rate.
:class:`WalCheckpoints` runs SQLite's passive checkpoint on its own connection instead, a
few times a second while there are new commits: it never takes the write lock, so writers
go on appending to the log meanwhile, and SQLite starts the log again from its beginning
once a checkpoint has copied all of it. Commits stay as durable as before (the log is
fsynced at each, ``synchronous=FULL``). Writers' own checkpoints are left on, later
(``WRITER_CHECKPOINT_PAGES``), for when this thread cannot keep up or is not running.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

log = logging.getLogger("promoter.storage")

#: The log's size, in pages, at which a writer checkpoints in its own commit.
WRITER_CHECKPOINT_PAGES = 10_000
#: Seconds between two checkpoints while there are new commits.
EVERY_SECONDS = 0.1


class WalCheckpoints:
    """Checkpoints a SQLite file on a connection from ``connect``, in a thread started
    at the first :meth:`wrote` and stopped by :meth:`close`."""

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], *, every: float = EVERY_SECONDS
    ) -> None:
        self._connect = connect
        self._every = every
        self._wrote = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wrote(self) -> None:
        """A commit was made: the log has something to copy."""
        self._wrote.set()
        if self._thread is None:
            self._start()

    def close(self) -> None:
        """Stop the thread, once its checkpoint in progress (if any) is done."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
            self._wrote.set()
        if thread is not None:
            thread.join()
        with self._lock:  # a database used again after it was disposed checkpoints again
            self._stop.clear()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(
                target=self._run, name="promoter-wal-checkpoints", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = self._connect()
            while not self._stop.is_set():
                self._wrote.wait()
                if self._stop.is_set():
                    return
                self._wrote.clear()
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self._stop.wait(self._every)
        except sqlite3.Error as exc:  # the file went away, say: writers checkpoint alone
            log.warning("WAL checkpoints stopped, writers will checkpoint: %s", exc)
        finally:
            if conn is not None:
                conn.close()
