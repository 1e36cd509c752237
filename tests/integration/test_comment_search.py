"""Searching the comments, on both databases: words, phrases, a word's start, text in
any language, input that is not syntax, and an index kept right as comments are written,
edited and erased."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from promoter.analytics.engine import Analytics, AnalyticsCache
from promoter.analytics.params import EARLIEST
from promoter.analytics.query import NpsQuery, scope
from promoter.contacts.writes import erase_contact
from promoter.domain.paging import Page
from promoter.feedback.reading import feedback_page
from promoter.feedback.search import parse_search
from promoter.storage.engine import Database
from promoter.surveys.responses import find_survey, record_comment
from tests.comments import HOSTILE, say_comments
from tests.conftest import Org, make_org
from tests.surveys import token_of


@pytest.fixture
def said(database: Database, org: Org) -> dict[str, int]:
    return say_comments(database, org)


def found(database: Database, org: Org, typed: str, **question: object) -> set[int]:
    """The responses found by SQL; the analytics columns find the same, in the same order."""
    query = NpsQuery(org.id, since=EARLIEST, **question)  # type: ignore[arg-type]
    by_columns = Analytics(AnalyticsCache(database, background=False))
    with database.read() as conn:
        s, page, search = scope(conn, query), Page(1, 100), parse_search(typed)
        total, items = feedback_page(conn, s, page, search=search)
        listed = feedback_page(conn, s, page, search=search, listed=by_columns.listed)
    assert (listed[0], [item.id for item in listed[1]]) == (total, [item.id for item in items])
    return {item.id for item in items}


def test_plain_words_all_match_in_any_order(database: Database, org: Org, said: dict[str, int]):
    assert found(database, org, "great service") == {said["fast"], said["slow"]}
    assert found(database, org, "SERVICE  great") == {said["fast"], said["slow"]}
    assert found(database, org, "great service fast") == {said["fast"]}
    assert found(database, org, "great pizza") == set()


def test_quotes_make_a_phrase(database: Database, org: Org, said: dict[str, int]) -> None:
    assert found(database, org, '"great service"') == {said["fast"]}
    assert found(database, org, '"service great"') == set()
    assert found(database, org, '"not great" service') == {said["slow"]}


def test_the_last_word_may_be_the_start_of_one(
    database: Database, org: Org, said: dict[str, int]
) -> None:
    assert found(database, org, "pric") == {said["prices"]}
    assert found(database, org, "pric too") == set()  # only the last word is a start
    assert found(database, org, '"pric"') == set()  # a phrase is whole words


def test_any_language(database: Database, org: Org, said: dict[str, int]) -> None:
    assert found(database, org, "café") == {said["cafe"]}
    assert found(database, org, "CAFÉ ÜBER") == {said["cafe"]}  # case never counts
    assert found(database, org, "cafe") == set()  # accents do
    assert found(database, org, "Über-Kunden") == {said["cafe"]}
    assert found(database, org, "价格") == {said["cjk"]}  # the start of a run of CJK text
    assert found(database, org, "don't") == {said["ui"]}


def test_search_combines_with_the_question(
    database: Database, org: Org, said: dict[str, int]
) -> None:
    assert found(database, org, "great", score_types=("promoter",)) == {said["fast"]}
    assert found(database, org, "great", statuses=("CLOSED",)) == set()
    other = make_org(database, "Globex")
    assert found(database, other, "great") == set()


def test_typed_text_is_never_syntax(database: Database, org: Org, said: dict[str, int]) -> None:
    for typed in HOSTILE:
        matched = found(database, org, typed)
        assert matched <= set(said.values()), typed
        if parse_search(typed) is None:  # no word in it: no search
            assert matched == set(said.values()), typed


def test_hostile_words_are_searched_as_words(
    database: Database, org: Org, said: dict[str, int]
) -> None:
    assert found(database, org, "NEAR(great service, 2)") == set()  # "near" is in no comment
    assert found(database, org, "great AND") == set()  # nor is "and"
    assert found(database, org, "comment:great") == set()  # "comment great": not together
    assert found(database, org, "great\x00service") == {said["fast"], said["slow"]}
    assert found(database, org, '"not great') == {said["slow"]}  # a phrase to the end


def _edit(database: Database, user_id: str, comment: str) -> None:
    token = token_of(database, user_id)
    with database.write() as conn:
        survey = find_survey(conn, token=token)
        assert survey is not None
        record_comment(conn, survey, comment=comment, now=datetime.now(UTC))


def _index_is_consistent(database: Database) -> None:
    if database.is_sqlite:  # FTS5 checks its index against the comments
        with database.read() as conn:
            conn.execute(
                text("INSERT INTO comment_search(comment_search) VALUES ('integrity-check')")
            )


def test_edits_and_erasure_keep_the_index_right(
    database: Database, org: Org, said: dict[str, int]
) -> None:
    _edit(database, "prices", "Pricing is fair now")
    assert found(database, org, "high") == set()
    assert found(database, org, "fair pricing") == {said["prices"]}
    _edit(database, "fast", "")
    assert found(database, org, "fast") == set()
    _index_is_consistent(database)
    with database.write() as conn:
        assert erase_contact(conn, organization_id=org.id, user_id="slow")
        assert erase_contact(conn, organization_id=org.id, user_id="cafe")
    assert found(database, org, "great") == set()
    assert found(database, org, "café") == set()
    _index_is_consistent(database)
    assert found(database, org, "fair") == {said["prices"]}
