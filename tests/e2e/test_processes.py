"""Two API processes (``promoter serve --processes 2``) and two ``promoter worker``s on one
PostgreSQL, under load from Segment's own library, with one API process and one worker
killed with SIGKILL mid-run.

Every message the library handed over is stored once, the supervisor replaces the killed
API process, and every contact gets its survey email, a duplicate only for what the
killed worker had in hand (docs/reliability.md: at most the batch in hand a kill).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import segment.analytics as analytics
from sqlalchemy import update

from promoter.storage.engine import Database
from promoter.storage.tables import deliveries, surveys
from tests.conftest import Org
from tests.e2e import test_survey_loop as loop
from tests.e2e.conftest import (
    HTTP_TIMEOUT,
    STARTUP_TIMEOUT,
    STOP_TIMEOUT,
    ServerProcess,
    free_port,
)
from tests.e2e.stored import stored
from tests.figures import record

pytestmark = [pytest.mark.e2e, pytest.mark.alone]

smtp = loop.smtp
processes = loop.processes
_close_segment_session = loop._close_segment_session

USERS = 100
TRACKS_A_USER = 3
BATCH_SIZE = 10


def api_processes(server: ServerProcess) -> list[int]:
    """The supervisor's API processes (its children but multiprocessing's tracker)."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return [
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def two_api_processes(processes: loop.Processes, backend: str) -> ServerProcess:
    """``promoter serve --processes 2 --no-worker`` on the test's database, not started."""
    if backend == "sqlite":
        pytest.skip("several API processes share a PostgreSQL database (one per SQLite file)")
    server = ServerProcess(
        processes.database_url,
        processes.workdir,
        env=lambda url: {"PROMOTER_EMAIL_URL": "file:unused-mail", "PROMOTER_BASE_URL": url},
        args=["--processes", "2", "--no-worker"],
    )
    processes.servers.append(server)
    return server


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_two_api_processes_and_two_workers_killed_mid_run_lose_and_repeat_nothing(
    processes: loop.Processes,
    smtp: Any,
    database: Database,
    backend: str,
    org: Org,
) -> None:
    mail = smtp(loop.Inbox(delay=0.005))
    server = two_api_processes(processes, backend)
    # The workers start (import the app) while the server does: they need only its URL.
    server.port = free_port()
    workers = [
        processes.worker(server, email_url=mail.url, args=["--batch-size", str(BATCH_SIZE)])
        for _ in range(2)
    ]
    # Three interpreters import the app, and at the end stop, on a busy machine.
    server.startup_timeout = 3 * STARTUP_TIMEOUT
    server.stop_timeout = 3 * STOP_TIMEOUT
    server.start(same_port=True)
    loop.wait_until(lambda: len(api_processes(server)) == 2, "two API processes")
    errors: list[Any] = []
    client = analytics.Client(
        write_key=org.key,
        host=server.url,
        on_error=lambda error, batch: errors.append((error, batch)),
        timeout=HTTP_TIMEOUT,
        upload_interval=0.02,
        upload_size=20,
        thread=2,
        max_queue_size=USERS * (TRACKS_A_USER + 1),
    )
    users = [f"user{i:03}" for i in range(USERS)]
    sent: list[str] = []
    tracks: list[str] = []
    for user in users:
        client.identify(user, {"email": f"{user}@example.com"}, message_id=f"i-{user}")
        sent.append(f"i-{user}")
    client.flush()  # every contact has its address before its first track

    def produce() -> None:
        for n in range(TRACKS_A_USER):
            for user in users:
                message_id = f"t{n}-{user}"
                client.track(user, "Order Completed", {"n": n}, message_id=message_id)
                tracks.append(message_id)
                time.sleep(0.002)

    producer = threading.Thread(target=produce, daemon=True)
    try:
        producer.start()
        loop.wait_until(lambda: len(tracks) >= USERS // 2, "the load to be under way")
        # The busier API process is the one most likely to hold the library's connections.
        victim = max(api_processes(server), key=cpu_ticks)
        os.kill(victim, signal.SIGKILL)
        mail.inbox.wait_for(USERS // 4)
        workers[0].kill()
        # At most: the other worker's batch in hand is counted too.
        in_flight = loop.count(
            database,
            deliveries,
            deliveries.c.status == "pending",
            deliveries.c.claimed_until.is_not(None),
        )
        producer.join(loop.WAIT_TIMEOUT)
        assert not producer.is_alive(), "the producer is stuck"
        client.flush()
    finally:
        client.join()
    sent += tracks

    processed, per_event = stored(database, org)
    assert errors == [], f"the library gave up on {len(errors)} batches: {errors[:3]}"
    missing = set(sent) - processed
    assert not missing, f"{len(missing)} messages lost, e.g. {sorted(missing)[:5]}"
    repeated = {m: n for m, n in per_event.items() if n != 1}
    assert not repeated, f"events stored more than once: {list(repeated.items())[:5]}"
    assert set(per_event) == set(tracks)
    # The killed worker's leases would expire after five minutes; expire them now. The
    # other worker records its batch in hand before it claims again.
    with database.write() as conn:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.status == "pending", deliveries.c.claimed_until.is_not(None))
            .values(claimed_until=None)
        )
    loop.wait_until(
        lambda: loop.count(database, deliveries, deliveries.c.status != "sent") == 0,
        "every survey to be sent",
    )
    # The supervisor replaced the killed API process.
    replaced = loop.wait_until(
        lambda: (pids := api_processes(server)) and len(pids) == 2 and victim not in pids,
        "the killed API process to be replaced",
    )
    assert replaced

    assert loop.count(database, surveys) == USERS  # one survey a contact, not one a track
    sent_to = Counter(r.to for r in mail.inbox.received)
    assert sorted(sent_to) == sorted(f"{u}@example.com" for u in users)
    duplicates = sum(n - 1 for n in sent_to.values())
    # docs/reliability.md: a killed worker resends at most the batch it had in hand.
    assert duplicates <= min(in_flight, BATCH_SIZE), (duplicates, in_flight)
    record(
        "processes-kill-9",
        backend,
        api_processes=2,
        workers=2,
        api_processes_killed=1,
        workers_killed=1,
        messages_sent=len(sent),
        messages_stored=len(processed),
        events_stored_twice=len(repeated),
        library_failures=len(errors),
        surveys=USERS,
        emails_sent=len(mail.inbox.received),
        duplicate_emails=duplicates,
        in_flight_at_worker_kill=in_flight,
        batch_size=BATCH_SIZE,
    )


def socket_inodes(pid: int) -> set[str]:
    """The sockets process ``pid`` holds (Linux's /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def tcp_sockets(port: int, state: str) -> set[str]:
    """The inodes of the IPv4 sockets on local ``port`` in ``state``."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            found.add(fields[9])
    return found


def established_on(pid: int, port: int) -> int:
    """Connections to ``port`` that process ``pid`` holds."""
    return len(socket_inodes(pid) & tcp_sockets(port, TCP_ESTABLISHED))


def listening(pids: list[int], port: int) -> list[str]:
    """The listening socket each of ``pids`` holds on ``port`` (one each, or it fails)."""
    sockets = [socket_inodes(pid) & tcp_sockets(port, TCP_LISTEN) for pid in pids]
    assert all(len(held) == 1 for held in sockets), sockets
    return [held.pop() for held in sockets]


TCP_ESTABLISHED, TCP_LISTEN = "01", "0A"
HOST = "127.0.0.1"  # where ServerProcess serves


def test_connections_spread_over_the_processes_and_signals_replace_add_and_remove_them(
    processes: loop.Processes, backend: str
) -> None:
    """docs/configuration.md: each API process accepts from a socket of its own, so
    connections opened at once go to every process, not to the first to wake; SIGHUP
    replaces the processes one at a time while requests go on; SIGTTIN and SIGTTOU add
    and remove one."""
    server = two_api_processes(processes, backend)
    server.startup_timeout = 2 * STARTUP_TIMEOUT
    server.stop_timeout = 2 * STOP_TIMEOUT
    server.start()
    first = loop.wait_until(lambda: len(pids := api_processes(server)) == 2 and pids, "2 processes")
    own = listening(first, server.port)
    assert len(set(own)) == 2  # a socket each, not both sockets in each

    # 32 connections opened at once, then a request on each: every process holds at
    # least 4 (fewer would happen about once in 400,000 runs of the kernel's hash).
    clients = [
        socket.create_connection((HOST, server.port), timeout=HTTP_TIMEOUT) for _ in range(32)
    ]
    try:
        for client in clients:
            client.sendall(b"GET /health HTTP/1.1\r\nHost: promoter\r\n\r\n")
        for client in clients:
            assert client.recv(4096).startswith(b"HTTP/1.1 200 ")
        held = {pid: established_on(pid, server.port) for pid in first}
        assert sum(held.values()) == 32 and min(held.values()) >= 4, held
    finally:
        for client in clients:
            client.close()

    # Requests go on, each on a new connection, while the processes are replaced.
    answers: Counter[str] = Counter()
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            # A connection a stopping process accepted but had not read from is closed
            # unanswered (uvicorn's graceful stop): a client tries once more, as
            # Segment's libraries do.
            for attempt in (1, 2):
                try:
                    status = httpx.get(f"{server.url}/health", timeout=HTTP_TIMEOUT).status_code
                except httpx.TransportError as exc:
                    if attempt == 2:
                        answers[type(exc).__name__] += 1
                    continue
                answers[str(status)] += 1
                break
            time.sleep(0.01)

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    try:
        os.kill(server.pid, signal.SIGHUP)
        replaced = loop.wait_until(
            lambda: len(pids := api_processes(server)) == 2 and not set(pids) & set(first) and pids,
            "both processes to be replaced",
        )
        assert sorted(listening(replaced, server.port)) == sorted(own)  # on the same sockets

        os.kill(server.pid, signal.SIGTTIN)
        three = loop.wait_until(
            lambda: len(pids := api_processes(server)) == 3 and pids, "a third process"
        )
        added = loop.wait_until(
            lambda: set(tcp_sockets(server.port, TCP_LISTEN)) - set(own), "the third to listen"
        )
        assert sorted(listening(three, server.port)) == sorted([*own, *added])
        os.kill(server.pid, signal.SIGTTOU)
        two = loop.wait_until(
            lambda: len(pids := api_processes(server)) == 2 and pids, "back to 2 processes"
        )
        assert sorted(listening(two, server.port)) == sorted(own)
        loop.wait_until(lambda: not tcp_sockets(server.port, TCP_LISTEN) & added, "it closed")
        time.sleep(0.5)
    finally:
        stop.set()
        asker.join(HTTP_TIMEOUT)
    assert set(answers) == {"200"} and answers["200"] > 20, answers
    assert set(tcp_sockets(server.port, TCP_LISTEN)) == set(own)
