"""The objects a running Promoter shares: built once from settings, passed explicitly."""

from __future__ import annotations

from dataclasses import dataclass

from promoter.config import Settings
from promoter.ingest.service import Ingestor
from promoter.storage.engine import Database


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    database: Database
    ingestor: Ingestor

    @classmethod
    def build(cls, settings: Settings, database: Database | None = None) -> Services:
        return cls(
            settings=settings,
            database=database or Database.from_url(settings.database_url),
            ingestor=Ingestor(),
        )
