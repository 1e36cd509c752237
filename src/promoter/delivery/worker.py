"""The delivery worker: claims due deliveries, renders and sends them, records the outcome.

``promoter serve`` runs one in the process; ``promoter worker`` runs it alone. Outcomes
of a batch are recorded together after it is sent, in the transaction that claims the
next batch; a worker killed before that resends this batch once its lease expires, and
nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection

from promoter.delivery.mailers import FileMailer, Mailer, PermanentFailure, TemporaryFailure
from promoter.delivery.notices import (
    ClaimedNotice,
    claim_notices,
    mark_notice_failed,
    mark_notice_retry,
    mark_notices_sent,
)
from promoter.delivery.outbox import (
    Claimed,
    claim_due,
    mark_bounced,
    mark_failed,
    mark_retry,
    mark_sent,
)
from promoter.delivery.render import EmailRenderer, for_organization
from promoter.jobs.loop import run_until_stopped
from promoter.jobs.retry import RetryPolicy
from promoter.storage.engine import Database

log = logging.getLogger("promoter.delivery")

#: Retry delays double from 30 s up to an hour, with ±20% jitter; temporary failures are
#: retried for as long as they last (a stopped mail server delays mail, never loses it).
RETRY = RetryPolicy(first=timedelta(seconds=30), cap=timedelta(hours=1))


@dataclass(frozen=True, slots=True)
class _Outcome:
    item: Claimed
    message_id: str | None = None
    retry_error: str | None = None
    bounce_error: str | None = None
    fail_error: str | None = None


@dataclass(frozen=True, slots=True)
class _NoticeOutcome:
    item: ClaimedNotice
    message_id: str | None = None
    retry_error: str | None = None
    fail_error: str | None = None


class DeliveryWorker:
    def __init__(
        self,
        *,
        database: Database,
        mailer: Mailer,
        renderer: EmailRenderer,
        batch_size: int = 50,
        lease: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self._database = database
        self._mailer = mailer
        self._renderer = renderer
        self._batch_size = batch_size
        self._lease = lease
        self._clock = clock
        self._rng = rng or random.Random()

    async def run_once(self) -> int:
        """Send one batch of due deliveries and one of notice emails, and record their
        outcomes; return how many were in them."""
        done, _ = await self._round([], claim_next=False)
        return done

    async def _round(self, ahead: list[Claimed], *, claim_next: bool) -> tuple[int, list[Claimed]]:
        """Send ``ahead`` (or a batch claimed now) and record the outcomes, claiming the
        next batch in the same transaction if ``claim_next``; then one batch of notice
        emails. How many were handled, and the next batch."""
        claimed, cancelled = (ahead, 0) if ahead else await self._claim()
        outcomes = await self._send_all(claimed)
        following, more = await self._record(outcomes, claim_next=claim_next)
        return len(claimed) + cancelled + more + await self._notices(), following

    async def _claim(self) -> tuple[list[Claimed], int]:
        now = self._clock()
        return await asyncio.to_thread(
            self._database.run_write,
            lambda conn: claim_due(conn, now=now, limit=self._batch_size, lease=self._lease),
        )

    async def _send_all(self, claimed: list[Claimed]) -> list[_Outcome]:
        # Sent side by side, as many at a time as the mailer has connections.
        return list(await asyncio.gather(*(self._send(item) for item in claimed)))

    async def _record(
        self, outcomes: list[_Outcome], *, claim_next: bool
    ) -> tuple[list[Claimed], int]:
        """Record ``outcomes`` and, if ``claim_next``, claim the next batch in the same
        transaction: one commit a batch, and never a second batch claimed before this
        one is recorded. Returns the claim (see :func:`claim_due`)."""
        if not outcomes:
            return [], 0
        record = self._recorder(outcomes)
        now = self._clock()

        def record_then_claim(conn: Connection) -> tuple[list[Claimed], int]:
            record(conn)
            if not claim_next:
                return [], 0
            return claim_due(conn, now=now, limit=self._batch_size, lease=self._lease)

        return await asyncio.to_thread(self._database.run_write, record_then_claim)

    async def _notices(self) -> int:
        """Claim, send and record one batch of notice emails (NPS alerts); how many."""
        now = self._clock()
        notices = await asyncio.to_thread(
            self._database.run_write,
            lambda conn: claim_notices(conn, now=now, limit=self._batch_size, lease=self._lease),
        )
        told = list(await asyncio.gather(*(self._send_notice(item) for item in notices)))
        if told:
            await asyncio.to_thread(self._database.run_write, self._notice_recorder(told))
        return len(notices)

    async def _send_notice(self, item: ClaimedNotice) -> _NoticeOutcome:
        try:
            message = for_organization(
                self._renderer.render_notice(item.notice), item.organization_id
            )
        except Exception as exc:
            log.exception("notice %s cannot be rendered", item.notice_id)
            return _NoticeOutcome(item, fail_error=f"cannot render: {exc}")
        try:
            await self._mailer.send(message)
        except TemporaryFailure as exc:
            log.warning("notice %s delayed: %s", item.notice_id, exc)
            return _NoticeOutcome(item, retry_error=str(exc))
        except PermanentFailure as exc:
            log.warning("notice %s refused: %s", item.notice_id, exc)
            return _NoticeOutcome(item, fail_error=str(exc))
        return _NoticeOutcome(item, message_id=message.message_id)

    def _notice_recorder(self, outcomes: list[_NoticeOutcome]) -> Callable[[Connection], None]:
        now = self._clock()

        def record(conn: Connection) -> None:
            sent = [(o.item, o.message_id) for o in outcomes if o.message_id is not None]
            mark_notices_sent(conn, sent, now=now)
            for o in outcomes:
                if o.fail_error is not None:
                    mark_notice_failed(conn, o.item, error=o.fail_error)
                elif o.retry_error is not None:
                    delay = RETRY.delay(o.item.attempts, self._rng)
                    mark_notice_retry(conn, o.item, error=o.retry_error, due_at=now + delay)

        return record

    async def _send(self, item: Claimed) -> _Outcome:
        try:
            if item.reply is not None:
                message = self._renderer.render_reply(item.reply)
            elif item.feedback is not None:
                message = self._renderer.render_feedback(item.feedback)
            else:
                message = self._renderer.render(item.email, item.template)
            message = for_organization(message, item.organization_id)
        except Exception as exc:  # one message that cannot be built must not block the rest
            log.exception("delivery %s cannot be rendered", item.delivery_id)
            return _Outcome(item, fail_error=f"cannot render: {exc}")
        try:
            await self._mailer.send(message)
        except TemporaryFailure as exc:
            log.warning(
                "delivery %s to %s delayed: %s", item.delivery_id, item.email.to_address, exc
            )
            return _Outcome(item, retry_error=str(exc))
        except PermanentFailure as exc:
            log.warning(
                "delivery %s to %s bounced: %s", item.delivery_id, item.email.to_address, exc
            )
            return _Outcome(item, bounce_error=str(exc))
        if isinstance(self._mailer, FileMailer) and item.kind in ("survey", "reminder"):
            links, _ = self._renderer.links(item.email.token)
            log.info(
                "%s for %s written to %s; answer at %s<0-10>",
                item.kind,
                item.email.to_address,
                self._mailer.folder,
                links[0][1][: -len("0")],
            )
        return _Outcome(item, message_id=message.message_id)

    def _recorder(self, outcomes: list[_Outcome]) -> Callable[[Connection], None]:
        now = self._clock()

        def record(conn: Connection) -> None:
            sent = [(o.item, o.message_id) for o in outcomes if o.message_id is not None]
            mark_sent(conn, sent, now=now)
            for outcome in outcomes:
                if outcome.message_id is not None:
                    continue
                if outcome.bounce_error is not None:
                    mark_bounced(conn, outcome.item, error=outcome.bounce_error, now=now)
                elif outcome.fail_error is not None:
                    mark_failed(conn, outcome.item, error=outcome.fail_error)
                else:
                    delay = RETRY.delay(outcome.item.attempts, self._rng)
                    mark_retry(
                        conn, outcome.item, error=outcome.retry_error or "", due_at=now + delay
                    )

        return record

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 1.0) -> None:
        """Work until ``stop`` is set, finishing the batch in hand: a batch's outcomes are
        recorded in the transaction that claims the next batch, before that one is sent,
        so a killed worker holds at most one batch sent and not yet recorded, and no other
        claimed batch."""
        ahead: list[Claimed] = []

        async def round_() -> int:
            nonlocal ahead
            claimed, ahead = ahead, []
            done, ahead = await self._round(claimed, claim_next=not stop.is_set())
            return done

        try:
            await run_until_stopped(
                stop, round_, log=log, what="delivery", idle_seconds=idle_seconds
            )
            if ahead:  # claimed as the stop came: in hand, so sent and recorded too
                try:
                    await round_()
                except Exception:
                    log.exception("delivery round failed while stopping; its leases expire")
        finally:
            await self._mailer.close()
