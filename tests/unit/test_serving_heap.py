"""A serving process sets its start-up heap aside from the garbage collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from promoter.cli.processes import ProcessApp
from promoter.config import Settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_each_api_process_freezes_what_it_built(unfrozen: None, tmp_path: Path) -> None:
    """What an API process of `promoter serve --processes N` builds (its app) is left out
    of full collections, which otherwise walk it again and again under load."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'heap.sqlite3'}")
    assert gc.get_freeze_count() == 0
    app = ProcessApp(settings, no_worker=True)()
    assert gc.get_freeze_count() > 0
    assert all(found is not app for found in gc.get_objects(generation=2))
