"""A survey page's view of its survey, and the answers given on the page itself.

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import Connection

from promoter.feedback.answers import answers_for, record_answers
from promoter.surveys.clicks import pending_score, supersede_clicks
from promoter.surveys.responses import (
    SurveyView,
    clean_comment,
    find_survey,
    lock_survey,
    record_comment,
    record_score,
)


@dataclass(frozen=True, slots=True)
class OpenSurvey:
    """A survey as its page shows it: the answer recorded, or a click not settled yet."""

    survey: SurveyView
    #: The latest one-click score not yet settled into the answer.
    pending: int | None
    #: The follow-up answers recorded: question id -> values.
    answers: dict[str, list[str]] = field(default_factory=dict)

    @property
    def score(self) -> int | None:
        return self.pending if self.pending is not None else self.survey.score

    @property
    def recorded(self) -> bool:
        return self.score is not None


def open_survey(conn: Connection, *, token: str) -> OpenSurvey | None:
    survey = find_survey(conn, token=token)
    if survey is None:
        return None
    answers: dict[str, list[str]] = {}
    if survey.response_id is not None:
        answers = answers_for(
            conn, organization_id=survey.organization_id, response_ids=[survey.response_id]
        ).get(survey.response_id, {})
    return OpenSurvey(survey, pending_score(conn, survey_id=survey.survey_id), answers)


def answer_on_page(
    conn: Connection,
    survey: SurveyView,
    *,
    score: int,
    comment: str | None,
    now: datetime,
    answers: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """A person's answer from the page (Confirm, Send, Skip, a changed score): recorded
    now, superseding earlier clicks; the comment and the follow-up answers too when given
    (``answers`` as ``campaigns.questions.parse_answers`` reads them)."""
    cleaned = clean_comment(comment) if comment is not None else None  # refused before writing
    lock_survey(conn, survey_id=survey.survey_id)
    supersede_clicks(conn, survey_id=survey.survey_id, now=now)
    response_id = record_score(conn, survey, score=score, now=now)
    if cleaned is not None:
        answered = replace(survey, score=score, response_id=response_id)
        record_comment(conn, answered, comment=cleaned, now=now)
    if answers is not None:
        record_answers(
            conn,
            organization_id=survey.organization_id,
            campaign_id=survey.campaign_id,
            response_id=response_id,
            answers=answers,
            now=now,
        )
