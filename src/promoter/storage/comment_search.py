"""The full-text index of the responses' comments, as each database keeps it.

- SQLite: the FTS5 table ``comment_search``, an external-content index of
  ``responses.comment`` (rowid = the response's id), kept right by three triggers on
  ``responses`` (insert, delete, update of the comment), so every write path, a contact's
  erasure included (its responses go by cascade), updates it in the same transaction.
  Tokens are Unicode letters and digits, compared without case; accents count.
- PostgreSQL: a GIN index on ``to_tsvector('simple', comment)``: the ``simple``
  configuration lower-cases words (beyond ASCII as the database's locale does: a UTF-8
  one) and neither stems them nor drops stop words, since answers come in every language.

A migration that recreates ``responses`` on SQLite (a batch ALTER) drops its triggers: it
must create them again (``TRIGGERS``).
"""

from __future__ import annotations

FTS_TABLE = "comment_search"
#: The tables FTS5 keeps for ``comment_search``: Alembic does not compare them.
FTS_SHADOW_TABLES = frozenset(
    {FTS_TABLE, *(f"{FTS_TABLE}_{part}" for part in ("data", "idx", "docsize", "config"))}
)
#: The PostgreSQL text search configuration of the index and of the queries.
TS_CONFIG = "simple"
PG_INDEX = "ix_responses_comment_search"

CREATE_FTS_TABLE = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(comment, content='responses', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 0')"
)
TRIGGERS = {
    "responses_comment_search_insert": (
        "CREATE TRIGGER responses_comment_search_insert AFTER INSERT ON responses BEGIN "
        f"INSERT INTO {FTS_TABLE}(rowid, comment) VALUES (new.id, new.comment); END"
    ),
    "responses_comment_search_delete": (
        "CREATE TRIGGER responses_comment_search_delete AFTER DELETE ON responses BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, comment) "
        "VALUES ('delete', old.id, old.comment); END"
    ),
    "responses_comment_search_update": (
        "CREATE TRIGGER responses_comment_search_update AFTER UPDATE OF comment ON responses "
        f"BEGIN INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, comment) "
        "VALUES ('delete', old.id, old.comment); "
        f"INSERT INTO {FTS_TABLE}(rowid, comment) VALUES (new.id, new.comment); END"
    ),
}


def pg_index_expression() -> str:
    """The indexed expression: a query must compute the same one (the same function and
    configuration, feedback/search.py) for the index to serve it."""
    return f"to_tsvector('{TS_CONFIG}', comment)"


def compared(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name``: the FTS5 tables, which no ``Table`` declares, are not
    compared with the declared schema."""
    return not (type_ == "table" and name in FTS_SHADOW_TABLES)
