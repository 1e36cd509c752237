"""Follow-up questions without a database: the model's rules, ids, who is asked what,
reading a survey form's answers, the answer window, and the filter language's answer
condition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from promoter.analytics.filters import AnswerFilter, FilterError, parse_filter, scale_values
from promoter.campaigns.models import CampaignSettings
from promoter.campaigns.questions import (
    MAX_QUESTIONS,
    AnswerErrors,
    Question,
    answer_open,
    parse_answers,
    questions_for,
)

QUESTIONS = [
    Question(id="why", text="Why?", type="text", required=True),
    Question(id="pick", text="Pick one", type="single", choices=["Price", "Support"]),
    Question(
        id="many",
        text="Pick any",
        type="multiple",
        choices=["Docs", "API", "UI"],
        audience="promoters",
    ),
    Question(id="ease", text="How easy?", type="scale", audience="detractors"),
    Question(id="mid", text="Almost?", type="text", audience="passives"),
]


def settings(**changes: Any) -> CampaignSettings:
    return CampaignSettings.model_validate({"name": "C", **changes})


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ({"text": "", "type": "text"}, "at least 1 character"),
        ({"text": "x" * 501, "type": "text"}, "at most 500 characters"),
        ({"text": "Q", "type": "essay"}, "'text', 'single', 'multiple' or 'scale'"),
        ({"text": "Q", "type": "single", "choices": ["only"]}, "2 to 10 choices"),
        ({"text": "Q", "type": "multiple", "choices": [str(i) for i in range(11)]}, "2 to 10"),
        ({"text": "Q", "type": "single", "choices": ["a", " a "]}, "choices must be distinct"),
        ({"text": "Q", "type": "single", "choices": ["a", ""]}, "1 to 200 characters"),
        ({"text": "Q", "type": "single", "choices": ["a", "b" * 201]}, "1 to 200 characters"),
        ({"text": "Q", "type": "single", "choices": ["a", "b\nc"]}, "one line"),
        ({"text": "Q", "type": "text", "choices": ["a", "b"]}, "a text question has no choices"),
        ({"text": "Q", "type": "scale", "choices": ["1", "2"]}, "a scale question has no"),
        ({"text": "Q", "type": "text", "audience": "fans"}, "'all', 'detractors'"),
        ({"text": "Q", "type": "text", "id": "Q1"}, "a-z, 0-9, _ and -"),
        ({"text": "Q", "type": "text", "id": "x" * 33}, "1 to 32 characters"),
        ({"text": "Q", "type": "text", "id": "a b"}, "a-z, 0-9, _ and -"),
        ({"text": "Q", "type": "text", "required": "maybe"}, "valid boolean"),
        ({"text": "Q", "type": "text", "colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_questions_are_refused(question: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        settings(questions=[question])
    assert message in str(refused.value)


def test_at_most_five_questions_with_distinct_ids() -> None:
    six = [{"text": f"Q{i}", "type": "text"} for i in range(MAX_QUESTIONS + 1)]
    with pytest.raises(ValidationError, match="at most 5 items"):
        settings(questions=six)
    twice = [{"id": "a", "text": "One", "type": "text"}, {"id": "a", "text": "Two", "type": "text"}]
    with pytest.raises(ValidationError, match="question ids must be unique: a repeated"):
        settings(questions=twice)


def test_missing_ids_get_the_next_free_ones() -> None:
    made = settings(
        questions=[
            {"text": "One", "type": "text"},
            {"id": "q1", "text": "Two", "type": "text"},
            {"id": "", "text": "Three", "type": "scale"},
            {"id": None, "text": "Four", "type": "single", "choices": ["a", "b"]},
        ]
    )
    assert [q.id for q in made.questions] == ["q2", "q1", "q3", "q4"]


def test_ids_are_kept_by_text_and_never_reuse_answered_ones() -> None:
    current = [Question(id="q1", text="Why?", type="text")]
    changed = CampaignSettings.model_validate(
        {
            "name": "C",
            "questions": [
                {"text": "New", "type": "scale"},
                {"text": " Why? ", "type": "text"},
            ],
        },
        context={"current": current, "reserved": {"q2", "q3"}},
    )
    assert [q.id for q in changed.questions] == ["q4", "q1"]


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://acme.example.com/thanks?from=nps", True),
        ("http://localhost:8080/x", True),
        ("", True),
        (None, True),
        ("javascript:alert(1)", False),
        ("ftp://example.com/", False),
        ("https://", False),
        ("https://exa mple.com/", False),
        ("https://example.com/\n", True),  # stripped like every setting
        ("https://example.com/\x07", False),
        ("https://[::1/", False),
        ("https://example.com/" + "x" * 2000, False),
    ],
)
def test_thanks_url(url: str | None, valid: bool) -> None:
    if valid:
        assert settings(thanks_url=url).thanks_url == (url.strip() or None if url else None)
    else:
        with pytest.raises(ValidationError):
            settings(thanks_url=url)


@pytest.mark.parametrize(("days", "valid"), [(1, True), (365, True), (None, True), (0, False)])
def test_answer_window_days(days: int | None, valid: bool) -> None:
    assert CampaignSettings(name="C").answer_window_days == 30
    if valid:
        assert settings(answer_window_days=days).answer_window_days == days
    else:
        with pytest.raises(ValidationError):
            settings(answer_window_days=days)
    with pytest.raises(ValidationError):
        settings(answer_window_days=366)


@pytest.mark.parametrize(
    ("score", "shown"),
    [
        (0, ["why", "pick", "ease"]),
        (6, ["why", "pick", "ease"]),
        (7, ["why", "pick", "mid"]),
        (8, ["why", "pick", "mid"]),
        (9, ["why", "pick", "many"]),
        (10, ["why", "pick", "many"]),
    ],
)
def test_questions_for_a_score(score: int, shown: list[str]) -> None:
    assert [q.id for q in questions_for(QUESTIONS, score)] == shown


@pytest.mark.parametrize(
    ("score", "form", "answers"),
    [
        (9, {"q_why": [" Fast "]}, {"why": ["Fast"]}),
        (9, {"q_why": ["ok"], "q_pick": ["Support"]}, {"why": ["ok"], "pick": ["Support"]}),
        (9, {"q_why": ["ok"], "q_pick": [""]}, {"why": ["ok"]}),
        (
            9,
            {"q_why": ["ok"], "q_many": ["UI", "Docs", "UI"]},
            {"why": ["ok"], "many": ["Docs", "UI"]},
        ),
        (9, {"q_why": ["ok"], "q_ease": ["9"]}, {"why": ["ok"]}),  # not asked after 9: ignored
        (3, {"q_why": ["ok"], "q_ease": ["4"]}, {"why": ["ok"], "ease": ["4"]}),
        (3, {"q_why": ["ok"], "q_many": ["nonsense"]}, {"why": ["ok"]}),  # not asked
        (7, {"q_why": ["a\x00b"], "q_mid": ["x" * 2000]}, {"why": ["ab"], "mid": ["x" * 2000]}),
        (9, {"q_why": ["ok"], "q_unknown": ["x"]}, {"why": ["ok"]}),
    ],
)
def test_parse_answers(
    score: int, form: dict[str, list[str]], answers: dict[str, list[str]]
) -> None:
    assert parse_answers(QUESTIONS, score, form) == answers


@pytest.mark.parametrize(
    ("score", "form", "errors"),
    [
        (9, {}, {"why": "answer_required"}),
        (9, {"q_why": ["  "]}, {"why": "answer_required"}),
        (9, {"q_why": ["ok"], "q_pick": ["Quality"]}, {"pick": "bad_answer"}),
        (9, {"q_why": ["ok"], "q_pick": ["Price", "Support"]}, {"pick": "bad_answer"}),
        (9, {"q_why": ["ok"], "q_many": ["Docs", "Blog"]}, {"many": "bad_answer"}),
        (2, {"q_why": ["ok"], "q_ease": ["0"]}, {"ease": "bad_answer"}),
        (2, {"q_why": ["ok"], "q_ease": ["6"]}, {"ease": "bad_answer"}),
        (2, {"q_why": ["ok"], "q_ease": ["3.5"]}, {"ease": "bad_answer"}),
        (2, {"q_why": ["ok"], "q_ease": ["٣"]}, {"ease": "bad_answer"}),
        (7, {"q_why": ["x" * 2001]}, {"why": "bad_answer"}),
        (7, {"q_mid": ["fine"]}, {"why": "answer_required"}),
    ],
)
def test_parse_answers_refuses(
    score: int, form: dict[str, list[str]], errors: dict[str, str]
) -> None:
    with pytest.raises(AnswerErrors) as refused:
        parse_answers(QUESTIONS, score, form)
    assert refused.value.errors == errors
    assert isinstance(refused.value, ValueError)


def test_refused_answers_keep_the_good_ones() -> None:
    with pytest.raises(AnswerErrors) as refused:
        parse_answers(QUESTIONS, 9, {"q_pick": ["Price"]})
    assert refused.value.answers == {"pick": ["Price"]}


def test_answer_window() -> None:
    sent = datetime(2026, 1, 1, tzinfo=UTC)
    assert answer_open(None, 30, sent)
    assert answer_open(sent, None, sent + timedelta(days=9999))
    assert answer_open(sent, 30, sent + timedelta(days=30))
    assert not answer_open(sent, 30, sent + timedelta(days=30, seconds=1))
    assert not answer_open(sent, 1, sent + timedelta(days=2))


# -- the filter language ----------------------------------------------------------------


def test_answer_conditions_parse() -> None:
    parsed = parse_filter({"answer": "q1", "campaign": 3, "op": "in", "value": ["Price", 2]})
    assert isinstance(parsed, AnswerFilter)
    assert (parsed.question_id, parsed.campaign_id) == ("q1", 3)
    assert [v.text for v in parsed.condition.values] == ["Price", "2"]
    eq = parse_filter({"answer": "q1", "campaign": 3, "value": "Price"})
    assert isinstance(eq, AnswerFilter) and eq.condition.op == "eq"
    nested = parse_filter({"not": {"answer": "q_2", "campaign": 1, "op": "exists"}})
    assert nested.item.at == "filter.not"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        ({"answer": "Q1", "campaign": 1}, "filter.answer: expected a question id"),
        ({"answer": 1, "campaign": 1}, "filter.answer: expected a question id"),
        ({"answer": "q1"}, "filter.campaign: expected the id of the campaign"),
        ({"answer": "q1", "campaign": "3"}, "filter.campaign: expected the id"),
        ({"answer": "q1", "campaign": True}, "filter.campaign: expected the id"),
        ({"answer": "q1", "campaign": 2**31}, "filter.campaign: expected the id"),
        ({"answer": "q1", "campaign": 1, "op": "eq"}, "filter.value: expected an answer"),
        ({"answer": "q1", "campaign": 1, "value": True}, "filter.value: expected an answer"),
        ({"answer": "q1", "campaign": 1, "value": 2.5}, "filter.value: expected an answer"),
        ({"answer": "q1", "campaign": 1, "op": "in", "value": []}, "filter.value: in needs"),
        ({"answer": "q1", "campaign": 1, "op": "in", "value": [""]}, "filter.value[0]"),
        ({"answer": "q1", "campaign": 1, "op": "contains", "value": 3}, "non-empty text"),
        ({"answer": "q1", "campaign": 1, "op": "gt", "value": "a"}, "expected a number"),
        ({"answer": "q1", "campaign": 1, "op": "exists", "value": 1}, "exists takes no value"),
        ({"answer": "q1", "campaign": 1, "op": "like", "value": 1}, "unknown operator 'like'"),
        ({"answer": "q1", "campaign": 1, "where": []}, "unknown field(s) where"),
        ({"answer": "q1", "campaign": 1, "value": "a\x00"}, "NUL"),
        (
            {"and": [{"answer": "q1", "campaign": 1, "op": "between", "value": [1]}]},
            "filter.and[0].value: between needs",
        ),
    ],
)
def test_bad_answer_conditions_say_where(flt: dict[str, Any], message: str) -> None:
    with pytest.raises(FilterError) as refused:
        parse_filter(flt)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("op", "value", "kept"),
    [
        ("gt", 3, ["4", "5"]),
        ("gte", 3, ["3", "4", "5"]),
        ("lt", 2.5, ["1", "2"]),
        ("lte", 1, ["1"]),
        ("between", [2, 4], ["2", "3", "4"]),
        ("between", [4, 2], []),
        ("gt", 5, []),
        ("gte", -10, ["1", "2", "3", "4", "5"]),
    ],
)
def test_scale_comparisons(op: str, value: Any, kept: list[str]) -> None:
    parsed = parse_filter({"answer": "q1", "campaign": 1, "op": op, "value": value})
    assert isinstance(parsed, AnswerFilter)
    assert scale_values(parsed.condition) == kept
