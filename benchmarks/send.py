"""Sending benchmark: the real ``promoter worker`` through SMTP against raw ``smtplib``.

It queues surveys in a fresh database (an organization with its default campaign, then
``identify`` + ``track`` messages through the ingestion pipeline: one survey per contact,
due now), starts a local SMTP sink (aiosmtpd, in a process of its own, counting what it
accepts), runs ``promoter worker`` against both until every delivery is ``sent`` and
samples the worker's memory meanwhile. In the same run it sends the same rendered
message as many times through one reused ``smtplib`` connection to the same sink, and
reports the ratio of the two rates. See benchmarks/README.md.

    .venv/bin/python benchmarks/send.py [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import os
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from machine import describe
from scratch_postgres import postgres_database
from sqlalchemy import func, select

from promoter.config import Settings
from promoter.delivery.render import OutgoingEmail, SurveyEmail
from promoter.delivery.survey_templates import (
    TEMPLATE_COLUMNS,
    display_name,
    surveys_with_templates,
    template_view,
)
from promoter.domain.messages import Envelope
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.orgs.service import create_organization
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.migrate import upgrade
from promoter.storage.tables import contacts, deliveries, surveys

TARGET_RATIO = 0.8
#: Memory is flat when the worker's RSS grows by at most this much from 10% sent to the end
#: (the first 10% warm up: templates, compiled statements, pools).
FLAT_RSS_MIB = 5.0
HOST = "127.0.0.1"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
#: What the worker and the benchmark's own renderer agree on (not read from the environment).
BASE_URL = "https://nps.example.com"
SENDER = "surveys@nps.example.com"
#: How often the database is asked how many deliveries are sent (and the worker's RSS read).
POLL_SECONDS = 0.2
#: The line ``promoter worker`` prints once it is built and about to send.
READY_LINE = b"worker sending survey emails"


# --- the SMTP sink (a process of its own) -----------------------------------------------


class CountingSink:
    """An aiosmtpd handler that accepts every message, keeps nothing and counts.

    ``NOOP`` answers ``250 <messages> <bytes>``: the totals since the sink started.
    """

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        self.bytes += len(envelope.content)
        return "250 OK"

    async def handle_NOOP(self, server: Any, session: Any, envelope: Any, arg: str) -> str:
        return f"250 {self.messages} {self.bytes}"


def run_sink(port: int) -> int:
    """Serve the counting sink on ``HOST:port`` until SIGTERM or SIGINT."""
    from aiosmtpd.controller import Controller

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    controller = Controller(CountingSink(), hostname=HOST, port=port)
    controller.start()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        controller.stop()
    return 0


@dataclass(frozen=True, slots=True)
class Sink:
    port: int
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def sink_totals(port: int) -> tuple[int, int]:
    """Messages and bytes the sink has accepted so far."""
    with smtplib.SMTP(HOST, port, timeout=10) as smtp:
        code, answer = smtp.noop()
    if code != 250:
        raise RuntimeError(f"the SMTP sink answered NOOP with {code} {answer!r}")
    messages, size = answer.split()
    return int(messages), int(size)


@contextmanager
def running_sink(workdir: Path) -> Iterator[Sink]:
    """The counting sink in its own process (no GIL shared with what is measured)."""
    port = free_port()
    log = workdir / "sink.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--sink", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the SMTP sink exited with code {process.returncode}")
                try:
                    sink_totals(port)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the SMTP sink did not answer within 30 s") from None
                    time.sleep(0.05)
            yield Sink(port, process)
        except BaseException:
            sys.stderr.write(log.read_text(errors="replace")[-4000:])
            raise
        finally:
            stop_process(process)


def stop_process(process: subprocess.Popen[bytes], grace: float = 30.0) -> int:
    """SIGTERM, then SIGKILL if it has not exited within ``grace`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            return process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(timeout=30)


# --- queueing surveys (untimed) ---------------------------------------------------------


def settings_for(url: str, sink_port: int, workdir: Path) -> Settings:
    """The worker's settings, spelled out rather than read from this process's environment
    (saved analytics columns in ``workdir``, not the user's cache folder)."""
    return Settings(
        database_url=url,
        email_url=f"smtp://{HOST}:{sink_port}",
        base_url=BASE_URL,
        email_from=SENDER,
        secret_key=None,
        analytics_cache_dir=str(workdir / "analytics-files"),
    )


def worker_environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOTER_")}
    env["PROMOTER_DATABASE_URL"] = settings.database_url
    env["PROMOTER_EMAIL_URL"] = settings.email_url
    env["PROMOTER_BASE_URL"] = BASE_URL
    env["PROMOTER_EMAIL_FROM"] = SENDER
    env["PROMOTER_ANALYTICS_CACHE_DIR"] = settings.analytics_cache_dir or ""
    return env


def contact_messages(first: int, count: int) -> list[dict[str, Any]]:
    """An identify and a track for each of ``count`` users from number ``first`` on."""
    messages: list[dict[str, Any]] = []
    for n in range(first, first + count):
        user = f"user-{n:06d}"
        messages.append(
            {
                "type": "identify",
                "userId": user,
                "messageId": f"identify-{n}",
                "traits": {
                    "email": f"{user}@customers.example.com",
                    "firstName": f"First{n}",
                    "lastName": f"Last{n}",
                    "plan": "Premium",
                },
            }
        )
        messages.append(
            {
                "type": "track",
                "userId": user,
                "messageId": f"track-{n}",
                "event": "Order Completed",
                "properties": {"order_id": f"order-{n}", "total": 49.0, "currency": "USD"},
            }
        )
    return messages


def queue_surveys(settings: Settings, count: int, per_request: int) -> OutgoingEmail:
    """Migrate a fresh database, create the organization (and its default campaign), ingest
    ``count`` contacts with a track each, check that ``count`` deliveries are due; return
    the email the first of them becomes (rendered as the worker renders it)."""
    database = Database.from_url(settings.database_url)
    try:
        upgrade(database.engine)
        with database.write() as conn:
            org, _ = create_organization(conn, name="Benchmark")
        services = Services.build(settings, database)
        for first in range(0, count, per_request):
            messages = contact_messages(first, min(per_request, count - first))
            results = ingest_messages(
                database=database,
                ingestor=services.ingestor,
                organization_id=org.id,
                messages=messages,
                envelope=Envelope(received_at=datetime.now(UTC)),
                allowed=TRACKING_API_TYPES,
            )
            refused = [r for r in results if r.status != "accepted"]
            if refused:
                raise RuntimeError(f"ingestion did not accept {refused[0]}")
        due = pending_due(database)
        if due != count:
            raise RuntimeError(f"{due} deliveries are due, expected {count}")
        return first_email(database, services)
    finally:
        database.dispose()


def pending_due(database: Database) -> int:
    with database.read() as conn:
        query = (
            select(func.count())
            .select_from(deliveries)
            .where(
                deliveries.c.status == "pending",
                deliveries.c.kind == "survey",
                deliveries.c.due_at <= datetime.now(UTC),
            )
        )
        return int(conn.execute(query).scalar_one())


def first_email(database: Database, services: Services) -> OutgoingEmail:
    """The first queued survey's email, rendered by Promoter's own renderer and signer."""
    with database.read() as conn:
        row = conn.execute(
            select(
                surveys.c.token,
                contacts.c.email,
                contacts.c.first_name,
                contacts.c.last_name,
                *TEMPLATE_COLUMNS,
            )
            .select_from(surveys_with_templates())
            .order_by(surveys.c.id)
            .limit(1)
        ).one()
    name = display_name(row.first_name, row.last_name)
    template = template_view(row)
    return services.renderer().render(SurveyEmail(row.email, name, row.token, False), template)


# --- raw smtplib ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawResult:
    messages: int
    seconds: float
    message_bytes: int
    #: CPU seconds of the sending process and of the sink during the baseline.
    sender_cpu: float
    sink_cpu: float
    #: ``send_message`` (a fresh flatten of the EmailMessage each time) on fewer messages.
    flatten_messages: int
    flatten_seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def flatten_rate(self) -> float:
        return self.flatten_messages / self.flatten_seconds


def raw_send(sink: Sink, outgoing: OutgoingEmail, count: int, flatten_count: int) -> RawResult:
    """``count`` copies of ``message`` through one reused ``smtplib`` connection, the bytes
    flattened once (``sendmail``: the baseline); then ``flatten_count`` more with
    ``send_message``, which flattens the message again for every send."""
    data = outgoing.data
    recipient = outgoing.recipient
    message = email.message_from_bytes(data, policy=email.policy.default)
    before = sink_totals(sink.port)
    sink_cpu = cpu_seconds(sink.process.pid)
    cpu = time.process_time()
    started = time.perf_counter()
    with smtplib.SMTP(HOST, sink.port, timeout=30) as smtp:
        smtp.ehlo()
        for _ in range(count):
            smtp.sendmail(SENDER, [recipient], data)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    sink_cpu = cpu_seconds(sink.process.pid) - sink_cpu
    middle = sink_totals(sink.port)
    started = time.perf_counter()
    with smtplib.SMTP(HOST, sink.port, timeout=30) as smtp:
        smtp.ehlo()
        for _ in range(flatten_count):
            smtp.send_message(message)
    flatten_seconds = time.perf_counter() - started
    after = sink_totals(sink.port)
    for (got, _), (was, _), sent in ((middle, before, count), (after, middle, flatten_count)):
        if got - was != sent:
            raise RuntimeError(f"raw smtplib: the sink received {got - was}, sent {sent}")
    size = (middle[1] - before[1]) // count
    return RawResult(count, seconds, size, cpu, sink_cpu, flatten_count, flatten_seconds)


# --- the real worker --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    seconds: float  # since the worker was ready
    sent: int
    rss_kib: int


@dataclass(frozen=True, slots=True)
class WorkerResult:
    messages: int
    #: From the worker's "ready" line to the first poll that sees every delivery sent.
    seconds: float
    #: From spawning the process to the same poll (interpreter start and imports included).
    seconds_with_startup: float
    samples: list[Sample]
    received: int
    message_bytes: int
    exit_code: int
    #: CPU seconds of the worker and of the sink from "ready" to the last poll.
    worker_cpu: float
    sink_cpu: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def rate_with_startup(self) -> float:
        return self.messages / self.seconds_with_startup

    def rss_mib(self) -> dict[str, float]:
        """RSS when the worker was ready, once 10% and 50% were sent, at the end, and peak."""
        samples = self.samples

        def at(fraction: float) -> float:
            reached = [s for s in samples if s.sent >= fraction * self.messages]
            return (reached[0] if reached else samples[-1]).rss_kib / 1024

        return {
            "ready": samples[0].rss_kib / 1024,
            "10%": at(0.1),
            "50%": at(0.5),
            "end": samples[-1].rss_kib / 1024,
            "peak": max(s.rss_kib for s in samples) / 1024,
        }


def promoter_command() -> list[str]:
    script = Path(sys.executable).parent / "promoter"
    return [str(script)] if script.exists() else [sys.executable, "-m", "promoter"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (``/proc/PID/stat``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def sent_count(database: Database) -> int:
    with database.read() as conn:
        query = (
            select(func.count())
            .select_from(deliveries)
            .where(deliveries.c.kind == "survey", deliveries.c.status == "sent")
        )
        return int(conn.execute(query).scalar_one())


def wait_ready(process: subprocess.Popen[bytes], log: Path, timeout: float) -> float:
    """Wait for the worker's ready line; return when it was seen (``perf_counter``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if READY_LINE in log.read_bytes():
            return time.perf_counter()
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited with code {process.returncode}")
        time.sleep(0.01)
    raise RuntimeError(f"the worker was not ready within {timeout:.0f} s")


def run_worker(
    settings: Settings,
    sink: Sink,
    count: int,
    workdir: Path,
    batch_size: int | None,
    timeout: float,
    profile: Path | None,
) -> WorkerResult:
    """``promoter worker`` until every queued delivery is sent; then SIGTERM."""
    database = Database.from_url(settings.database_url)
    before = sink_totals(sink.port)
    log = workdir / f"worker-{uuid.uuid4().hex[:8]}.log"
    command = [*promoter_command(), "worker"]
    if batch_size is not None:
        command += ["--batch-size", str(batch_size)]
    spy: subprocess.Popen[bytes] | None = None
    try:
        with log.open("wb") as out:
            spawned = time.perf_counter()
            process = subprocess.Popen(
                command,
                env=worker_environment(settings),
                cwd=workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                ready = wait_ready(process, log, timeout=60)
                cpu = cpu_seconds(process.pid), cpu_seconds(sink.process.pid)
                if profile is not None:
                    spy = start_profiler(process.pid, profile)
                samples = [Sample(0.0, 0, rss_kib(process.pid))]
                deadline = ready + timeout
                while True:
                    time.sleep(POLL_SECONDS)
                    sent = sent_count(database)
                    now = time.perf_counter()
                    if process.poll() is not None:
                        raise RuntimeError(f"the worker exited with code {process.returncode}")
                    worker_cpu = cpu_seconds(process.pid) - cpu[0]
                    sink_cpu = cpu_seconds(sink.process.pid) - cpu[1]
                    samples.append(Sample(now - ready, sent, rss_kib(process.pid)))
                    if sent >= count:
                        break
                    if now > deadline:
                        raise RuntimeError(f"only {sent} of {count} sent after {timeout:.0f} s")
            except BaseException:
                stop_process(process, grace=5)
                sys.stderr.write(log.read_text(errors="replace")[-4000:])
                raise
            exit_code = stop_process(process)
    finally:
        if spy is not None:  # it writes its file once the worker has exited
            try:
                spy.wait(timeout=60)
            except subprocess.TimeoutExpired:
                stop_process(spy)
        database.dispose()
    after = sink_totals(sink.port)
    received = after[0] - before[0]
    return WorkerResult(
        messages=count,
        seconds=now - ready,
        seconds_with_startup=now - spawned,
        samples=samples,
        received=received,
        message_bytes=(after[1] - before[1]) // max(1, received),
        exit_code=exit_code,
        worker_cpu=worker_cpu,
        sink_cpu=sink_cpu,
    )


def start_profiler(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy on the worker for the whole run (raw format: collapsed stacks)."""
    spy = Path(sys.executable).parent / "py-spy"
    return subprocess.Popen(
        [str(spy), "record", "-p", str(pid), "-f", "raw", "-o", str(output), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def final_state(url: str) -> dict[str, int]:
    """Deliveries and surveys by status after the run, and distinct Message-IDs."""
    database = Database.from_url(url)
    try:
        with database.read() as conn:
            state: dict[str, int] = {}
            for table, name in ((deliveries, "deliveries"), (surveys, "surveys")):
                query = select(table.c.status, func.count()).group_by(table.c.status)
                for status, n in conn.execute(query):
                    state[f"{name} {status}"] = int(n)
            state["distinct Message-IDs"] = int(
                conn.execute(select(func.count(func.distinct(deliveries.c.message_id)))).scalar()
                or 0
            )
            return state
    finally:
        database.dispose()


# --- one round --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Round:
    backend: str
    raw: RawResult
    worker: WorkerResult
    state: dict[str, int]
    setup_seconds: float

    @property
    def ratio(self) -> float:
        return self.worker.rate / self.raw.rate

    def problems(self) -> list[str]:
        n = self.worker.messages
        found = []
        if self.worker.received != n:
            found.append(f"{self.backend}: the sink received {self.worker.received}, queued {n}")
        want = {"deliveries sent": n, "surveys sent": n, "distinct Message-IDs": n}
        for key, value in want.items():
            if self.state.get(key, 0) != value:
                found.append(f"{self.backend}: {key} = {self.state.get(key, 0)}, expected {value}")
        others = {k: v for k, v in self.state.items() if k not in want}
        if others:
            found.append(f"{self.backend}: unexpected rows {others}")
        if self.worker.exit_code != 0:
            found.append(f"{self.backend}: the worker exited with {self.worker.exit_code}")
        return found


def run_round(
    backend: str, url: str, sink: Sink, workdir: Path, args: argparse.Namespace, index: int
) -> Round:
    settings = settings_for(url, sink.port, workdir)
    started = time.monotonic()
    message = queue_surveys(settings, args.surveys, args.per_request)
    setup = time.monotonic() - started
    raw = raw_send(sink, message, args.surveys, min(args.surveys, args.send_message_count))
    profile = None
    if args.profile is not None:
        profile = args.profile.with_name(f"{args.profile.stem}-{backend}-{index}.txt")
    worker = run_worker(
        settings, sink, args.surveys, workdir, args.batch_size, args.timeout, profile
    )
    return Round(backend, raw, worker, final_state(url), setup)


def run_backend(backend: str, sink: Sink, workdir: Path, args: argparse.Namespace) -> list[Round]:
    rounds = []
    for index in range(args.rounds):
        if backend == "sqlite":
            url = f"sqlite:///{workdir / f'send-{index}.sqlite3'}"
            result = run_round(backend, url, sink, workdir, args, index)
        else:
            with postgres_database(args.postgres_url) as url:
                result = run_round(backend, url, sink, workdir, args, index)
        print(progress(result), flush=True)
        rounds.append(result)
    return rounds


# --- report -----------------------------------------------------------------------------


def progress(r: Round) -> str:
    rss = r.worker.rss_mib()
    return (
        f"{r.backend}: worker {r.worker.rate:,.0f} sends/s "
        f"({r.worker.rate_with_startup:,.0f} with startup), raw smtplib {r.raw.rate:,.0f}/s "
        f"({r.raw.flatten_rate:,.0f}/s with send_message), ratio {r.ratio:.1%}; "
        f"RSS {rss['ready']:.1f} -> {rss['10%']:.1f} -> {rss['50%']:.1f} -> {rss['end']:.1f} MiB; "
        f"queued in {r.setup_seconds:.1f} s"
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def runs(values: Sequence[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


def report(results: dict[str, list[Round]], args: argparse.Namespace) -> str:
    lines = [
        f"Workload: {args.surveys:,} surveys queued per round, {args.rounds} round(s) per "
        f"backend; worker batch size {args.batch_size or 'default (50)'}.",
        "",
        "| measurement | median | runs |",
        "|---|---|---|",
    ]
    all_rounds = [r for rounds in results.values() for r in rounds]
    raw = [r.raw.rate for r in all_rounds]
    flatten = [r.raw.flatten_rate for r in all_rounds]
    lines.append(f"| raw smtplib, sendmail of the same bytes (baseline) | {median(raw):,.0f} "
                 f"sends/s | {runs(raw)} |")  # fmt: skip
    lines.append(f"| raw smtplib, send_message (flattened each time; "
                 f"{all_rounds[0].raw.flatten_messages:,} messages) | {median(flatten):,.0f} "
                 f"sends/s | {runs(flatten)} |")  # fmt: skip
    for backend, rounds in results.items():
        rates = [r.worker.rate for r in rounds]
        with_startup = [r.worker.rate_with_startup for r in rounds]
        lines.append(f"| {backend}: promoter worker | {median(rates):,.0f} sends/s "
                     f"| {runs(rates)} |")  # fmt: skip
        lines.append(f"| {backend}: promoter worker, process start included "
                     f"| {median(with_startup):,.0f} sends/s | {runs(with_startup)} |")  # fmt: skip
    lines.append("")
    for backend, rounds in results.items():
        ratio = median([r.worker.rate for r in rounds]) / median([r.raw.rate for r in rounds])
        each = ", ".join(f"{r.ratio:.1%}" for r in rounds)
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        lines.append(
            f"{backend} end-to-end / raw: {ratio:.1%} (rounds: {each}; "
            f"target >= {TARGET_RATIO:.0%}: {verdict})"
        )
    for backend, rounds in results.items():
        growth = max(r.worker.rss_mib()["end"] - r.worker.rss_mib()["10%"] for r in rounds)
        verdict = "flat" if growth <= FLAT_RSS_MIB else "NOT flat"
        lines.append(
            f"{backend} worker memory: RSS {growth:+.1f} MiB from 10% sent to the end "
            f"(flat: within {FLAT_RSS_MIB:.0f} MiB): {verdict}"
        )
    lines.append("")
    for backend, rounds in results.items():
        for index, r in enumerate(rounds):
            rss = r.worker.rss_mib()
            w, base, n = r.worker, r.raw, r.worker.messages
            lines.append(
                f"{backend} round {index + 1}: worker RSS ready {rss['ready']:.1f} MiB, "
                f"10% sent {rss['10%']:.1f}, 50% {rss['50%']:.1f}, end {rss['end']:.1f}, "
                f"peak {rss['peak']:.1f} "
                f"({len(w.samples)} samples); CPU ms per message: worker "
                f"{w.worker_cpu / n * 1000:.2f} + sink {w.sink_cpu / n * 1000:.2f}, raw sender "
                f"{base.sender_cpu / base.messages * 1000:.2f} + sink "
                f"{base.sink_cpu / base.messages * 1000:.2f}; message {w.message_bytes:,} bytes "
                f"(raw {base.message_bytes:,}); sink received {w.received:,}; {r.state}"
            )
    return "\n".join(lines)


def machine(args: argparse.Namespace) -> str:
    return describe(args)


def results_json(results: dict[str, list[Round]]) -> dict[str, Any]:
    return {
        backend: [
            {
                "worker_sends_per_s": r.worker.rate,
                "worker_sends_per_s_with_startup": r.worker.rate_with_startup,
                "raw_sends_per_s": r.raw.rate,
                "raw_send_message_per_s": r.raw.flatten_rate,
                "ratio": r.ratio,
                "rss_mib": r.worker.rss_mib(),
                "cpu_ms_per_message": {
                    "worker": r.worker.worker_cpu / r.worker.messages * 1000,
                    "worker_phase_sink": r.worker.sink_cpu / r.worker.messages * 1000,
                    "raw_sender": r.raw.sender_cpu / r.raw.messages * 1000,
                    "raw_phase_sink": r.raw.sink_cpu / r.raw.messages * 1000,
                },
                "samples": [[s.seconds, s.sent, s.rss_kib] for s in r.worker.samples],
                "state": r.state,
            }
            for r in rounds
        ]
        for backend, rounds in results.items()
    }


# --- command line -----------------------------------------------------------------------


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="admin URL")
    parser.add_argument("--surveys", type=positive, default=10_000, help="queued per round")
    parser.add_argument("--rounds", type=positive, default=1, help="per backend (median)")
    parser.add_argument(
        "--batch-size", type=positive, default=None, help="`promoter worker --batch-size`"
    )
    parser.add_argument(
        "--per-request", type=positive, default=250, help="contacts per ingestion call (setup)"
    )
    parser.add_argument(
        "--send-message-count",
        type=positive,
        default=2000,
        help="messages for the secondary smtplib send_message figure",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds the worker may take")
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the SQLite files go")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="run py-spy on the worker; collapsed stacks go to FILE-<backend>-<round>.txt",
    )
    parser.add_argument("--sink", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sink is not None:
        return run_sink(args.sink)
    started = time.monotonic()
    print(f"machine: {machine(args)}", flush=True)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results: dict[str, list[Round]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="promoter-send-", dir=args.tmpdir) as tmp,
        running_sink(Path(tmp)) as sink,
    ):
        for backend in backends:
            results[backend] = run_backend(backend, sink, Path(tmp), args)
    problems = [p for rounds in results.values() for r in rounds for p in r.problems()]
    print()
    print(report(results, args))
    print(f"\ndelivery check (sink count, every delivery sent once): {problems or 'ok'}")
    print(f"total time {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results_json(results), indent=2) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
