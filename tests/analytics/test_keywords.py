"""Comment keywords: extraction per language, the counts, NPS and weekly trend of a planted
set checked by hand, and the rules (hide, rename, merge) on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from promoter.analytics.change import TooFewToCompare
from promoter.analytics.keyword_rules import (
    RuleConflict,
    RuleError,
    Rules,
    create_rule,
    load_rules,
)
from promoter.analytics.keyword_text import PhraseCache, phrases, runs, stop_words
from promoter.analytics.keywords import Keyword, Keywords, groups, keywords, language_of
from promoter.analytics.query import NpsQuery, scope
from promoter.storage.engine import Database
from tests.analytics.planted_keywords import COMMENTS, SINCE, UNTIL, plant
from tests.conftest import Org

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 7, 1, tzinfo=UTC)

SAID = {
    "en": ["The prices are too high", "Price is the problem", "Support was slower than ever"],
    "fr": ["Les prix sont trop élevés", "Le prix est élevé", "Les clients sont lents"],
    "de": ["Die Preise sind zu hoch", "Der Preis stimmt nicht", "Die Kunden warten langsam"],
    "es": ["Los precios son muy altos", "El precio es alto", "Los clientes son lentos"],
}


@pytest.mark.parametrize(
    ("language", "text", "lemmas"),
    [
        ("en", "The prices are too high, support is slower", [["price"], ["support"], ["slow"]]),
        ("en", "Great customer support!", [["great", "customer", "support"]]),
        ("fr", "Les clients sont lents", [["client"], ["lent"]]),
        ("de", "Die Preise sind langsamen Kunden", [["preis"], ["langsam", "kunde"]]),
        (
            "es",
            "Los precios son altos y los clientes lentos",
            [["precio"], ["alto"], ["cliente", "lento"]],
        ),
    ],
)
def test_runs_are_lemmas_between_stop_words(
    language: str, text: str, lemmas: list[list[str]]
) -> None:
    assert runs(text, language) == lemmas


@pytest.mark.parametrize("language", sorted(SAID))
def test_inflections_merge_and_stop_words_are_never_keywords(language: str) -> None:
    first, second, _ = (set(phrases(text, language)) for text in SAID[language])
    assert first & second, "a plural and its singular give one lemma"
    stops = stop_words(language)
    assert stops, "every language tested has stop words"
    for text in SAID[language]:
        for phrase in phrases(text, language):
            assert not set(phrase.split()) & stops, phrase


def test_phrases_are_one_to_three_lemmas_of_a_run() -> None:
    found = set(phrases("Great customer support team, fast", "en"))
    assert "great customer support" in found and "customer support team" in found
    assert "great customer support team" not in found
    assert {"fast", "team", "customer support"} <= found
    assert phrases("", "en") == () and phrases("12 34 !!", "en") == ()


def test_a_language_without_a_dictionary_is_read_word_by_word() -> None:
    assert set(phrases("素晴らしい サポート", "ja")) == {
        "素晴らしい",
        "サポート",
        "素晴らしい サポート",
    }


def test_the_language_is_the_trait_else_the_campaign_email_else_english() -> None:
    assert language_of("fr-CA", "de", "es") == "fr"
    assert language_of(None, "de_DE", "es") == "de"
    assert language_of(None, None, "es") == "es"
    assert language_of("klingon", None, None) == "en"


def test_the_cache_reads_an_edited_comment_again() -> None:
    cache = PhraseCache(size=2)
    assert cache.phrases(1, "slow support", "en") == phrases("slow support", "en")
    assert cache.phrases(1, "high prices", "en") == phrases("high prices", "en")
    cache.phrases(2, "a", "en")
    cache.phrases(3, "b", "en")
    assert len(cache) == 2


def test_parts_go_where_the_longer_phrase_always_is() -> None:
    where = {
        "customer support": [0, 1],
        "customer": [0, 1],
        "support": [0, 1, 2],
        "price": [3],
    }
    found = groups(where, Rules({}, {}, frozenset()))
    assert sorted(found) == ["customer support", "price", "support"]
    hidden = groups(where, Rules({}, {}, frozenset({"customer support"})))
    assert sorted(hidden) == ["customer", "price", "support"]


def _ask(database: Database, org: Org, *, top: int = 30) -> Keywords:
    with database.read() as conn:
        rules = load_rules(conn, organization_id=org.id)
        s = scope(conn, NpsQuery(organization_id=org.id, since=SINCE, until=UNTIL), now=NOW)
        return keywords(conn, s, rules=rules, cache=PhraseCache(), zone=UTC_ZONE, top=top)


def _by_name(found: Keywords) -> dict[str, Keyword]:
    return {k.name: k for k in found.keywords}


def test_counts_nps_and_weeks_of_the_planted_set(database: Database, org: Org) -> None:
    plant(database, org, COMMENTS)
    found = _ask(database, org)
    assert found.comments == 24
    names = [k.name for k in found.keywords]
    assert names == [
        "price",
        "support",
        "good price",
        "customer support",
        "slow",
        "alto",
        "fine",
        "great",
        "precio",
        "preis",
        "prix",
    ]
    price = _by_name(found)["price"]
    assert (price.summary.responses, price.summary.promoters, price.summary.detractors) == (
        12,
        4,
        6,
    )
    assert price.summary.nps == pytest.approx(-100 / 6)
    assert price.enough and price.to_json()["confidence_interval"] is not None
    assert [(w.start.isoformat(), w.summary.responses) for w in price.weeks] == [
        ("2026-06-01", 6),
        ("2026-06-08", 2),
        ("2026-06-15", 4),
        ("2026-06-22", 0),
    ]
    assert price.weeks[0].summary.nps == -100
    assert (price.before.responses, price.before.nps) == (3, 100)
    assert isinstance(price.change, TooFewToCompare)
    support = _by_name(found)["support"]
    assert support.summary.responses == 5 and support.summary.nps == pytest.approx(-20)
    assert not support.enough and support.to_json()["nps"] is None
    assert support.before.responses == 0 and support.change is None
    assert _by_name(found)["preis"].summary.nps == -100
    assert "customer" not in names and "good" not in names and "onboarding" not in names
    top = _ask(database, org, top=2)
    assert [k.name for k in top.keywords] == ["price", "support"] and top.more == 9


def _rule(
    database: Database, org: Org, keyword: str, action: str, target: str | None = None
) -> None:
    with database.write() as conn:
        create_rule(
            conn, organization_id=org.id, keyword=keyword, action=action, target=target, now=NOW
        )


def test_rules_hide_rename_and_merge_in_chains(
    database: Database, org: Org, other_org: Org
) -> None:
    plant(database, org, COMMENTS)
    _rule(database, org, "Price", "hide")
    _rule(database, org, "support", "rename", "Support team")
    _rule(database, org, "preis", "merge", "prix")
    _rule(database, org, "prix", "merge", "precio")
    found = _by_name(_ask(database, org))
    assert "price" not in found and "good price" in found
    assert found["Support team"].phrases == ("support",)
    merged = found["precio"]
    assert merged.phrases == ("precio", "preis", "prix")
    assert (merged.summary.responses, merged.summary.nps) == (6, pytest.approx(-100 / 3))
    assert "prix" not in found and "preis" not in found
    assert "price" in _by_name(_ask(database, other_org)) or not _ask(database, other_org).keywords


def test_a_rename_onto_an_existing_keyword_joins_it(database: Database, org: Org) -> None:
    plant(database, org, COMMENTS)
    _rule(database, org, "alto", "rename", "Precio")
    found = _by_name(_ask(database, org))
    assert "alto" not in found and "precio" not in found
    joined = found["Precio"]
    assert joined.phrases == ("alto", "precio") and joined.summary.responses == 2


def test_bad_rules_are_refused(database: Database, org: Org) -> None:
    _rule(database, org, "a", "merge", "b")
    _rule(database, org, "b", "merge", "c")
    for keyword, action, target, message in [
        ("c", "merge", "a", "loop"),
        ("x", "merge", " X ", "itself"),
        ("x", "drop", None, "action"),
        ("", "hide", None, "keyword: required"),
        ("x", "rename", "", "target: required"),
        ("x", "hide", "y", "no target"),
        ("x" * 201, "hide", None, "at most 200"),
    ]:
        with pytest.raises(RuleError, match=message):
            _rule(database, org, keyword, action, target)
    with pytest.raises(RuleConflict):
        _rule(database, org, " A ", "hide")
