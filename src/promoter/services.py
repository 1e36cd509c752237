"""The objects a running Promoter shares: built once from settings, passed explicitly."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from promoter.accounts.passwords import Passwords
from promoter.analytics.column_files import ColumnFiles
from promoter.analytics.engine import Analytics, AnalyticsCache
from promoter.config import Settings
from promoter.delivery.mailers import mailer_from_url
from promoter.delivery.render import EmailRenderer
from promoter.delivery.tokens import TokenSigner
from promoter.delivery.worker import DeliveryWorker
from promoter.domain.attributes import AttributeLimits
from promoter.ingest.received import ReceivedLog
from promoter.ingest.service import Ingestor
from promoter.orgs.key_cache import KeyCache
from promoter.orgs.service import KeyHolder, key_holder
from promoter.ratelimits import RateLimits
from promoter.segment_source.sender import SegmentSender
from promoter.storage.engine import Database
from promoter.storage.instance import instance_secret
from promoter.surveys.settler import ClickSettler
from promoter.surveys.trigger import SurveyTrigger
from promoter.webhooks.sender import WebhookSender
from promoter.webhooks.targets import TargetPolicy
from promoter.websurveys.settings import WebSurveySettings, site_by_key
from promoter.websurveys.sites import SiteCache

#: Threads of the Segment endpoints: batches decoded at once (more than the connections
#: Segment and a few libraries keep open), and the commits of the requests waiting.
INGEST_THREADS = 64


@dataclass(frozen=True)
class Services:
    settings: Settings
    database: Database
    ingestor: Ingestor
    keys: KeyCache
    analytics: Analytics
    passwords: Passwords = field(default_factory=Passwords)
    #: The last messages each organization sent (for the dashboard's live view).
    received: ReceivedLog = field(default_factory=ReceivedLog)
    #: Requests a second each API key may send (PROMOTER_RATE_LIMIT_*); none by default.
    rate_limits: RateLimits = field(default_factory=RateLimits)
    _signer: list[TokenSigner] = field(default_factory=list, repr=False)
    _sites: list[SiteCache] = field(default_factory=list, repr=False)
    _ingest_threads: list[ThreadPoolExecutor] = field(default_factory=list, repr=False)
    _signer_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def signer(self) -> TokenSigner:
        """Signs survey links with ``PROMOTER_SECRET_KEY`` (or the installation's own key,
        made on first use and kept in the database)."""
        with self._signer_lock:
            if not self._signer:
                with self.database.write() as conn:
                    secret = instance_secret(conn, configured=self.settings.secret_key)
                self._signer.append(TokenSigner(secret))
            return self._signer[0]

    @property
    def sites(self) -> SiteCache:
        """The web survey settings by site key, remembered for PROMOTER_KEY_CACHE_SECONDS."""
        with self._signer_lock:
            if not self._sites:

                def lookup(site_key: str) -> WebSurveySettings | None:
                    with self.database.read() as conn:
                        return site_by_key(conn, site_key)

                self._sites.append(SiteCache(lookup, ttl=self.settings.key_cache_seconds))
            return self._sites[0]

    @property
    def ingest_threads(self) -> ThreadPoolExecutor:
        """The threads of the Segment endpoints: the commits of their waiting requests
        (a batch at a time), and the decoding and authentication of a request that cannot
        be done on the event loop (a batch's body, a key not remembered); up to
        INGEST_THREADS (idle ones end with the services)."""
        with self._signer_lock:
            if not self._ingest_threads:
                pool = ThreadPoolExecutor(INGEST_THREADS, thread_name_prefix="ingest")
                self._ingest_threads.append(pool)
            return self._ingest_threads[0]

    @property
    def attribute_limits(self) -> AttributeLimits:
        """PROMOTER_MAX_ATTRIBUTES_PER_CONTACT and PROMOTER_MAX_ATTRIBUTE_NAMES."""
        return attribute_limits(self.settings)

    def renderer(self) -> EmailRenderer:
        return EmailRenderer(
            base_url=self.settings.public_url,
            sender=self.settings.sender_address,
            signer=self.signer,
        )

    def worker(self, batch_size: int = 50) -> DeliveryWorker:
        """A delivery worker on the configured mail backend (``ValueError`` if it is wrong)."""
        return DeliveryWorker(
            database=self.database,
            mailer=mailer_from_url(self.settings.email_url),
            renderer=self.renderer(),
            batch_size=batch_size,
        )

    def click_settler(self) -> ClickSettler:
        """Turns quiet one-click scores from survey pages into answers."""
        return ClickSettler(database=self.database)

    @property
    def webhook_policy(self) -> TargetPolicy:
        """The addresses webhooks may reach (PROMOTER_WEBHOOK_ALLOW_PRIVATE, ..._NETWORKS)."""
        return webhook_policy(self.settings)

    def webhook_sender(self) -> WebhookSender:
        return WebhookSender(
            database=self.database,
            base_url=self.settings.public_url,
            policy=self.webhook_policy,
        )

    def segment_sender(self) -> SegmentSender:
        """Sends the organizations' survey facts to their Segment-compatible hosts."""
        return SegmentSender(database=self.database, policy=self.webhook_policy)

    @classmethod
    def build(cls, settings: Settings, database: Database | None = None) -> Services:
        database = database or Database.from_url(settings.database_url)

        def lookup(key: str) -> KeyHolder | None:
            with database.read() as conn:
                return key_holder(conn, key=key)

        return cls(
            settings=settings,
            database=database,
            ingestor=Ingestor(
                [SurveyTrigger()],
                limits=attribute_limits(settings),
            ),
            keys=KeyCache(lookup, ttl=settings.key_cache_seconds),
            analytics=analytics_of(settings, database),
            rate_limits=RateLimits.from_settings(settings),
        )


def analytics_of(settings: Settings, database: Database) -> Analytics:
    """The analytics engine, with in-memory columns unless they are off or get no memory."""
    if not settings.analytics_cache or settings.analytics_memory_mb == 0:
        return Analytics(None)
    files = ColumnFiles.for_database(database, settings.analytics_cache_dir)
    budget = settings.analytics_memory_mb << 20
    return Analytics(AnalyticsCache(database, budget=budget, files=files))


def attribute_limits(settings: Settings) -> AttributeLimits:
    return AttributeLimits(
        per_contact=settings.max_attributes_per_contact,
        per_organization=settings.max_attribute_names,
    )


def webhook_policy(settings: Settings) -> TargetPolicy:
    return TargetPolicy.of(
        allow_private=settings.webhook_allow_private,
        allowed_networks=settings.webhook_allowed_networks,
    )
