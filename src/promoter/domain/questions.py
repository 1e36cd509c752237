"""Follow-up questions: their types and audiences, and the limits their answers keep."""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

from promoter.domain.nps import score_type

QuestionType = Literal["text", "single", "multiple", "scale"]
QUESTION_TYPES: tuple[QuestionType, ...] = get_args(QuestionType)
Audience = Literal["all", "detractors", "passives", "promoters"]
AUDIENCES: tuple[Audience, ...] = get_args(Audience)

#: A question's id: short, stable, safe in a form field's name (``q_<id>``).
MAX_QUESTION_ID: Final = 32
QUESTION_ID = re.compile(r"^[a-z0-9_-]{1,32}$")
#: A scale question's answers: whole numbers from SCALE_MIN to SCALE_MAX.
SCALE_MIN: Final = 1
SCALE_MAX: Final = 5
#: A free-text answer's length.
MAX_TEXT_ANSWER: Final = 2000

_AUDIENCE_OF_TYPE: dict[str, Audience] = {
    "detractor": "detractors",
    "passive": "passives",
    "promoter": "promoters",
}


def shown_to(audience: Audience, score: int) -> bool:
    """Whether a question for ``audience`` is asked after ``score``."""
    return audience == "all" or _AUDIENCE_OF_TYPE[score_type(score)] == audience


def scale_value(text: str) -> int | None:
    """A scale answer's number, or None when the text is not one (``"3"`` -> 3)."""
    text = text.strip()
    if len(text) == 1 and text.isascii() and text.isdigit() and SCALE_MIN <= int(text) <= SCALE_MAX:
        return int(text)
    return None
