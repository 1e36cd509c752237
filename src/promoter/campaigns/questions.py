"""A campaign's follow-up questions: the model, which are asked after a score, reading the
answers from the survey form, and how long a survey can be answered."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from promoter.domain.headers import is_one_line
from promoter.domain.questions import (
    MAX_QUESTION_ID,
    MAX_TEXT_ANSWER,
    QUESTION_ID,
    Audience,
    QuestionType,
    scale_value,
    shown_to,
)

MAX_QUESTIONS = 5
MIN_CHOICES = 2
MAX_CHOICES = 10
MAX_CHOICE_LENGTH = 200
MAX_QUESTION_TEXT = 500
#: A survey can be answered this many days after it was sent, unless the campaign says
#: otherwise (None: for ever).
DEFAULT_ANSWER_WINDOW_DAYS = 30
MAX_ANSWER_WINDOW_DAYS = 365
#: The form field that carries a question's answer: ``q_<id>``.
FIELD_PREFIX = "q_"

AnswerError = Literal["answer_required", "bad_answer"]


class Question(BaseModel):
    """One follow-up question, asked after the score to the audience it names."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str
    text: str = Field(min_length=1, max_length=MAX_QUESTION_TEXT)
    type: QuestionType
    choices: list[str] = Field(default_factory=list)
    audience: Audience = "all"
    required: bool = False

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not QUESTION_ID.match(value):
            raise ValueError(f"an id is 1 to {MAX_QUESTION_ID} characters of a-z, 0-9, _ and -")
        return value

    @field_validator("choices", mode="before")
    @classmethod
    def _no_choices(cls, value: object) -> object:
        return [] if value is None else value

    @field_validator("choices")
    @classmethod
    def _clean_choices(cls, choices: list[str]) -> list[str]:
        cleaned = [choice.strip() for choice in choices]
        for choice in cleaned:
            if not 1 <= len(choice) <= MAX_CHOICE_LENGTH:
                raise ValueError(f"choices are 1 to {MAX_CHOICE_LENGTH} characters")
            if not is_one_line(choice):
                raise ValueError("choices are one line each")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("choices must be distinct")
        return cleaned

    @model_validator(mode="after")
    def _choices_fit_the_type(self) -> Question:
        if self.type in ("single", "multiple"):
            if not MIN_CHOICES <= len(self.choices) <= MAX_CHOICES:
                raise ValueError(
                    f"a {self.type} choice question has {MIN_CHOICES} to {MAX_CHOICES} choices"
                )
        elif self.choices:
            raise ValueError(f"a {self.type} question has no choices")
        return self


def assign_ids(
    questions: object, *, reserved: Collection[str] = (), current: Iterable[Question] = ()
) -> object:
    """Raw questions with an id for each one that has none: the id of the current question
    with the same text, else the next free ``q1``, ``q2``... (never one in ``reserved``:
    ids that old answers still carry). Anything not a list of objects is left as it is,
    for validation to refuse."""
    if not isinstance(questions, list):
        return questions
    items: list[object] = [dict(item) if isinstance(item, Mapping) else item for item in questions]
    missing = [item for item in items if isinstance(item, dict) and not item.get("id")]
    taken = {str(item["id"]) for item in items if isinstance(item, dict) and item.get("id")}
    by_text = {q.text: q.id for q in current}
    for item in missing:
        text = item.get("text")
        same = by_text.get(text.strip()) if isinstance(text, str) else None
        if same is not None and same not in taken:
            item["id"] = same
            taken.add(same)
    number = 0
    for item in missing:
        if item.get("id"):
            continue
        number += 1
        while f"q{number}" in taken or f"q{number}" in reserved:
            number += 1
        item["id"] = f"q{number}"
        taken.add(item["id"])
    return items


def check_unique_ids(questions: list[Question]) -> list[Question]:
    ids = [q.id for q in questions]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ValueError(f"question ids must be unique: {', '.join(duplicated)} repeated")
    return questions


def questions_for(questions: Sequence[Question], score: int) -> list[Question]:
    """The questions asked after ``score``, in the campaign's order."""
    return [q for q in questions if shown_to(q.audience, score)]


class AnswerErrors(ValueError):
    """Answers that cannot be recorded; ``errors`` maps each question's id to
    ``"answer_required"`` or ``"bad_answer"``. ``answers`` holds the ones that could."""

    def __init__(self, errors: dict[str, AnswerError], answers: dict[str, list[str]]) -> None:
        super().__init__(", ".join(f"{key}: {value}" for key, value in errors.items()))
        self.errors = errors
        self.answers = answers


def parse_answers(
    questions: Sequence[Question], score: int, form: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """The answers in a survey form (field ``q_<id>``, repeated for a multiple choice) to
    the questions asked after ``score``; an empty optional answer is left out.

    Raises :class:`AnswerErrors` for a missing required answer, a choice that is not one,
    a scale answer outside 1 to 5, or text over 2,000 characters.
    """
    answers: dict[str, list[str]] = {}
    errors: dict[str, AnswerError] = {}
    for question in questions_for(questions, score):
        given = [v.replace("\x00", "").strip() for v in form.get(FIELD_PREFIX + question.id, ())]
        values = [v for v in given if v]
        if not values:
            if question.required:
                errors[question.id] = "answer_required"
            continue
        answer = _answer(question, values)
        if answer is None:
            errors[question.id] = "bad_answer"
        else:
            answers[question.id] = answer
    if errors:
        raise AnswerErrors(errors, answers)
    return answers


def _answer(question: Question, values: list[str]) -> list[str] | None:
    """The values to store for one question, or None when they are not an answer to it."""
    if question.type == "multiple":
        if any(v not in question.choices for v in values):
            return None
        return [c for c in question.choices if c in values]
    if len(set(values)) > 1:
        return None
    value = values[0]
    if question.type == "text":
        return [value] if len(value) <= MAX_TEXT_ANSWER else None
    if question.type == "single":
        return [value] if value in question.choices else None
    number = scale_value(value)
    return None if number is None else [str(number)]


def answer_open(sent_at: datetime | None, window_days: int | None, now: datetime) -> bool:
    """Whether a survey sent at ``sent_at`` can still be answered (or its answer changed)
    ``now``: within ``window_days`` of sending; a survey not sent yet, or a campaign
    without a window, is open."""
    if sent_at is None or window_days is None:
        return True
    return now <= sent_at + timedelta(days=window_days)


def question_dicts(questions: Iterable[Question]) -> list[dict[str, Any]]:
    """Questions as stored and shown in JSON (choices always a list)."""
    return [q.model_dump(mode="json") for q in questions]
