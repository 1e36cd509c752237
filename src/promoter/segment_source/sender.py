"""The Segment source's sender: claimed messages go to their organization's host as
``POST {host}/v1/batch`` (Segment's HTTP API), with the write key in Basic auth.

Batches follow Segment's limits: at most 100 messages and 500 KB a request, 32 KB a
message. A 2xx answer delivers the whole batch; 5xx, 429 and timeouts are tried again
(after ``Retry-After`` when the host sends one); other 4xx fail the batch with the reason.
Answers' bodies are never read or kept. Connections go through the same address policy
as webhooks (:mod:`promoter.webhooks.targets`).
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

import httpx2 as httpx
import orjson

from promoter import __version__
from promoter.jobs.loop import run_until_stopped
from promoter.segment_source.messages import timestamp
from promoter.segment_source.outbox import (
    LOG_RETENTION,
    MOST_RETRY_AFTER,
    Claimed,
    Outcome,
    claim_due,
    prune,
    record,
)
from promoter.storage.engine import Database
from promoter.webhooks.targets import TargetPolicy
from promoter.webhooks.transport import GuardedTransport, Resolver, post, resolve, status_line

log = logging.getLogger("promoter.segment_source")

USER_AGENT = f"Promoter/{__version__} (Segment source)"
MAX_MESSAGES = 100
#: Under Segment's 500 KB, as its own libraries keep (475,000 bytes).
MAX_BATCH_BYTES = 475_000
MAX_MESSAGE_BYTES = 32 * 1024
#: Room kept in a batch for its envelope (``{"batch": [...], "sentAt": ...}``).
ENVELOPE_BYTES = 100
CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 15.0
PRUNE_INTERVAL_SECONDS = 600.0
TOO_BIG = "message over Segment's 32 KB limit"


def batches(items: Sequence[Claimed]) -> Iterator[tuple[list[Claimed], list[bytes]]]:
    """``items`` of one organization in batches within Segment's limits (messages over
    32 KB are left out: see :func:`too_big`)."""
    batch: list[Claimed] = []
    encoded: list[bytes] = []
    size = ENVELOPE_BYTES
    for item in items:
        body = orjson.dumps(item.message)
        if len(body) > MAX_MESSAGE_BYTES:
            continue
        if batch and (len(batch) == MAX_MESSAGES or size + len(body) + 1 > MAX_BATCH_BYTES):
            yield batch, encoded
            batch, encoded, size = [], [], ENVELOPE_BYTES
        batch.append(item)
        encoded.append(body)
        size += len(body) + 1
    if batch:
        yield batch, encoded


def too_big(items: Sequence[Claimed]) -> list[Claimed]:
    return [item for item in items if len(orjson.dumps(item.message)) > MAX_MESSAGE_BYTES]


def body_of(encoded: Sequence[bytes], now: datetime) -> bytes:
    sent_at = orjson.dumps(timestamp(now))
    return b'{"batch":[' + b",".join(encoded) + b'],"sentAt":' + sent_at + b"}"


def authorization(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode("ascii")


def retry_after(value: str | None, now: datetime) -> datetime | None:
    """When a ``Retry-After`` header (seconds, or an HTTP date) says to try again."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        # Any number of seconds: the outbox waits MOST_RETRY_AFTER at the most anyway.
        seconds = min(int(value[:12]), int(MOST_RETRY_AFTER.total_seconds()))
        return now + timedelta(seconds=seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when, now)


class SegmentSender:
    def __init__(
        self,
        *,
        database: Database,
        policy: TargetPolicy,
        claim_size: int = 500,
        lease: timedelta = timedelta(minutes=2),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        total_timeout: float = TOTAL_TIMEOUT,
        resolver: Resolver = resolve,
    ) -> None:
        self._database = database
        self._policy = policy
        self._claim_size = claim_size
        self._lease = lease
        self._clock = clock
        self._rng = rng or random.Random()
        self._connect_timeout = connect_timeout
        self._total_timeout = total_timeout
        self._resolver = resolver

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self._total_timeout, connect=self._connect_timeout),
            follow_redirects=False,
            transport=GuardedTransport(
                policy=self._policy, resolver=self._resolver, max_connections=10
            ),
        )

    async def _post(
        self, client: httpx.AsyncClient, batch: list[Claimed], encoded: list[bytes]
    ) -> list[Outcome]:
        """One batch's outcomes; whatever goes wrong with it stays with it (retried), so one
        organization's host can never keep the round from recording the others'."""
        try:
            return await self._post_batch(client, batch, encoded)
        except Exception as exc:
            log.exception("Segment batch of %d to %s failed", len(batch), batch[0].host)
            error = f"could not be sent ({type(exc).__name__})"
            return [Outcome(item, None, error, False, None) for item in batch]

    async def _post_batch(
        self, client: httpx.AsyncClient, batch: list[Claimed], encoded: list[bytes]
    ) -> list[Outcome]:
        first = batch[0]
        now = self._clock()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": authorization(first.write_key),
        }
        url = f"{first.host}/v1/batch"
        answer = await post(
            client,
            url,
            content=body_of(encoded, now),
            headers=headers,
            connect_timeout=self._connect_timeout,
            total_timeout=self._total_timeout,
        )
        status, error, permanent = answer.status, answer.error, answer.permanent
        retry_at: datetime | None = None
        if status is not None and 200 <= status < 300:
            error = None  # answered 2xx: the batch is the host's
        elif status is not None:
            error = status_line(status)
            permanent = status < 500 and status != 429
            if not permanent:
                retry_at = retry_after((answer.headers or {}).get("retry-after"), now)
        if error is not None:
            log.info("Segment batch of %d to %s: %s", len(batch), url, error)
        return [Outcome(item, status, error, permanent, retry_at) for item in batch]

    async def run_once(self, client: httpx.AsyncClient | None = None) -> int:
        """Send the due messages claimed in one round; return how many were claimed."""
        now = self._clock()
        claimed = await asyncio.to_thread(
            self._database.run_write,
            lambda conn: claim_due(conn, now=now, limit=self._claim_size, lease=self._lease),
        )
        if not claimed:
            return 0
        outcomes = [Outcome(item, error=TOO_BIG, permanent=True) for item in too_big(claimed)]
        by_org: dict[int, list[Claimed]] = {}
        for item in claimed:
            by_org.setdefault(item.organization_id, []).append(item)
        work = [pair for items in by_org.values() for pair in batches(items)]
        if client is None:
            async with self._client() as own:
                sent = await asyncio.gather(*(self._post(own, b, e) for b, e in work))
        else:
            sent = await asyncio.gather(*(self._post(client, b, e) for b, e in work))
        outcomes.extend(outcome for batch in sent for outcome in batch)
        done = self._clock()
        await asyncio.to_thread(
            self._database.run_write,
            lambda conn: record(conn, outcomes, now=done, rng=self._rng),
        )
        return len(claimed)

    async def prune_once(self, chunk: int = 1000) -> int:
        """Delete the finished messages older than the retention, a chunk per transaction,
        until none is left; return how many went."""
        cutoff = self._clock() - LOG_RETENTION
        removed = 0
        while True:
            gone = await asyncio.to_thread(
                self._database.run_write,
                lambda conn: prune(conn, older_than=cutoff, limit=chunk),
            )
            removed += gone
            if gone < chunk:
                return removed

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 1.0) -> None:
        """Work until ``stop`` is set, finishing the round in hand."""
        pruned_at = time.monotonic()
        async with self._client() as client:

            async def round_() -> int:
                nonlocal pruned_at
                busy = await self.run_once(client)
                if time.monotonic() - pruned_at > PRUNE_INTERVAL_SECONDS:
                    pruned_at = time.monotonic()
                    await self.prune_once()
                return busy

            await run_until_stopped(
                stop, round_, log=log, what="Segment source", idle_seconds=idle_seconds
            )
