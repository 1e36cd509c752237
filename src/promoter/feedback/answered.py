"""Answers to a campaign's follow-up questions as the team reads them: the stored values of
some responses, and each answer paired with the question it answers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from promoter.campaigns.questions import Question
from promoter.campaigns.service import questions_of
from promoter.domain.questions import scale_value
from promoter.storage.tables import response_answers

#: How the values of a multiple choice answer are joined in one cell (CSV, dashboard).
JOINED = "; "


def answers_for(
    conn: Connection, *, organization_id: int, response_ids: Sequence[int]
) -> dict[int, dict[str, list[str]]]:
    """The answers of these responses of the organization: response id -> question id ->
    values, in the order they were stored. Responses without answers are left out."""
    if not response_ids:
        return {}
    a = response_answers.c
    rows = conn.execute(
        select(a.response_id, a.question_id, a.value)
        .where(a.organization_id == organization_id, a.response_id.in_(sorted(set(response_ids))))
        .order_by(a.response_id, a.question_id, a.position)
    )
    found: dict[int, dict[str, list[str]]] = defaultdict(dict)
    for response_id, question_id, value in rows:
        found[response_id].setdefault(question_id, []).append(value)
    return dict(found)


@dataclass(frozen=True, slots=True)
class Answer:
    """One question's answer; ``question`` and ``type`` are None when the campaign no
    longer asks it."""

    question_id: str
    question: str | None
    type: str | None
    values: list[str]

    @property
    def value(self) -> str | int | list[str]:
        """A string; a list for a multiple choice; a whole number for a scale."""
        if self.type == "multiple" or (self.type is None and len(self.values) > 1):
            return list(self.values)
        if self.type == "scale":
            number = scale_value(self.values[0])
            if number is not None:
                return number
        return self.values[0]

    @property
    def text(self) -> str:
        return JOINED.join(self.values)

    def to_json(self) -> dict[str, object]:
        return {
            "question_id": self.question_id,
            "question": self.question,
            "type": self.type,
            "value": self.value,
        }


def paired(questions: Sequence[Question], stored: dict[str, list[str]]) -> list[Answer]:
    """Stored answers with their questions, in the campaign's order; answers to questions
    it no longer asks come last, by id."""
    answers = [Answer(q.id, q.text, q.type, stored[q.id]) for q in questions if stored.get(q.id)]
    asked = {q.id for q in questions}
    answers.extend(
        Answer(question_id, None, None, values)
        for question_id, values in sorted(stored.items())
        if question_id not in asked and values
    )
    return answers


def answers_of(
    conn: Connection, *, organization_id: int, campaign_of: dict[int, int]
) -> dict[int, list[Answer]]:
    """Each response's answers paired with its campaign's questions (``campaign_of``:
    response id -> campaign id)."""
    stored = answers_for(conn, organization_id=organization_id, response_ids=list(campaign_of))
    if not stored:
        return {}
    questions = questions_of(
        conn, organization_id=organization_id, campaign_ids={campaign_of[r] for r in stored}
    )
    return {
        response_id: paired(questions.get(campaign_of[response_id], []), values)
        for response_id, values in stored.items()
    }
