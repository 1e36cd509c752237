"""Recording the answers to a campaign's follow-up questions, and reading them back.

Every function takes the caller's connection; none of them commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, insert, select

from promoter.campaigns.questions import MAX_CHOICES
from promoter.domain.questions import MAX_TEXT_ANSWER, QUESTION_ID
from promoter.feedback.answered import answers_for
from promoter.feedback.events import emit_feedback
from promoter.feedback.responses import touch
from promoter.segment_source.events import emit_survey_responded
from promoter.storage.tables import response_answers, responses
from promoter.webhooks.events import FEEDBACK_ADDED_OR_CHANGED

__all__ = ["answers_for", "record_answers"]


def record_answers(
    conn: Connection,
    *,
    organization_id: int,
    campaign_id: int,
    response_id: int,
    answers: Mapping[str, Sequence[str]],
    now: datetime | None = None,
) -> None:
    """Replace the response's answers with ``answers`` (question id -> values, as
    ``campaigns.questions.parse_answers`` reads them): the last submission wins.

    When they changed, the response is stamped (analytics caches catch up) and
    ``feedback.added_or_changed`` is emitted with them. Raises LookupError when the
    organization has no such response in that campaign, ValueError for a question id
    that cannot be one.
    """
    wanted = _checked(answers)
    found = conn.execute(
        select(responses.c.campaign_id).where(
            responses.c.id == response_id, responses.c.organization_id == organization_id
        )
    ).scalar()
    if found is None or found != campaign_id:
        raise LookupError(f"no response {response_id} in campaign {campaign_id}")
    stored = answers_for(conn, organization_id=organization_id, response_ids=[response_id])
    if stored.get(response_id, {}) == wanted:
        return  # the same answers again: nothing changed, nothing to tell
    conn.execute(delete(response_answers).where(response_answers.c.response_id == response_id))
    rows = [
        {
            "response_id": response_id,
            "question_id": question_id,
            "position": position,
            "organization_id": organization_id,
            "campaign_id": campaign_id,
            "value": value,
        }
        for question_id, values in wanted.items()
        for position, value in enumerate(values)
    ]
    if rows:
        conn.execute(insert(response_answers), rows)
    now = now or datetime.now(UTC)
    touch(conn, organization_id, response_id, now)
    emit_survey_responded(
        conn, organization_id=organization_id, response_id=response_id, updated=True, now=now
    )
    emit_feedback(
        conn,
        organization_id=organization_id,
        response_id=response_id,
        event=FEEDBACK_ADDED_OR_CHANGED,
        campaign_id=campaign_id,
        now=now,
    )


def _checked(answers: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The answers to store (empty ones left out); ValueError for what no question of a
    campaign could have been answered with."""
    wanted: dict[str, list[str]] = {}
    for question_id, values in answers.items():
        if not isinstance(question_id, str) or not QUESTION_ID.match(question_id):
            raise ValueError(f"{question_id!r} is not a question id")
        if isinstance(values, str) or not all(isinstance(value, str) for value in values):
            raise ValueError(f"the answer to {question_id} is not a list of text")
        if len(values) > MAX_CHOICES or any(len(value) > MAX_TEXT_ANSWER for value in values):
            raise ValueError(f"the answer to {question_id} is too long")
        if values:
            wanted[question_id] = [value.replace("\x00", "") for value in values]
    return wanted
