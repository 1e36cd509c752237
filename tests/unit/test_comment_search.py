"""Reading what people type in the comment search, and the query text each database gets."""

from __future__ import annotations

import pytest

from promoter.feedback.search import (
    MAX_SEARCH_LENGTH,
    MAX_TERMS,
    CommentSearch,
    SearchError,
    Term,
    fts5_query,
    parse_search,
    tsquery_text,
)


def test_words_phrases_and_the_last_words_start() -> None:
    assert parse_search('great "fast  service" pric') == CommentSearch(
        (Term("great"), Term("fast service"), Term("pric", prefix=True))
    )
    assert parse_search('"fast service"') == CommentSearch((Term("fast service"),))
    assert parse_search("don't") == CommentSearch((Term("don't"),))  # not a simple word


@pytest.mark.parametrize("typed", [None, "", "   ", '"', '""', "*", "-", "' ( ) _"])
def test_no_word_is_no_search(typed: str | None) -> None:
    assert parse_search(typed) is None


def test_quotes_and_backslashes_are_text_for_both_databases() -> None:
    search = parse_search("it's a\\b NEAR( \"x")
    assert search is not None
    assert fts5_query(search) == '"it\'s" "a\\b" "NEAR(" "x"'
    assert tsquery_text(search) == "'it''s' & 'a\\\\b' & 'NEAR(' & 'x'"
    prefix = parse_search("caf")
    assert prefix is not None
    assert (fts5_query(prefix), tsquery_text(prefix)) == ('"caf"*', "'caf':*")


def test_too_long_or_too_many_words_is_an_error() -> None:
    with pytest.raises(SearchError, match="200 characters"):
        parse_search("x" * (MAX_SEARCH_LENGTH + 1))
    with pytest.raises(SearchError, match="words or phrases"):
        parse_search(" ".join(["w"] * (MAX_TERMS + 1)))
