"""The database goes away under load: PostgreSQL restarted, the SQLite disk full.

Senders post batches to /v1/batch without pause and retry whatever was not answered
200, as Segment's clients do. While the fault lasts the server must answer 503 with
Retry-After (never 500) and stay up; once it clears, every batch is accepted, and each
message is stored exactly once.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from promoter.storage.engine import Database
from promoter.storage.migrate import upgrade
from tests.conftest import Org, make_org
from tests.credentials import basic
from tests.e2e.conftest import HTTP_TIMEOUT, ServerProcess
from tests.e2e.postgres_cluster import private_cluster
from tests.e2e.proxy import Relay
from tests.e2e.stored import stored
from tests.figures import record

pytestmark = [pytest.mark.e2e, pytest.mark.alone]

SENDERS = 3
MESSAGES = 20
#: Bound on the whole exchange once the fault has cleared.
SEND_TIMEOUT = 120.0
#: Pause of a sender after a 503 (the server asks for 5 s; the test is in a hurry).
RETRY_PAUSE = 0.2


def make_batches(count: int, prefix: str, *, padding: int = 0) -> list[list[dict[str, Any]]]:
    """Batches of one identify and MESSAGES - 1 tracks, every messageId unique."""
    batches = []
    for b in range(count):
        user = f"{prefix}-user-{b % 11}"
        batch: list[dict[str, Any]] = [
            {
                "type": "identify",
                "userId": user,
                "messageId": f"{prefix}-{b}-0",
                "traits": {"email": f"{user}@example.com", "batch": b},
            }
        ]
        batch += [
            {
                "type": "track",
                "userId": user,
                "event": "Tick",
                "messageId": f"{prefix}-{b}-{m}",
                "properties": {"batch": b, "n": m, "note": "x" * padding},
            }
            for m in range(1, MESSAGES)
        ]
        batches.append(batch)
    return batches


@dataclass
class Traffic:
    """What the senders saw, answer by answer."""

    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    acknowledged: set[int] = field(default_factory=set)
    accepted_at: list[float] = field(default_factory=list)
    bad_answers: list[str] = field(default_factory=list)
    last_refusal: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class Senders:
    """SENDERS threads posting batches until each is answered 200 (or time runs out)."""

    def __init__(self, url: str, org: Org, batches: list[list[dict[str, Any]]]) -> None:
        self.url = url
        self.headers = {"Content-Type": "application/json", **basic(org.key)}
        self.batches = batches
        self.todo: queue.Queue[int] = queue.Queue()
        for index in range(len(batches)):
            self.todo.put(index)
        self.traffic = Traffic()
        self.threads = [threading.Thread(target=self._send, daemon=True) for _ in range(SENDERS)]
        self.deadline = 0.0

    def start(self) -> None:
        self.deadline = time.monotonic() + SEND_TIMEOUT
        for thread in self.threads:
            thread.start()

    def wait_for(self, acknowledged: int) -> None:
        while len(self.traffic.acknowledged) < acknowledged:
            assert time.monotonic() < self.deadline, "the senders are stuck"
            assert not self.traffic.bad_answers, self.traffic.bad_answers
            time.sleep(0.01)

    def join(self) -> Traffic:
        for thread in self.threads:
            thread.join(SEND_TIMEOUT)
            assert not thread.is_alive(), "a sender thread is stuck"
        return self.traffic

    def _send(self) -> None:
        traffic = self.traffic
        with httpx2.Client(base_url=self.url, timeout=HTTP_TIMEOUT, headers=self.headers) as http:
            while time.monotonic() < self.deadline:
                try:
                    index = self.todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    response = http.post(
                        "/v1/batch", content=orjson.dumps({"batch": self.batches[index]})
                    )
                except httpx2.TransportError:
                    with traffic.lock:
                        traffic.transport_errors += 1
                    self.todo.put(index)
                    continue
                with traffic.lock:
                    traffic.statuses[response.status_code] += 1
                    if response.status_code == 200:
                        traffic.acknowledged.add(index)
                        traffic.accepted_at.append(time.monotonic())
                        continue
                    now = time.monotonic()
                    traffic.last_refusal = now
                    if not _is_clear_refusal(response):
                        traffic.bad_answers.append(f"{response.status_code} {response.text}")
                self.todo.put(index)
                time.sleep(RETRY_PAUSE)


def seconds_to_recover(traffic: Traffic, cleared_at: float) -> float:
    """From the end of the fault to the next batch answered 200."""
    after = [t for t in traffic.accepted_at if t >= cleared_at]
    assert after, "nothing was accepted after the fault cleared"
    return round(min(after) - cleared_at, 2)


def _is_clear_refusal(response: httpx2.Response) -> bool:
    """503, Retry-After, and Segment's error shape naming the database."""
    if response.status_code != 503 or response.headers.get("Retry-After") != "5":
        return False
    body = response.json()
    return body.get("code") == "unavailable" and "database" in body.get("message", "")


def assert_recovered(traffic: Traffic, batches: int, output: str, code: int | None) -> None:
    """Only 200s and clear 503s were answered, every batch was accepted in the end, and
    the server logged no exception and stopped cleanly."""
    assert traffic.bad_answers == [], traffic.bad_answers[:3]
    assert set(traffic.statuses) <= {200, 503}, traffic.statuses
    assert traffic.acknowledged == set(range(batches))
    assert "Traceback" not in output, output
    assert code in (0, -15), output


def check_stored(database: Database, org: Org, batches: list[list[dict[str, Any]]]) -> None:
    """Every message stored, every track with exactly one event."""
    processed, per_event = stored(database, org)
    sent = {m["messageId"] for batch in batches for m in batch}
    tracks = {m["messageId"] for batch in batches for m in batch if m["type"] == "track"}
    assert processed == sent, f"{len(sent - processed)} messages lost"
    assert set(per_event) == tracks, f"{len(tracks - set(per_event))} events lost"
    assert max(per_event.values()) == 1, "an event stored twice"


def replay(url: str, org: Org, batches: list[list[dict[str, Any]]]) -> None:
    """Everything again, as a client that never got its answers: all duplicates."""
    headers = {"Content-Type": "application/json", **basic(org.key)}
    with httpx2.Client(base_url=url, timeout=HTTP_TIMEOUT, headers=headers) as http:
        for batch in batches:
            answer = http.post("/v1/batch", content=orjson.dumps({"batch": batch}))
            assert answer.status_code == 200, answer.text
            assert answer.json()["accepted"] == 0, answer.json()
            assert answer.json()["duplicates"] == MESSAGES


def test_postgresql_restart_under_load(
    backend: str, database_url: str, database: Database, org: Org, tmp_path: Path
) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL only: a SQLite database is a file of the server's own")
    url = make_url(database_url)
    relay = Relay((url.host or "127.0.0.1", url.port or 5432))
    relay.start()
    server = ServerProcess(url.set(port=relay.port).render_as_string(hide_password=False), tmp_path)
    server.start()
    batches = make_batches(240, "pg")
    outage_seconds = 3.0
    try:
        senders = Senders(server.url, org, batches)
        senders.start()
        senders.wait_for(40)
        with relay.outage():
            cut_at = time.monotonic()
            time.sleep(0.5)
            with httpx2.Client(base_url=server.url, timeout=HTTP_TIMEOUT) as http:
                health = http.get("/health")
            time.sleep(outage_seconds - 0.5)
        back_at = time.monotonic()
        traffic = senders.join()
        with httpx2.Client(base_url=server.url, timeout=HTTP_TIMEOUT) as http:
            health_after = http.get("/health")
        replay(server.url, org, batches)
    finally:
        code = server.stop()
        relay.stop()
    output = server.output()

    assert health.status_code == 503 and health.headers["Retry-After"] == "5", health.text
    assert health_after.status_code == 200, health_after.text
    assert_recovered(traffic, len(batches), output, code)
    assert traffic.statuses[503] > 0, "the outage was not noticed"
    check_stored(database, org, batches)
    assert traffic.last_refusal is not None
    record(
        "postgresql-restart",
        backend,
        batches=len(batches),
        messages=len(batches) * MESSAGES,
        outage_seconds=outage_seconds,
        connections_cut=relay.cut,
        answers_200=traffic.statuses[200],
        answers_503=traffic.statuses[503],
        answers_other=sum(n for s, n in traffic.statuses.items() if s not in (200, 503)),
        transport_errors=traffic.transport_errors,
        seconds_to_first_200_after_outage=seconds_to_recover(traffic, back_at),
        messages_lost=0,
        messages_stored_twice=0,
        seconds_refusing=round(traffic.last_refusal - cut_at, 2),
    )


def test_postgresql_crash_and_restart_under_load(backend: str, tmp_path: Path) -> None:
    """A PostgreSQL server of the test's own is stopped as by a crash (no checkpoint) and
    started again, crash recovery included, while batches arrive."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    with private_cluster() as cluster:
        admin = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE promoter"))
        admin.dispose()
        url = make_url(cluster.url).set(database="promoter").render_as_string(False)
        database = Database.from_url(url)
        upgrade(database.engine)
        org = make_org(database, "Crash Inc.")
        server = ServerProcess(url, tmp_path)
        server.start()
        batches = make_batches(240, "crash")
        try:
            senders = Senders(server.url, org, batches)
            senders.start()
            senders.wait_for(40)
            cluster.crash()
            down_at = time.monotonic()
            with httpx2.Client(base_url=server.url, timeout=HTTP_TIMEOUT) as http:
                health = http.get("/health")
            time.sleep(2)  # a server that takes a while to come back
            cluster.start()  # crash recovery, then accepting connections
            back_at = time.monotonic()
            traffic = senders.join()
            replay(server.url, org, batches)
        finally:
            code = server.stop()
        output = server.output()
        database.engine.dispose()  # connections from before the crash are gone anyway
        database = Database.from_url(url)
        check_stored(database, org, batches)
        database.dispose()

    assert health.status_code == 503 and health.headers["Retry-After"] == "5", health.text
    assert_recovered(traffic, len(batches), output, code)
    assert traffic.statuses[503] > 0, "the crash was not noticed"
    record(
        "postgresql-crash-restart",
        backend,
        batches=len(batches),
        messages=len(batches) * MESSAGES,
        seconds_down=round(back_at - down_at, 2),
        answers_200=traffic.statuses[200],
        answers_503=traffic.statuses[503],
        answers_other=sum(n for s, n in traffic.statuses.items() if s not in (200, 503)),
        transport_errors=traffic.transport_errors,
        seconds_to_first_200_after_restart=seconds_to_recover(traffic, back_at),
        messages_lost=0,
        messages_stored_twice=0,
    )


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` at ``path``: a disk that fills up quickly."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small disk here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    """Write zeros until the disk refuses more; the file that took the space."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    # Unbuffered: a buffered file would try to write its refused rest again on close.
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError:
            pass
    return filler


def test_sqlite_disk_full(backend: str, tmp_path: Path) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite only: the database file is on the server's own disk")
    with small_disk(tmp_path / "disk", "24m") as disk:
        url = f"sqlite:///{disk / 'promoter.sqlite3'}"
        database = Database.from_url(url)
        upgrade(database.engine)
        org = make_org(database, "Full Disk Inc.")
        server = ServerProcess(url, tmp_path)
        server.start()
        before = make_batches(20, "before", padding=200)
        during = make_batches(60, "during", padding=2_000)
        try:
            first = Senders(server.url, org, before)
            first.start()
            first.join()
            filler = fill(disk)
            senders = Senders(server.url, org, during)
            senders.start()
            deadline = time.monotonic() + SEND_TIMEOUT
            while senders.traffic.statuses[503] < 10:  # refused for a while
                assert time.monotonic() < deadline, senders.traffic
                assert not senders.traffic.bad_answers, senders.traffic.bad_answers[:3]
                time.sleep(0.05)
            with httpx2.Client(base_url=server.url, timeout=HTTP_TIMEOUT) as http:
                health = http.get("/health")
            accepted_while_full = len(senders.traffic.acknowledged)
            filler.unlink()
            freed_at = time.monotonic()
            traffic = senders.join()
            replay(server.url, org, before + during)
        finally:
            code = server.stop()
        output = server.output()
        with database.read() as conn:
            integrity = conn.execute(text("PRAGMA integrity_check")).scalar_one()
        check_stored(database, org, before + during)
        database.engine.dispose()

    assert_recovered(traffic, len(during), output, code)
    assert integrity == "ok"
    assert health.status_code == 200, "reads still work on a full disk"
    record(
        "sqlite-disk-full",
        backend,
        disk_size="24 MB tmpfs",
        batches=len(before) + len(during),
        messages=(len(before) + len(during)) * MESSAGES,
        batches_accepted_while_full=accepted_while_full,
        answers_200=traffic.statuses[200],
        answers_503=traffic.statuses[503],
        transport_errors=traffic.transport_errors,
        seconds_to_first_200_after_space_freed=seconds_to_recover(traffic, freed_at),
        integrity_check=integrity,
        messages_lost=0,
        messages_stored_twice=0,
    )
