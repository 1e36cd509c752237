"""Which real database errors are an outage (503, retry later) and which are bugs (500)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from promoter.storage.errors import is_unavailable
from promoter.web.errors import install_error_handlers
from tests.conftest import BACKENDS, POSTGRES_ADMIN_URL


def error_of(url: str, statement: str, **engine_options: object) -> OperationalError:
    engine = create_engine(url, **engine_options)  # type: ignore[arg-type]
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    except OperationalError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError(f"{statement[:40]} did not fail")


def sqlite_locked(tmp_path: Path) -> OperationalError:
    path = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    try:
        return error_of(
            f"sqlite:///{path}", "INSERT INTO t VALUES (1)", connect_args={"timeout": 0}
        )
    finally:
        holder.close()


def test_sqlite_errors(tmp_path: Path) -> None:
    too_deep = error_of("sqlite://", "SELECT " + " + ".join(["1"] * 2000))
    assert "Expression tree is too large" in str(too_deep)
    assert not is_unavailable(too_deep)
    assert not is_unavailable(error_of("sqlite://", "SELECT * FROM no_such_table"))
    assert is_unavailable(sqlite_locked(tmp_path))
    missing = error_of(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.sqlite3'}", "SELECT 1")
    assert is_unavailable(missing)


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL is not tested in this run")
def test_postgresql_errors() -> None:
    too_many_arguments = "SELECT concat(" + ", ".join(["1"] * 101) + ")"
    limit = error_of(POSTGRES_ADMIN_URL, too_many_arguments)
    assert getattr(limit.orig, "sqlstate", None) == "54023"
    assert not is_unavailable(limit)
    refused = error_of("postgresql+psycopg://postgres@127.0.0.1:1/postgres", "SELECT 1")
    assert is_unavailable(refused)
    cancelled = error_of(POSTGRES_ADMIN_URL, "SET statement_timeout = 1; SELECT pg_sleep(1)")
    assert getattr(cancelled.orig, "sqlstate", None) == "57014"
    assert is_unavailable(cancelled)


@pytest.mark.parametrize(
    ("make_error", "status"),
    [
        (lambda tmp: error_of("sqlite://", "SELECT " + " + ".join(["1"] * 2000)), 500),
        (sqlite_locked, 503),
    ],
)
def test_the_api_answers_503_for_an_outage_only(
    tmp_path: Path, make_error: Callable[[Path], OperationalError], status: int
) -> None:
    error = make_error(tmp_path)
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/api/v2/fails/")
    def fails() -> None:
        raise error

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v2/fails/")
    assert response.status_code == status
    if status == 503:
        assert response.headers["retry-after"] == "5"
