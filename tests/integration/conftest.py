"""What the command-line tests share: ``run``, the ``promoter`` command through click's
runner on the test's database."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner

from promoter.cli import main
from promoter.storage.engine import Database

Run = Callable[..., str]


@pytest.fixture
def run(database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Run:
    """``run(*args, code=0)``: the command's output; fails unless it exits with ``code``."""
    monkeypatch.setenv("PROMOTER_DATABASE_URL", database_url)
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args))
        assert result.exit_code == code, result.output
        return result.output

    return invoke
