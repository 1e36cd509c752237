"""The webhook sender: claims due deliveries, posts them (signed), records the outcome.

``promoter serve`` runs one in the process, beside the email worker; ``promoter worker``
runs both. A request succeeds when the receiver answers 2xx within the timeouts (5 s to
connect, 10 s in all); redirects are not followed. Only addresses the operator's
:class:`~promoter.webhooks.targets.TargetPolicy` allows are connected to; a refused target
fails its delivery at once. Of an answer only the status code is kept, never the body:
it may hold the receiver's secrets, and the log is shown to the organization. The outcomes
of a batch are recorded together once it is sent; a sender killed in between sends that
batch again once its leases expire (receivers deduplicate with ``Promoter-Event-Id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta

import httpx2 as httpx
import orjson

from promoter import __version__
from promoter.jobs.loop import run_until_stopped
from promoter.storage.engine import Database
from promoter.webhooks import slack
from promoter.webhooks.outbox import (
    LOG_RETENTION,
    Claimed,
    Outcome,
    claim_due,
    claim_one,
    create_ping,
    prune,
    record,
)
from promoter.webhooks.signing import EVENT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, sign
from promoter.webhooks.subscriptions import Delivery, get_delivery
from promoter.webhooks.targets import TargetPolicy
from promoter.webhooks.transport import GuardedTransport, Resolver, post, resolve, status_line

log = logging.getLogger("promoter.webhooks")

USER_AGENT = f"Promoter-Webhooks/{__version__}"
CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 10.0
#: How often finished deliveries older than the retention are deleted.
PRUNE_INTERVAL_SECONDS = 600.0


class WebhookSender:
    def __init__(
        self,
        *,
        database: Database,
        base_url: str,
        batch_size: int = 20,
        lease: timedelta = timedelta(minutes=2),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        total_timeout: float = TOTAL_TIMEOUT,
        policy: TargetPolicy,
        resolver: Resolver = resolve,
    ) -> None:
        self._database = database
        self._base_url = base_url.rstrip("/")
        self._batch_size = batch_size
        self._lease = lease
        self._clock = clock
        self._rng = rng or random.Random()
        self._connect_timeout = connect_timeout
        self._total_timeout = total_timeout
        self._policy = policy
        self._resolver = resolver
        self._client: httpx.AsyncClient | None = None

    # --- requests ---------------------------------------------------------------------------

    def request(self, item: Claimed, now: datetime) -> tuple[bytes, dict[str, str]]:
        """The body and headers of ``item``'s request, signed at ``now``."""
        if item.format == "slack":
            document = slack.message(
                item.payload, base_url=self._base_url, campaign_name=item.campaign_name
            )
        else:
            document = item.payload
        body = orjson.dumps(document)
        current, *previous = item.signing_secrets(now)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(current, body, int(now.timestamp()), *previous),
            EVENT_ID_HEADER: item.event_id,
            EVENT_HEADER: item.event,
        }
        return body, headers

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self._total_timeout, connect=self._connect_timeout),
            follow_redirects=False,
            transport=GuardedTransport(
                policy=self._policy,
                resolver=self._resolver,
                max_connections=max(10, self._batch_size),
            ),
        )

    @contextlib.asynccontextmanager
    async def _client_in_hand(self) -> AsyncIterator[httpx.AsyncClient]:
        if self._client is not None:
            yield self._client
            return
        async with self._new_client() as client:
            yield client

    async def _post(self, client: httpx.AsyncClient, item: Claimed) -> Outcome:
        now = self._clock()
        body, headers = self.request(item, now)
        started = time.monotonic()
        answer = await post(
            client,
            item.target_url,
            content=body,
            headers=headers,
            connect_timeout=self._connect_timeout,
            total_timeout=self._total_timeout,
        )
        status, error, permanent = answer.status, answer.error, answer.permanent
        duration_ms = int((time.monotonic() - started) * 1000)
        if status is not None and 200 <= status < 300:
            error = None  # answered 2xx: whatever happened to the rest of the body
        elif status is not None and error is None:
            error = status_line(status)
        if error is not None:
            log.info("webhook delivery %s to %s: %s", item.delivery_id, item.target_url, error)
        return Outcome(item, now, duration_ms, status, error, permanent=permanent)

    # --- the outbox -------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Send one batch of due deliveries; return how many were in it."""
        now = self._clock()
        claimed = await asyncio.to_thread(
            self._database.run_write,
            lambda conn: claim_due(conn, now=now, limit=self._batch_size, lease=self._lease),
        )
        if not claimed:
            return 0
        async with self._client_in_hand() as client:
            outcomes = await asyncio.gather(*(self._post(client, item) for item in claimed))
        await self._record(outcomes)
        return len(claimed)

    async def _record(self, outcomes: Sequence[Outcome]) -> None:
        now = self._clock()
        disabled = await asyncio.to_thread(
            self._database.run_write,
            lambda conn: record(conn, outcomes, now=now, rng=self._rng),
        )
        for subscription_id in disabled:
            log.warning("webhook %s disabled: it failed for 24 hours", subscription_id)

    async def prune_once(self) -> int:
        """Delete finished deliveries older than the retention (a bounded number)."""
        cutoff = self._clock() - LOG_RETENTION
        return await asyncio.to_thread(
            self._database.run_write, lambda conn: prune(conn, older_than=cutoff)
        )

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 1.0) -> None:
        """Work until ``stop`` is set, finishing the batch in hand."""
        pruned_at = time.monotonic()

        async def round_() -> int:
            nonlocal pruned_at
            busy = await self.run_once()
            if time.monotonic() - pruned_at > PRUNE_INTERVAL_SECONDS:
                pruned_at = time.monotonic()
                await self.prune_once()
            return busy

        async with self._new_client() as client:
            self._client = client
            try:
                await run_until_stopped(
                    stop, round_, log=log, what="webhook", idle_seconds=idle_seconds
                )
            finally:
                self._client = None

    # --- by hand ----------------------------------------------------------------------------

    async def redeliver(
        self, *, organization_id: int, subscription_id: int, delivery_id: int
    ) -> Delivery:
        """Send a delivery again now, whatever its status; the attempt is logged as manual.
        Raises ``WebhookNotFound``, or ``DeliveryBusy`` while a sender holds it."""
        now = self._clock()
        item = await asyncio.to_thread(
            self._database.run_write,
            lambda conn: claim_one(
                conn,
                organization_id=organization_id,
                subscription_id=subscription_id,
                delivery_id=delivery_id,
                now=now,
                lease=self._lease,
            ),
        )
        return await self._send_now(item)

    async def ping(self, *, organization_id: int, subscription_id: int) -> Delivery:
        """Send a ``ping`` event to the subscription now (tried once, even when disabled)."""
        now = self._clock()
        item = await asyncio.to_thread(
            self._database.run_write,
            lambda conn: create_ping(
                conn,
                organization_id=organization_id,
                subscription_id=subscription_id,
                now=now,
                lease=self._lease,
            ),
        )
        return await self._send_now(item)

    async def _send_now(self, item: Claimed) -> Delivery:
        async with self._client_in_hand() as client:
            outcome = await self._post(client, item)
        await self._record([outcome])

        def load() -> Delivery:
            with self._database.read() as conn:
                return get_delivery(
                    conn,
                    organization_id=item.organization_id,
                    subscription_id=item.subscription_id,
                    delivery_id=item.delivery_id,
                )

        return await asyncio.to_thread(load)
