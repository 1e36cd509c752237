"""The objects a running Promoter shares: built once from settings, passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass

from promoter.config import Settings
from promoter.ingest.service import Ingestor
from promoter.orgs.key_cache import KeyCache
from promoter.orgs.service import Organization, authenticate
from promoter.storage.engine import Database
from promoter.surveys.trigger import SurveyTrigger


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    database: Database
    ingestor: Ingestor
    keys: KeyCache

    @classmethod
    def build(cls, settings: Settings, database: Database | None = None) -> Services:
        database = database or Database.from_url(settings.database_url)

        def lookup(key: str) -> Organization | None:
            with database.read() as conn:
                return authenticate(conn, key=key)

        return cls(
            settings=settings,
            database=database,
            ingestor=Ingestor([SurveyTrigger()]),
            keys=KeyCache(lookup, ttl=settings.key_cache_seconds),
        )
