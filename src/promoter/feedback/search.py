"""Searching the feedback's comments: what people type, read as words and phrases, and the
condition that keeps the responses whose comment has them all (see
storage/comment_search.py for the index each database keeps).

Plain words must all appear, in any order; the last one may be the start of a word
(``pric`` finds "prices"). Text in double quotes is a phrase: its words together, in that
order. Case never counts, accents do. Nothing typed is syntax: ``AND``, ``*``, ``-``,
``NEAR(`` or a stray quote are text like any other, so no input makes the query fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Select,
    bindparam,
    func,
    literal_column,
    select,
    text,
)

from promoter.storage.comment_search import FTS_TABLE, TS_CONFIG
from promoter.storage.tables import responses

#: The longest search, in characters, and the most words and phrases it may hold.
MAX_SEARCH_LENGTH = 200
MAX_TERMS = 20
_TERMS = re.compile(r'"([^"]*)"?|([^\s"]+)')
#: What both databases take for a word's characters: Unicode letters and digits.
_WORD = re.compile(r"[^\W_]+")


class SearchError(ValueError):
    """The search cannot be read (too long); the message says why."""


@dataclass(frozen=True, slots=True)
class Term:
    """A word or a quoted phrase, as typed (its words are found by each database)."""

    text: str
    #: The last plain word: it matches the words it starts.
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class CommentSearch:
    terms: tuple[Term, ...]


def parse_search(typed: str | None) -> CommentSearch | None:
    """The words and phrases in ``typed``; None when it holds no word at all."""
    if typed is None:
        return None
    if len(typed) > MAX_SEARCH_LENGTH:
        raise SearchError(f"search: at most {MAX_SEARCH_LENGTH} characters")
    found: list[tuple[str, bool]] = []
    for match in _TERMS.finditer(typed.replace("\x00", " ")):
        phrase, word = match.group(1), match.group(2)
        term = " ".join((phrase if word is None else word).split())
        if _WORD.search(term):
            found.append((term, word is not None))
    if len(found) > MAX_TERMS:
        raise SearchError(f"search: at most {MAX_TERMS} words or phrases")
    if not found:
        return None
    *rest, (last, plain) = found
    ending = Term(last, prefix=plain and _WORD.fullmatch(last) is not None)
    return CommentSearch((*(Term(t) for t, _ in rest), ending))


def fts5_query(search: CommentSearch) -> str:
    """The FTS5 MATCH text: each term an FTS5 string (its quotes doubled), all of them."""
    return " ".join(
        '"' + term.text.replace('"', '""') + '"' + ("*" if term.prefix else "")
        for term in search.terms
    )


def tsquery_text(search: CommentSearch) -> str:
    """The ``to_tsquery`` text: each term quoted (its quotes and backslashes doubled), so
    PostgreSQL's parser finds its words as it did in the comment; all of them."""
    return " & ".join(
        "'"
        + term.text.replace("\\", "\\\\").replace("'", "''")
        + "'"
        + (":*" if term.prefix else "")
        for term in search.terms
    )


def comment_ids(conn: Connection, organization_id: int, search: CommentSearch) -> list[int]:
    """The ids of the organization's responses whose comment holds every term of
    ``search``; on SQLite, whose comment index all organizations share, other
    organizations' too (the caller keeps its own: reading each response to tell would
    cost more than the search)."""
    if conn.dialect.name == "sqlite":
        return list(conn.execute(_fts_matches(search)).scalars())
    found = select(responses.c.id).where(
        responses.c.organization_id == organization_id, _ts_matches(search)
    )
    return list(conn.execute(found).scalars())


def comment_matches(
    dialect: str, response_id: ColumnElement[Any], search: CommentSearch
) -> ColumnElement[bool]:
    """True for the responses (``response_id``: their id column) whose comment holds
    every term of ``search``."""
    if dialect == "sqlite":
        return response_id.in_(_fts_matches(search))
    return response_id.in_(select(responses.c.id).where(_ts_matches(search)))


def _ts_matches(search: CommentSearch) -> ColumnElement[bool]:
    """PostgreSQL: the response's comment matches, spelled as the index is
    (storage/comment_search.py), so that it serves the query."""
    config: ColumnElement[str] = literal_column(f"'{TS_CONFIG}'")
    vector = func.to_tsvector(config, responses.c.comment)
    query = func.to_tsquery(config, tsquery_text(search))
    return vector.bool_op("@@")(query)


def _fts_matches(search: CommentSearch) -> Select[Any]:
    """The ids (rowids) of the responses whose comment SQLite's FTS5 index matches."""
    typed: BindParameter[str] = bindparam("comment_search", fts5_query(search), unique=True)
    return (
        select(literal_column("rowid"))
        .select_from(text(FTS_TABLE))
        .where(text(f"{FTS_TABLE} MATCH :comment_search").bindparams(typed))
    )
