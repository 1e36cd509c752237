"""Answer conditions checked against the organization's campaigns: the campaign is one of
its own, asks the question, and the operator fits the question's type."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from promoter.analytics.filters import OPS, AnswerFilter, Expr, FilterError, answer_filters
from promoter.domain.questions import SCALE_MAX, SCALE_MIN, scale_value
from promoter.storage.tables import campaigns

_FOR_CHOICES = ("eq", "ne", "in", "not_in", "exists", "missing")
#: The operators each type of question answers to.
OPS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "text": (*_FOR_CHOICES, "contains"),
    "single": _FOR_CHOICES,
    "multiple": _FOR_CHOICES,
    "scale": tuple(op for op in OPS if op != "contains"),
}


def check_answers(conn: Connection, *, organization_id: int, expr: Expr | None) -> None:
    """Raises FilterError, saying where, for an answer condition naming a campaign the
    organization has not got, a question the campaign does not ask, or an operator or
    value that does not fit the question."""
    found = [] if expr is None else list(answer_filters(expr))
    if not found:
        return
    rows = conn.execute(
        select(campaigns.c.id, campaigns.c.questions).where(
            campaigns.c.organization_id == organization_id,
            campaigns.c.id.in_(sorted({f.campaign_id for f in found})),
        )
    )
    asked = {row.id: {q.get("id"): q for q in row.questions or []} for row in rows}
    for condition in found:
        questions = asked.get(condition.campaign_id)
        if questions is None:
            raise FilterError(f"{condition.at}.campaign: no campaign {condition.campaign_id}")
        question = questions.get(condition.question_id)
        if question is None:
            raise FilterError(
                f"{condition.at}.answer: campaign {condition.campaign_id} has no question "
                f"{condition.question_id!r}"
            )
        _check_fits(condition, question)


def _check_fits(condition: AnswerFilter, question: dict[str, Any]) -> None:
    kind = str(question.get("type"))
    op = condition.condition.op
    allowed = OPS_BY_TYPE.get(kind, ())
    if op not in allowed:
        raise FilterError(
            f"{condition.at}.op: {op} does not apply to a {kind} question "
            f"({condition.question_id}); use {', '.join(allowed)}"
        )
    if kind == "scale":
        for value in condition.condition.values:
            if scale_value(value.text) is None:
                raise FilterError(
                    f"{condition.at}.value: a scale answer is a whole number from "
                    f"{SCALE_MIN} to {SCALE_MAX}; got {value.text!r}"
                )
