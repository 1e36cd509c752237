"""The whole survey loop, end to end: real server and worker processes, a real SMTP server.

Segment events go in through the Tracking API; the survey email comes out of the
delivery worker (in ``promoter serve``, or ``promoter worker`` processes) into an
aiosmtpd server run by the test; the test reads it, follows its links like a person
(and a mail scanner) would, and checks what the database recorded. Then the failure
cases: a mail server that is down, a worker killed mid-batch, two workers at once.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import httpx2
import pytest
import segment.analytics as analytics
from aiosmtpd.controller import Controller
from segment.analytics import request as segment_request
from sqlalchemy import func, select, update

from promoter.storage.engine import Database
from promoter.storage.tables import contacts, deliveries, events, responses, surveys
from tests.conftest import Org
from tests.credentials import basic, token
from tests.e2e.conftest import HTTP_TIMEOUT, Api, ServerProcess, free_port
from tests.figures import record

pytestmark = [pytest.mark.e2e, pytest.mark.alone]

#: Bound on every wait for mail or for the database to reach a state (normally seconds).
WAIT_TIMEOUT = 60.0
#: The delivery worker looks for due mail about once a second when it is idle.
WORKER_POLL_SECONDS = 1.0
#: ``promoter worker``'s default --batch-size: what a worker killed mid-batch may resend.
BATCH_SIZE = 50

TRAITS = {
    "email": "ted@mosbiusdesigns.com",
    "firstName": "Ted",
    "lastName": "Mosby",
    "plan": "Premium",
    "company": {"name": "Mosbius Designs", "employees": 12},
}
#: The contact's attributes those traits make (what a response's snapshot holds).
ATTRIBUTES = {"plan": "Premium", "company.name": "Mosbius Designs", "company.employees": 12}


# --- the mail server ------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    recipients: list[str]
    message: EmailMessage

    @property
    def to(self) -> str:
        return str(self.message["To"].addresses[0].addr_spec)


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts.

    ``delay`` slows each DATA down (a slow mail server). With ``hold_after`` set, the
    message after that many is held unanswered until :meth:`release` (and then refused
    with a 451, unrecorded): the sender is stuck mid-batch for as long as the test wants.
    """

    def __init__(self, *, delay: float = 0.0, hold_after: int | None = None) -> None:
        self.delay = delay
        self.hold_after = hold_after
        self.holding = threading.Event()
        self._released = threading.Event()
        self._received: list[Received] = []
        self._changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self._changed:
            hold = self.hold_after is not None and len(self._received) >= self.hold_after
        if hold:
            self.holding.set()
            while not self._released.is_set():
                await asyncio.sleep(0.01)
            return "451 4.3.0 Held by the test"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._changed:
            self._received.append(Received(list(envelope.rcpt_tos), message))
            self._changed.notify_all()
        return "250 OK"

    def release(self) -> None:
        self._released.set()

    @property
    def received(self) -> list[Received]:
        with self._changed:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = WAIT_TIMEOUT) -> list[Received]:
        """Wait until at least ``count`` messages arrived; all of them."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self._received) >= count, timeout)
            got = list(self._received)
        assert arrived, f"{len(got)} of {count} emails arrived within {timeout:.0f} s"
        return got


@dataclass
class MailServer:
    inbox: Inbox
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=10"


@pytest.fixture
def smtp() -> Iterator[Callable[..., MailServer]]:
    """Starts aiosmtpd servers (``start(inbox, port=None)``); stops them at the end."""
    running: list[tuple[Inbox, Controller]] = []

    def start(inbox: Inbox | None = None, port: int | None = None) -> MailServer:
        inbox = inbox or Inbox()
        port = port or free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        running.append((inbox, controller))
        return MailServer(inbox, port)

    yield start
    for inbox, controller in reversed(running):
        inbox.release()
        controller.stop()


# --- processes ------------------------------------------------------------------------------


def promoter_environment(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOTER_")}
    env.update(
        PROMOTER_DATABASE_URL=database_url,
        PROMOTER_LOG_LEVEL="warning",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


class WorkerProcess:
    """One ``promoter worker`` process; its output goes to a file in ``workdir``."""

    def __init__(self, name: str, workdir: Path, env: Mapping[str, str], args: Sequence[str]):
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._log: IO[bytes] | None = self.log_path.open("wb")
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "promoter", "worker", *args],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=workdir,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_started(self) -> None:
        """Wait until the worker says it is sending (it is then polling for due mail)."""
        deadline = time.monotonic() + WAIT_TIMEOUT
        while "worker sending survey emails" not in self.output():
            assert self.process is not None
            code = self.process.poll()
            assert code is None, f"{self.name} exited with status {code}:\n{self.output()}"
            assert time.monotonic() < deadline, f"{self.name} did not start:\n{self.output()}"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the worker gets no chance to record anything."""
        if self.process is not None:
            self.process.kill()
            self._close()

    def stop(self) -> int | None:
        """SIGTERM (the worker finishes the batch in hand); the exit status, None if it had
        to be killed after WAIT_TIMEOUT, or if it was not running."""
        if self.process is None:
            return None
        self.process.terminate()
        try:
            code: int | None = self.process.wait(WAIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = None
        self._close()
        return code

    def _close(self) -> None:
        if self.process is not None:
            self.process.wait()
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Processes:
    database_url: str
    workdir: Path
    servers: list[ServerProcess]
    workers: list[WorkerProcess]

    def server(self, *, email_url: str, args: Sequence[str] = ()) -> ServerProcess:
        """A started ``promoter serve``: mail through ``email_url``, links to itself."""
        workdir = self.workdir / f"server{len(self.servers)}"
        workdir.mkdir()
        server = ServerProcess(
            self.database_url,
            workdir,
            env=lambda url: {"PROMOTER_EMAIL_URL": email_url, "PROMOTER_BASE_URL": url},
            args=args,
        )
        self.servers.append(server)
        server.start()
        return server

    def worker(
        self, server: ServerProcess, *, email_url: str, args: Sequence[str] = (), **env: str
    ) -> WorkerProcess:
        """A started ``promoter worker`` on the same database, its links to ``server``."""
        extra = {"PROMOTER_EMAIL_URL": email_url, "PROMOTER_BASE_URL": server.url, **env}
        worker = WorkerProcess(
            f"worker{len(self.workers)}",
            self.workdir,
            promoter_environment(self.database_url, **extra),
            args,
        )
        self.workers.append(worker)
        return worker


@pytest.fixture
def processes(
    database_url: str, org: Org, tmp_path: Path, smtp: Callable[..., MailServer]
) -> Iterator[Processes]:
    """Starts servers and workers on the test's database (which holds ``org``); at the end,
    stops each (before the mail servers stop) and fails on an unclean exit or a traceback."""
    procs = Processes(database_url, tmp_path, [], [])
    try:
        yield procs
    finally:
        problems = []
        for worker in procs.workers:
            running = worker.process is not None
            code = worker.stop()
            if running and code != 0:
                problems.append(f"{worker.name} exited with status {code}")
            if "Traceback" in worker.output():
                problems.append(f"{worker.name} logged an exception:\n{worker.output()}")
        for server in procs.servers:
            running = server.process is not None
            code = server.stop()
            # uvicorn re-raises the SIGTERM it handled: -SIGTERM is a clean exit.
            if running and code not in (0, -signal.SIGTERM):
                problems.append(f"the server exited with status {code}:\n{server.output()}")
            if "Traceback" in server.output():
                problems.append(f"the server logged an exception:\n{server.output()}")
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture(autouse=True)
def _close_segment_session() -> Iterator[None]:
    """segment-analytics-python keeps one module-level requests session: close it."""
    yield
    segment_request._session.close()


# --- helpers --------------------------------------------------------------------------------


def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT_TIMEOUT) -> Any:
    """Poll ``condition`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(0.05)


def rows(database: Database, table: Any, *where: Any) -> list[Any]:
    with database.read() as conn:
        return list(conn.execute(select(table).where(*where).order_by(table.c.id)))


def count(database: Database, table: Any, *where: Any) -> int:
    with database.read() as conn:
        query = select(func.count()).select_from(table).where(*where)
        return int(conn.execute(query).scalar_one())


def schedule_surveys(server: ServerProcess, org: Org, users: Sequence[str]) -> None:
    """Identify and track each user in one /v1/batch request: one survey each, due now."""
    batch: list[dict[str, Any]] = []
    for user in users:
        traits = {"email": f"{user}@example.com", "firstName": user.title()}
        batch.append({"type": "identify", "userId": user, "traits": traits})
        batch.append({"type": "track", "userId": user, "event": "Signed Up"})
    with httpx2.Client(base_url=server.url, timeout=HTTP_TIMEOUT) as http:
        response = http.post("/v1/batch", json={"batch": batch}, headers=basic(org.key))
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(batch), response.text


class Links(HTMLParser):
    """Every ``<a href>`` of an HTML document with its text, and every form's action."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.forms: list[str] = []
        self._href: str | None = None
        self._text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), []
        elif tag == "form":
            self.forms.append(dict(attrs).get("action") or "")

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def form_action(page: httpx2.Response) -> str:
    """The absolute URL the page's one form posts to."""
    (action,) = Links(page.text).forms
    return urljoin(str(page.url), action)


# --- the loop -------------------------------------------------------------------------------


def test_segment_events_to_email_to_answer_to_unsubscribe(
    processes: Processes,
    smtp: Callable[..., MailServer],
    database: Database,
    org: Org,
) -> None:
    mail = smtp()
    server = processes.server(email_url=mail.url)
    segment = analytics.Client(
        write_key=org.key, host=server.url, sync_mode=True, timeout=HTTP_TIMEOUT
    )
    segment.identify("ted", TRAITS)
    segment.track("ted", "Signed Up", {"plan": "Premium"})

    # One email, sent by the server's own worker.
    (received,) = mail.inbox.wait_for(1)
    message = received.message
    assert received.recipients == ["ted@mosbiusdesigns.com"]
    assert str(message["To"]) == "Ted Mosby <ted@mosbiusdesigns.com>"
    (survey,) = rows(database, surveys)
    wait_until(lambda: rows(database, deliveries)[0].status == "sent", "the delivery to be sent")
    (delivery,) = rows(database, deliveries)
    assert delivery.message_id == message["Message-ID"] and delivery.attempts == 1
    assert rows(database, surveys)[0].status == "sent"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_url = re.fullmatch(r"<(.+)>", str(message["List-Unsubscribe"]))
    assert unsubscribe_url is not None, message["List-Unsubscribe"]
    assert unsubscribe_url[1].startswith(f"{server.url}/u/")

    # The 11 score links of the HTML part point at the server, one signed survey link.
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    links = Links(html_part.get_content()).links
    by_score = {text: href for href, text in links if text.isdigit()}
    assert sorted(by_score, key=int) == [str(n) for n in range(11)], links
    signed = urlsplit(by_score["0"]).path.split("/")[2]
    assert survey.token == signed.rpartition(".")[0]
    for n in range(11):
        assert by_score[str(n)] == f"{server.url}/s/{signed}/{n}"
    assert unsubscribe_url[1] == f"{server.url}/u/{signed}"
    assert unsubscribe_url[1] in {href for href, _ in links}
    text_part = message.get_body(preferencelist=("plain",))
    assert text_part is not None and f"9: {by_score['9']}" in text_part.get_content()

    with httpx2.Client(timeout=HTTP_TIMEOUT) as http:
        # Following a score link (as a person, or a mail scanner, does) records nothing.
        page = http.get(by_score["9"])
        assert page.status_code == 200
        assert re.findall(r'value="(\d+)" checked', page.text) == ["9"]
        assert rows(database, responses) == []
        assert rows(database, surveys)[0].status == "sent"

        # Without the page's script, one Confirm press records the score; the same page
        # follows, the score saved and the comment box ready.
        saved = http.post(
            form_action(page), data={"score": "9", "action": "confirm"}, follow_redirects=True
        )
        assert saved.status_code == 200
        assert str(saved.url) == f"{server.url}/s/{signed}?saved"
        assert "Your score is saved" in saved.text
        (response,) = rows(database, responses)
        assert (response.score, response.comment) == (9, None)

        thanks = http.post(
            form_action(saved),
            data={"score": "9", "comment": "Great support, thanks Lily!", "action": "send"},
            follow_redirects=True,
        )
        assert thanks.status_code == 200 and "Thank you for your feedback." in thanks.text
        (response,) = rows(database, responses)
        assert response.score == 9
        assert response.comment == "Great support, thanks Lily!"
        assert response.contact_snapshot == ATTRIBUTES
        assert response.survey_id == survey.id
        (contact,) = rows(database, contacts)
        assert response.contact_id == contact.id
        assert rows(database, surveys)[0].status == "answered"

        # The unsubscribe link's GET only asks; the RFC 8058 one-click POST unsubscribes.
        asked = http.get(unsubscribe_url[1])
        assert asked.status_code == 200
        assert rows(database, contacts)[0].status == "active"
        done = http.post(
            unsubscribe_url[1],
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200 and "You are unsubscribed" in done.text
        assert rows(database, contacts)[0].status == "unsubscribed"

    # A later track surveys no one: the contact is unsubscribed (and throttled anyway).
    _, later = segment.track("ted", "Order Completed", {"order_id": "o-2", "total": 5})
    (event,) = rows(database, events, events.c.message_id == later["messageId"])
    assert "unsubscribed" in (event.trigger_note or ""), event.trigger_note
    assert count(database, surveys) == 1
    assert count(database, deliveries, deliveries.c.status == "pending") == 0
    time.sleep(2.5 * WORKER_POLL_SECONDS)  # a few worker rounds: still nothing to send
    assert len(mail.inbox.received) == 1

    # The team reads it back: the score by any attribute, through the server's analytics.
    with httpx2.Client(base_url=server.url, timeout=HTTP_TIMEOUT) as http:
        api = Api(http, org)
        for _ in range(3):  # the first questions may be answered by SQL, while columns load
            premium = api.get("/api/v2/nps/", **{"attributes[company.employees][gte]": "10"})
            assert (premium["responses"], premium["nps"]) == (1, 100.0)
            assert premium["distribution"]["9"] == 1
            assert premium["delivery"] == {
                "sent": 1,
                "delivered": 1,
                "bounced": 0,
                "unsubscribed": 1,
                "responded": 1,
                "response_rate": 100.0,
            }
            assert api.get("/api/v2/nps/", **{"attributes[plan]": "Free"})["responses"] == 0
        (feedback,) = api.get("/api/v2/feedback/", has_comment="true")["results"]
        assert feedback["comment"] == "Great support, thanks Lily!"
        assert feedback["attributes"] == ATTRIBUTES
        export = http.get("/api/v2/feedback/export.csv", headers=api.headers)
        assert export.status_code == 200 and "Great support, thanks Lily!" in export.text


def test_smtp_down_then_up_delivers_once_later(
    processes: Processes,
    smtp: Callable[..., MailServer],
    database: Database,
    org: Org,
) -> None:
    port = free_port()  # nothing listens there yet
    server = processes.server(email_url=f"smtp://127.0.0.1:{port}?timeout=10")
    schedule_surveys(server, org, ["ann"])

    delivery = wait_until(
        lambda: next(iter(rows(database, deliveries, deliveries.c.last_error.is_not(None))), None),
        "a failed attempt to be recorded",
    )
    assert delivery.status == "pending" and delivery.attempts >= 1, delivery
    assert delivery.claimed_until is None and delivery.sent_at is None, delivery
    assert rows(database, surveys)[0].status == "scheduled"

    mail = smtp(port=port)
    # The worker retries 30 s (±20%) after a first failure. Rather than wait for that,
    # make the delivery due now: the retry itself is what this test is about (the delay
    # is tested in tests/integration/test_delivery.py). It is neither claimed nor due,
    # so no worker is touching it.
    with database.write() as conn:
        moved = conn.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery.id, deliveries.c.status == "pending")
            .values(due_at=datetime.now(UTC))
        ).rowcount
    assert moved == 1

    (received,) = mail.inbox.wait_for(1)
    assert received.recipients == ["ann@example.com"]
    wait_until(lambda: rows(database, deliveries)[0].status == "sent", "the delivery to be sent")
    time.sleep(2.5 * WORKER_POLL_SECONDS)  # a few worker rounds more: nothing else is sent
    assert len(mail.inbox.received) == 1
    (delivery,) = rows(database, deliveries)
    assert delivery.status == "sent" and delivery.attempts >= 2
    assert delivery.message_id == received.message["Message-ID"]
    assert rows(database, surveys)[0].status == "sent"


def test_a_worker_killed_mid_batch_loses_nothing(
    processes: Processes,
    smtp: Callable[..., MailServer],
    database: Database,
    org: Org,
) -> None:
    users = [f"user{i:03}" for i in range(200)]
    server = processes.server(email_url="file:unused-mail", args=["--no-worker"])
    schedule_surveys(server, org, users)
    assert count(database, deliveries, deliveries.c.status == "pending") == len(users)

    # The first worker is stuck on the 71st email (in its second batch) when it is killed.
    held = 70
    mail = smtp(Inbox(hold_after=held))
    first = processes.worker(server, email_url=mail.url)
    mail.inbox.wait_for(held)
    assert mail.inbox.holding.wait(WAIT_TIMEOUT), "the worker did not send another email"
    first.kill()
    assert "Traceback" not in first.output(), first.output()
    in_flight = count(
        database,
        deliveries,
        deliveries.c.status == "pending",
        deliveries.c.claimed_until.is_not(None),
    )
    assert 0 < in_flight <= BATCH_SIZE, "the worker was not killed mid-batch"
    assert count(database, deliveries, deliveries.c.status == "sent") < held
    mail.inbox.hold_after = None
    mail.inbox.release()  # the held email is refused (451): the worker is gone anyway

    # The killed worker's leases would expire after 5 minutes; expire them now instead.
    with database.write() as conn:
        conn.execute(
            update(deliveries).where(deliveries.c.status == "pending").values(claimed_until=None)
        )
    second = processes.worker(server, email_url=mail.url)
    wait_until(
        lambda: count(database, deliveries, deliveries.c.status != "sent") == 0,
        "every delivery to be sent",
    )
    assert second.stop() == 0, second.output()

    sent_to = Counter(r.to for r in mail.inbox.received)
    missing = sorted(set(f"{u}@example.com" for u in users) - set(sent_to))
    assert missing == [], f"{len(missing)} users got no email: {missing[:10]}"
    duplicates = {to: n for to, n in sent_to.items() if n > 1}
    extra = sum(n - 1 for n in duplicates.values())
    assert extra <= BATCH_SIZE, (
        f"{extra} duplicate emails (more than a batch of {BATCH_SIZE}): {duplicates}"
    )
    assert all(n == 2 for n in duplicates.values()), duplicates
    assert extra <= in_flight, f"{extra} duplicates, {in_flight} deliveries in flight"
    assert {d.status for d in rows(database, deliveries)} == {"sent"}
    assert {s.status for s in rows(database, surveys)} == {"sent"}
    assert len(rows(database, deliveries)) == len(users)


def test_two_workers_on_postgresql_send_each_survey_once(
    processes: Processes,
    smtp: Callable[..., MailServer],
    database: Database,
    backend: str,
    org: Org,
) -> None:
    if backend == "sqlite":
        pytest.skip("several workers share a PostgreSQL database (one process per SQLite file)")
    users = [f"user{i:03}" for i in range(300)]
    # Small batches, and a mail server that takes a little time: each worker claims dozens
    # of times, often at the same moment as the other (a claim that is not exclusive shows
    # up as duplicates), and both get a share.
    mail = smtp(Inbox(delay=0.002))
    server = processes.server(email_url="file:unused-mail", args=["--no-worker"])
    workers = [
        processes.worker(
            server,
            email_url=mail.url,
            args=["--batch-size", "5"],
            PROMOTER_EMAIL_FROM=f"surveys@{name}.example",
        )
        for name in ("worker-a", "worker-b")
    ]
    for worker in workers:  # both polling before there is anything to send
        worker.wait_until_started()
    schedule_surveys(server, org, users)

    wait_until(
        lambda: count(database, deliveries, deliveries.c.status != "sent") == 0,
        "every delivery to be sent",
    )
    for worker in workers:
        assert worker.stop() == 0, worker.output()

    received = mail.inbox.received
    sent_to = Counter(r.to for r in received)
    duplicates = {to: n for to, n in sent_to.items() if n > 1}
    assert duplicates == {}, f"{len(duplicates)} recipients got more than one email"
    assert sorted(sent_to) == [f"{u}@example.com" for u in users]
    assert len(received) == len(users)
    by_worker = Counter(r.message["From"].addresses[0].domain for r in received)
    assert set(by_worker) == {"worker-a.example", "worker-b.example"}, by_worker
    assert {d.status for d in rows(database, deliveries)} == {"sent"}
    assert len({d.message_id for d in rows(database, deliveries)}) == len(users)


def test_workers_killed_on_postgresql_deliver_all_once_and_never_to_the_unsubscribed(
    processes: Processes,
    smtp: Callable[..., MailServer],
    database: Database,
    backend: str,
    org: Org,
) -> None:
    if backend == "sqlite":
        pytest.skip("several workers share a PostgreSQL database (one process per SQLite file)")
    users = [f"user{i:03}" for i in range(400)]
    leavers = users[-40:]  # due last: unsubscribed long before a worker gets to them
    batch_size = 10
    mail = smtp(Inbox(delay=0.01))
    server = processes.server(email_url="file:unused-mail", args=["--no-worker"])
    schedule_surveys(server, org, users)
    workers = [
        processes.worker(server, email_url=mail.url, args=["--batch-size", str(batch_size)])
        for _ in range(3)
    ]

    def claimed() -> int:
        return count(
            database,
            deliveries,
            deliveries.c.status == "pending",
            deliveries.c.claimed_until.is_not(None),
        )

    mail.inbox.wait_for(40)
    with httpx2.Client(base_url=server.url, timeout=HTTP_TIMEOUT) as http:
        for user in leavers:
            answer = http.post(
                "/api/v2/contacts/remove/",
                json={"email": f"{user}@example.com"},
                headers=token(org.key),
            )
            assert answer.status_code == 200, answer.text
    in_flight = []
    for victim, after in ((workers[0], 120), (workers[1], 220)):
        mail.inbox.wait_for(after)
        in_flight.append(claimed())  # at most: the others' batches are counted too
        victim.kill()
    # The killed workers' leases would expire after 5 minutes; expire them now instead.
    with database.write() as conn:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.status == "pending", deliveries.c.claimed_until.is_not(None))
            .values(claimed_until=None)
        )
    workers.append(processes.worker(server, email_url=mail.url))
    wait_until(
        lambda: count(database, deliveries, deliveries.c.status == "pending") == 0,
        "every due delivery to be sent or cancelled",
    )
    # The last worker may find nothing left to do: its SIGTERM must not come before it
    # listens for one (a busy machine takes seconds to start a process).
    workers[3].wait_until_started()
    for worker in (workers[2], workers[3]):
        assert worker.stop() == 0, worker.output()

    sent_to = Counter(r.to for r in mail.inbox.received)
    staying = {f"{u}@example.com" for u in users[: -len(leavers)]}
    gone = {f"{u}@example.com" for u in leavers}
    assert sorted(staying - set(sent_to)) == [], "subscribed contacts got no email"
    assert sorted(gone & set(sent_to)) == [], "unsubscribed contacts got an email"
    duplicates = sum(n - 1 for n in sent_to.values())
    # A worker records its batch once the batch is sent: a kill resends at most one batch.
    assert duplicates <= min(sum(in_flight), batch_size * 2), (duplicates, in_flight)
    statuses = Counter(d.status for d in rows(database, deliveries))
    assert statuses["sent"] == len(staying), statuses
    assert statuses["sent"] + statuses["cancelled"] == len(users), statuses
    record(
        "worker-kill-9",
        backend,
        surveys=len(users),
        workers=3,
        workers_killed=2,
        batch_size=batch_size,
        in_flight_at_kills=in_flight,
        emails_sent=len(mail.inbox.received),
        duplicate_emails=duplicates,
        unsubscribed_mid_run=len(leavers),
        emails_to_unsubscribed=0,
        subscribed_without_email=0,
    )
