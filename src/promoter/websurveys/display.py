"""What the survey script needs to show a web survey: its words in the visitor's
language, the brand, and the follow-up questions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from promoter.campaigns.questions import question_dicts
from promoter.delivery.branding import branding
from promoter.delivery.i18n import words
from promoter.delivery.language import contact_languages
from promoter.domain.languages import LANGUAGES, choose_language, text_direction
from promoter.surveys.responses import SurveyView


def visitor_language(
    conn: Connection, survey: SurveyView, *, contact_id: int, browser: Sequence[str]
) -> str:
    """The contact's ``language`` (or ``locale``) trait when it names a supported language;
    else the first supported one of the browser's; else the survey template's."""
    chosen = contact_languages(conn, contact_ids=[contact_id]).get(contact_id)
    if chosen:
        return chosen
    for tag in browser[:10]:
        found = choose_language(tag, "")
        if found in LANGUAGES:
            return found
    return survey.language


def survey_json(survey: SurveyView, *, token: str, language: str, base_url: str) -> dict[str, Any]:
    """The survey as the script renders it."""
    look = branding(
        base_url=base_url,
        brand_name=survey.brand_name,
        brand_color=survey.brand_color,
        logo=survey.logo,
        external_logo_url=survey.logo_url,
    )
    return {
        "token": token,
        "language": language,
        "dir": text_direction(language),
        "brand": {
            "name": survey.brand_name,
            "color": look.brand_color,
            "accent": look.accent,
            "on_accent": look.text_on_accent,
            "logo_url": look.logo_url,
        },
        "text": words(language, survey.brand_name),
        "questions": question_dicts(survey.questions),
        "thanks_url": survey.thanks_url,
    }
