"""A survey page's view of its survey, and the answers given on the page itself.

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection

from promoter.surveys.clicks import pending_score, supersede_clicks
from promoter.surveys.responses import (
    SurveyView,
    clean_comment,
    find_survey,
    record_comment,
    record_score,
)


@dataclass(frozen=True, slots=True)
class OpenSurvey:
    """A survey as its page shows it: the answer recorded, or a click not settled yet."""

    survey: SurveyView
    #: The latest one-click score not yet settled into the answer.
    pending: int | None

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
    return OpenSurvey(survey, pending_score(conn, survey_id=survey.survey_id))


def answer_on_page(
    conn: Connection, survey: SurveyView, *, score: int, comment: str | None, now: datetime
) -> None:
    """A person's answer from the page (Confirm, Send, Skip, a changed score): recorded
    now, superseding earlier clicks; the comment too when it is given."""
    cleaned = clean_comment(comment) if comment is not None else None  # refused before writing
    supersede_clicks(conn, survey_id=survey.survey_id, now=now)
    record_score(conn, survey, score=score, now=now)
    if cleaned is not None:
        record_comment(conn, replace(survey, score=score), comment=cleaned, now=now)
