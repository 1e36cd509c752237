"""``create_app(services)``: the ASGI application, wired from explicit objects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Depends, FastAPI
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from promoter import __version__
from promoter.accounts import shown_once
from promoter.accounts.sessions import purge_expired
from promoter.alerts.check import Alerting, check_daily
from promoter.analytics.theme_store import Rounds, update_all
from promoter.config import Settings
from promoter.digest.send import Digesting, send_weekly
from promoter.ingest.dedup import prune_processed_messages
from promoter.jobs.loop import run_until_stopped
from promoter.services import Services
from promoter.storage.campaign_counts import compact
from promoter.storage.engine import ping
from promoter.storage.errors import DATABASE_UNAVAILABLE, describe
from promoter.storage.instance import claim_turn
from promoter.web import (
    dashboard,
    health,
    link_pages,
    logos,
    segment,
    survey_pages,
    web_survey_api,
    widget_script,
)
from promoter.web.access import check_access
from promoter.web.errors import install_error_handlers
from promoter.web.openapi import install_openapi
from promoter.web.ratelimit import (
    ApiRateLimit,
    FailedAuthBudget,
    FailedAuthLimit,
    SurveyPageRateLimit,
)
from promoter.web.readiness import FRESH_SECONDS, Readiness
from promoter.web.rest import (
    alerts,
    analytics,
    campaign_links,
    campaigns,
    contacts,
    drivers,
    exports,
    feedback,
    keywords,
    lists,
    metrics,
    organization,
    segment_source,
    suppressions,
    templates,
    themes,
    web_survey,
    webhooks,
)
from promoter.web.rest.v1 import PromoterV1Paths
from promoter.web.segment_asgi import PromoterApp, SegmentIngress
from promoter.web.survey_rendering import SurveyPages
from promoter.web.threads import read
from promoter.web.widget_script import WidgetScript

log = logging.getLogger("promoter.app")

#: How often replay protection forgets messageIds older than the retention.
PRUNE_INTERVAL_SECONDS = 600
#: The housekeeping turn shared by every server process on the database.
HOUSEKEEPING_TURN = "housekeeping_round_at"
#: A process skips its round when another did one less than this long ago: with N
#: processes (each on its own ten-minute clock) one round is done about every ten minutes.
HOUSEKEEPING_EVERY = timedelta(seconds=PRUNE_INTERVAL_SECONDS * 0.9)


def _prune(conn: Connection, services: Services, *, now: datetime) -> int:
    cutoff = now - timedelta(hours=services.settings.dedup_retention_hours)
    removed = prune_processed_messages(conn, older_than=cutoff)
    purge_expired(conn, now=now)
    shown_once.purge_expired(conn, now=now)
    compact(conn)
    return removed


def prune(services: Services, *, now: datetime) -> int:
    """Forget processed messageIds older than the retention, sign-in sessions that have
    expired and secrets never shown, and merge the campaigns' rows of counts; returns how
    many messageIds went."""
    with services.database.write() as conn:
        removed = _prune(conn, services, now=now)
    services.database.refresh_statistics()
    return removed


def housekeeping_round(services: Services, *, now: datetime) -> int | None:
    """:func:`prune`, unless another process sharing the database did a round less than
    HOUSEKEEPING_EVERY ago (then None): several ``promoter serve`` processes do one round
    between them, and two never delete the same rows at once."""
    with services.database.write() as conn:
        if not claim_turn(conn, key=HOUSEKEEPING_TURN, now=now, every=HOUSEKEEPING_EVERY):
            return None
        removed = _prune(conn, services, now=now)
    services.database.refresh_statistics()
    return removed


async def _prune_until(stop: asyncio.Event, services: Services) -> None:
    """Every PRUNE_INTERVAL_SECONDS, a housekeeping round (:func:`housekeeping_round`,
    skipped when another process sharing the database has just done one).

    Stops when ``stop`` is set, never in the middle of a prune, so no connection is
    left checked out when the database is disposed of.
    """
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=PRUNE_INTERVAL_SECONDS)
            return
        except TimeoutError:
            pass
        try:
            removed = await run_in_threadpool(
                lambda: housekeeping_round(services, now=datetime.now(UTC))
            )
            if removed:
                log.info("forgot %d processed messageIds past the retention", removed)
        except DATABASE_UNAVAILABLE as exc:  # prune on the next round
            log.error(
                "pruning processed messageIds failed, database unavailable (%s)", describe(exc)
            )
        except Exception:  # keep pruning on the next round; the service stays up
            log.exception("pruning processed messageIds failed")
        await _check_alerts(services)
        await _send_digests(services)


def alerting(services: Services) -> Alerting:
    """What NPS alert checks need, from the services."""
    return Alerting(services.database, services.analytics, services.settings.public_url)


def check_alerts(services: Services, *, now: datetime) -> int:
    """The daily NPS alert check of the organizations not checked today (see alerts/);
    returns how many alerts it raised."""
    return sum(len(checked.alerts) for checked in check_daily(alerting(services), now=now))


async def _check_alerts(services: Services) -> None:
    try:
        await run_in_threadpool(lambda: check_alerts(services, now=datetime.now(UTC)))
    except DATABASE_UNAVAILABLE as exc:  # checked on the next round
        log.error("NPS alert check failed, database unavailable (%s)", describe(exc))
    except Exception:
        log.exception("NPS alert check failed")


def digesting(services: Services) -> Digesting:
    """What weekly digests need, from the services."""
    return Digesting(services.database, services.analytics, services.settings.public_url)


def send_digests(services: Services, *, now: datetime) -> int:
    """Queue the last week's digest of the organizations not sent it (see digest/);
    returns how many emails it queued."""
    return send_weekly(digesting(services), now=now)


async def _send_digests(services: Services) -> None:
    try:
        await run_in_threadpool(lambda: send_digests(services, now=datetime.now(UTC)))
    except DATABASE_UNAVAILABLE as exc:  # sent on the next round
        log.error("weekly digest failed, database unavailable (%s)", describe(exc))
    except Exception:
        log.exception("weekly digest failed")


def update_themes_now(services: Services, *, now: datetime, rounds: Rounds | None = None) -> int:
    """A themes round for every organization with comments to embed (analytics/
    theme_store.py); returns how many comments were embedded. ``rounds``: what the
    process's earlier rounds remember (the responses changed since are looked at)."""
    return update_all(
        services.database, embedder=services.analytics.embedder, now=now, rounds=rounds
    )


async def themes_until(stop: asyncio.Event, services: Services) -> None:
    """Every PROMOTER_THEMES_INTERVAL_SECONDS (0: never) a themes round, at once again
    while the last one embedded something (a backlog goes in batches). The first waits
    the interval too: a process that serves briefly never loads the model. Run by the
    processes that send (cli/processes.py), not by every API process: each loads the
    model."""
    every = services.settings.themes_interval_seconds
    if every == 0:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=every)

    rounds = Rounds()

    async def round_() -> int:
        return await run_in_threadpool(
            lambda: update_themes_now(services, now=datetime.now(UTC), rounds=rounds)
        )

    await run_until_stopped(stop, round_, log=log, what="themes", idle_seconds=every)


Background = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def create_app(services: Services, background: Sequence[Background] = ()) -> FastAPI:
    """The app; ``background`` tasks (a delivery worker, say) run while it serves and are
    asked to stop, and awaited, when it shuts down."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(_prune_until(stop, services))]
        tasks += [asyncio.create_task(task(stop)) for task in background]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(services.analytics.close)
            services.database.dispose()

    app = PromoterApp(
        title="Promoter",
        version=__version__,
        summary="Self-hosted NPS surveys driven by your Segment event stream.",
        lifespan=lifespan,
        # Every route's role, checked in one place (web/access.py).
        dependencies=[Depends(check_access)],
    )
    app.state.services = services
    # A SQLite database is a file of this process's own: a second-old answer is as good.
    # A PostgreSQL server may go away at any moment: each health check asks it.
    app.state.readiness = Readiness(
        lambda: read(services, ping),
        fresh_for=FRESH_SECONDS if services.database.is_sqlite else 0.0,
    )
    app.state.survey_pages = SurveyPages()
    app.state.widget_script = WidgetScript.load()
    failed_auth = FailedAuthBudget(
        services.rate_limits.failed_auth, known_valid=services.keys.known_valid
    )
    # Segment's POSTs are answered before the middleware stack (web/segment_asgi.py).
    app.ingress = SegmentIngress(services, failed_auth=failed_auth)
    install_error_handlers(app)
    install_openapi(app)
    # Innermost: Segment's POSTs skip the router but still pass the limits outside it.
    app.add_middleware(ApiRateLimit, buckets=services.rate_limits.api)
    app.add_middleware(SurveyPageRateLimit, buckets=services.rate_limits.survey_pages)
    app.add_middleware(FailedAuthLimit, budget=failed_auth)
    app.add_middleware(PromoterV1Paths)  # outermost: v1 requests then pass the rate limit
    app.include_router(health.router)
    app.include_router(segment.router)
    app.include_router(contacts.router)
    app.include_router(lists.router)
    app.include_router(campaigns.router)
    app.include_router(campaign_links.router)
    app.include_router(templates.router)
    app.include_router(metrics.router)
    app.include_router(alerts.router)
    app.include_router(suppressions.router)
    app.include_router(analytics.router)
    app.include_router(drivers.router)
    app.include_router(keywords.router)
    app.include_router(themes.router)
    app.include_router(feedback.router)
    app.include_router(webhooks.router)
    app.include_router(exports.router)
    app.include_router(segment_source.router)
    app.include_router(web_survey.router)
    app.include_router(organization.router)
    app.include_router(survey_pages.router)
    app.include_router(web_survey_api.router)
    app.include_router(link_pages.router)
    app.include_router(logos.router)
    app.include_router(widget_script.router)
    dashboard.install(app)
    return app


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory promoter.app:app_from_environment``."""
    return create_app(Services.build(Settings()))
