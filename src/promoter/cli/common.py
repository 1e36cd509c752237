"""What every command needs: settings and a database, built from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from pydantic import ValidationError

from promoter.config import Settings
from promoter.storage.engine import Database
from promoter.storage.migrate import upgrade


def settings_from_env(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise click.ClickException(f"invalid configuration:\n{exc}") from None


def open_database(settings: Settings) -> Database:
    try:
        return Database.from_url(settings.database_url)
    except Exception as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def migrated_database() -> Iterator[Database]:
    """The configured database, migrated, disposed of when the command ends."""
    database = open_database(settings_from_env())
    try:
        upgrade(database.engine)
        yield database
    finally:
        database.dispose()
