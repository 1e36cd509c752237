"""Durability: a 2xx is sent only after the request's messages are committed.

Concurrent senders post batches to /v1/batch while another thread sends SIGKILL
(and, last, SIGTERM) to the server at a random moment. After a restart on the same database, every
batch that was answered 200 must be stored, each message exactly once; a batch
that was not answered is stored entirely or not at all (one transaction a
request); replaying every batch afterwards, as Segment's clients do, leaves
each message stored once.
"""

from __future__ import annotations

import queue
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import orjson
import pytest
from sqlalchemy import func, select

from promoter.storage.engine import Database
from promoter.storage.tables import contacts
from tests.conftest import Org
from tests.credentials import basic
from tests.e2e.conftest import HTTP_TIMEOUT, ServerProcess
from tests.e2e.stored import stored

pytestmark = [pytest.mark.e2e, pytest.mark.alone]

#: The signal that ends the server in each round.
SIGNALS = (signal.SIGKILL, signal.SIGKILL, signal.SIGKILL, signal.SIGTERM)
ROUNDS = len(SIGNALS)
BATCHES = 50
MESSAGES = 20
SENDERS = 3
USERS = 7
#: Bound on any wait of the test's own threads (they normally finish in seconds).
THREAD_TIMEOUT = 120.0


def make_batches(round_number: int) -> list[list[dict[str, Any]]]:
    """Batches of one identify and MESSAGES - 1 tracks, every messageId unique."""
    batches = []
    for b in range(BATCHES):
        user = f"user-{(round_number * BATCHES + b) % USERS}"
        prefix = f"r{round_number}-b{b}-m"
        messages: list[dict[str, Any]] = [
            {
                "type": "identify",
                "userId": user,
                "messageId": f"{prefix}0",
                "traits": {"email": f"{user}@example.com", "round": round_number, "batch": b},
            }
        ]
        messages += [
            {
                "type": "track",
                "userId": user,
                "event": "Tick",
                "messageId": f"{prefix}{m}",
                "properties": {"round": round_number, "batch": b, "n": m},
            }
            for m in range(1, MESSAGES)
        ]
        batches.append(messages)
    return batches


@dataclass
class Outcome:
    """What the senders saw: batches answered 200 and anything unexpected."""

    acknowledged: dict[int, dict[str, Any]] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)


def send_all(
    url: str,
    org: Org,
    batches: list[list[dict[str, Any]]],
    *,
    on_started: Callable[[Outcome], None] | None = None,
) -> Outcome:
    """POST every batch from SENDERS threads; connection errors leave a batch unacknowledged."""
    todo: queue.Queue[int] = queue.Queue()
    for index in range(len(batches)):
        todo.put(index)
    outcome = Outcome()
    headers = {"Content-Type": "application/json", **basic(org.key)}

    def sender() -> None:
        with httpx2.Client(base_url=url, timeout=HTTP_TIMEOUT, headers=headers) as client:
            while True:
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                body = orjson.dumps({"batch": batches[index]})
                try:
                    response = client.post("/v1/batch", content=body)
                except httpx2.TransportError:
                    continue  # no answer: not acknowledged
                with outcome.lock:
                    if response.status_code == 200:
                        outcome.acknowledged[index] = response.json()
                        outcome.lock.notify_all()
                    else:
                        outcome.unexpected.append(
                            f"batch {index}: {response.status_code} {response.text}"
                        )

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    if on_started is not None:
        on_started(outcome)
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
        assert not thread.is_alive(), "a sender thread is stuck"
    return outcome


def killer_of(
    server: ServerProcess,
    *,
    sig: signal.Signals,
    after: int,
    delay: float,
    killed: threading.Event,
) -> Callable[[Outcome], None]:
    """Starts a thread that sends ``sig`` once ``after`` batches are acknowledged + delay."""
    process = server.process
    assert process is not None

    def start(outcome: Outcome) -> None:
        def kill() -> None:
            with outcome.lock:
                outcome.lock.wait_for(
                    lambda: len(outcome.acknowledged) >= after or bool(outcome.unexpected),
                    THREAD_TIMEOUT,
                )
            time.sleep(delay)
            process.send_signal(sig)
            killed.set()

        threading.Thread(target=kill, daemon=True).start()

    return start


def check_stored(
    database: Database,
    org: Org,
    rounds: list[tuple[list[list[dict[str, Any]]], Outcome]],
    context: str,
) -> None:
    processed, per_message = stored(database, org)
    repeated = {m: n for m, n in per_message.items() if n != 1}
    assert not repeated, f"{context}: events stored more than once: {repeated}"
    orphans = set(per_message) - processed
    assert not orphans, f"{context}: events without a processed messageId: {sorted(orphans)}"
    for number, (batches, outcome) in enumerate(rounds):
        for index, batch in enumerate(batches):
            ids = [m["messageId"] for m in batch]
            track_ids = [m["messageId"] for m in batch if m["type"] == "track"]
            present = [i for i in ids if i in processed]
            with_event = [i for i in track_ids if i in per_message]
            where = f"{context}: round {number} batch {index}"
            if index in outcome.acknowledged:
                assert present == ids, f"{where} was acknowledged but lost {set(ids) - processed}"
                assert with_event == track_ids, f"{where} was acknowledged but lost events"
            else:
                # One transaction a request: all of it or none of it.
                assert present in ([], ids), f"{where} is partly stored: {present}"
                assert len(with_event) in (0, len(track_ids)), f"{where} has partial events"
                assert bool(present) == bool(with_event), f"{where}: processed without events"


def test_acknowledged_batches_survive_kill_9_and_shutdown(
    server: ServerProcess, org: Org, database: Database
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    rounds: list[tuple[list[list[dict[str, Any]]], Outcome]] = []
    for number, sig in enumerate(SIGNALS):
        batches = make_batches(number)
        kill_after = rng.randint(1, BATCHES * 2 // 3)
        delay = rng.uniform(0, 0.05)
        killed = threading.Event()
        killer = killer_of(server, sig=sig, after=kill_after, delay=delay, killed=killed)
        outcome = send_all(server.url, org, batches, on_started=killer)
        assert killed.wait(THREAD_TIMEOUT), "the server was never killed"
        context = f"seed {seed}, round {number}: {sig.name} after {kill_after} acks + {delay:.3f} s"
        assert not outcome.unexpected, f"{context}: {outcome.unexpected}\n{server.output()}"
        assert all(a["accepted"] == MESSAGES for a in outcome.acknowledged.values()), context
        assert len(outcome.acknowledged) >= kill_after, context
        code = server.wait()
        assert code == -sig, f"{context}: exit status {code}\n{server.output()}"
        rounds.append((batches, outcome))
        server.start()
        check_stored(database, org, rounds, context)

    # Retry everything, as a client does with what it did not get an answer for.
    for number, (batches, before) in enumerate(rounds):
        replay = send_all(server.url, org, batches)
        context = f"seed {seed}, replay of round {number}"
        assert not replay.unexpected, f"{context}: {replay.unexpected}\n{server.output()}"
        assert sorted(replay.acknowledged) == list(range(BATCHES)), context
        for index, answer in replay.acknowledged.items():
            counts = (answer["accepted"], answer["duplicates"])
            if index in before.acknowledged:
                assert counts == (0, MESSAGES), (context, index, answer)
            else:
                assert counts in ((MESSAGES, 0), (0, MESSAGES)), (context, index, answer)
    check_stored(database, org, rounds, f"seed {seed}, after the replay")
    processed, per_message = stored(database, org)
    assert len(processed) == ROUNDS * BATCHES * MESSAGES
    assert len(per_message) == ROUNDS * BATCHES * (MESSAGES - 1)
    with database.read() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(contacts)
                .where(contacts.c.organization_id == org.id)
            ).scalar_one()
            == USERS
        )
