"""The follow-up questions on the campaign form: five slots of fields, read into the
questions to validate, and their errors shown with the slot they are about."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promoter.campaigns.questions import MAX_QUESTIONS, Question
from promoter.web.dashboard.forms import Form

#: A slot's fields, as the page names them: ``question-<n>-<part>``.
PARTS = ("id", "text", "type", "choices", "audience", "required")
#: How an error names the part of a question it is about.
PART_LABELS = {
    "id": "Id",
    "text": "Question",
    "type": "Type",
    "choices": "Choices",
    "audience": "Asked to",
    "required": "Required",
}
TYPE_OPTIONS = [
    ("text", "Free text"),
    ("single", "Single choice"),
    ("multiple", "Multiple choice"),
    ("scale", "Scale from 1 to 5"),
]
AUDIENCE_OPTIONS = [
    ("all", "Everyone"),
    ("detractors", "Detractors (0 to 6)"),
    ("passives", "Passives (7 or 8)"),
    ("promoters", "Promoters (9 or 10)"),
]
LABELS = {f"question-{n}": f"Question {n}" for n in range(1, MAX_QUESTIONS + 1)} | {
    "questions": "Follow-up questions",
    "thanks_url": "After the last page",
    "answer_window_days": "Answers accepted for",
}

Slot = dict[str, Any]


def _empty() -> Slot:
    return {
        "id": "",
        "text": "",
        "type": "text",
        "choices": "",
        "audience": "all",
        "required": False,
    }


def slots_of(questions: Sequence[Question]) -> list[Slot]:
    """The slots showing a campaign's questions, then empty ones."""
    slots: list[Slot] = [
        {
            "id": q.id,
            "text": q.text,
            "type": q.type,
            "choices": "\n".join(q.choices),
            "audience": q.audience,
            "required": q.required,
        }
        for q in questions
    ]
    return slots + [_empty() for _ in range(MAX_QUESTIONS - len(slots))]


def slots_from(form: Form) -> list[Slot]:
    """The filled slots of a submitted form, first (empty ones are no question), then
    empty ones: a question's slot number is its place in the list."""
    filled = []
    for n in range(1, MAX_QUESTIONS + 1):
        slot: Slot = {part: form.get(f"question-{n}-{part}") for part in PARTS}
        slot["required"] = slot["required"] in {"on", "true", "1", "yes"}
        if any(slot[part].strip() for part in ("id", "text", "choices")):
            filled.append(slot)
    return filled + [_empty() for _ in range(MAX_QUESTIONS - len(filled))]


def questions_input(slots: Sequence[Slot]) -> list[dict[str, Any]]:
    """The questions to validate: the filled slots, choices one per line; a blank id is
    left for the campaign to assign."""
    questions = []
    for slot in slots:
        if not any(str(slot[part]).strip() for part in ("id", "text", "choices")):
            continue
        question: dict[str, Any] = {
            "text": slot["text"],
            "type": slot["type"] or "text",
            "choices": [line for line in str(slot["choices"]).splitlines() if line.strip()],
            "audience": slot["audience"] or "all",
            "required": bool(slot["required"]),
        }
        if str(slot["id"]).strip():
            question["id"] = str(slot["id"]).strip()
        questions.append(question)
    return questions


def error_place(loc: Sequence[int | str]) -> tuple[str, str]:
    """Which field shows an error about the questions (``loc`` starts with "questions"),
    and what to put before its message."""
    if len(loc) < 2 or not isinstance(loc[1], int):
        return "questions", ""
    part = str(loc[2]) if len(loc) > 2 else ""
    label = PART_LABELS.get(part, part)
    return f"question-{loc[1] + 1}", f"{label}: " if label else ""
