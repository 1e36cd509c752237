"""The survey email's and pages' words: English here, the other languages in gettext
catalogues (``promoter/locale/<language>/LC_MESSAGES/messages.po``, read with Babel).

Each message's context (msgctxt) is its key below and its msgid the English text, so a
changed English text leaves the old translation unused until a translator has seen it.
``scripts/update_messages.py`` (``make messages``) extracts ``ENGLISH`` into
``messages.pot`` and merges it into each catalogue; docs/development.md, "Translating".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

from babel.messages.pofile import read_po

from promoter.domain.languages import LANGUAGES

#: The source of every catalogue: each message's key and its English text.
ENGLISH: dict[str, str] = {
    "send": "Send",
    "comment_prompt": "What is the main reason for your score? (optional)",
    "comment_send": "Send comment",
    "thanks": "Thank you for your feedback.",
    "unsubscribe_confirm": "Stop receiving survey emails from {brand}?",
    "unsubscribed": "You are unsubscribed. You will not receive survey emails from {brand} again.",
    "not_found": "This survey link is not valid.",
    "bad_score": "Please choose a score from 0 to 10.",
    "your_score": "Your score",
    "already_unsubscribed": "You are unsubscribed from {brand}'s surveys.",
    "question": "How likely are you to recommend {brand} to a friend or colleague?",
    "not_likely": "Not at all likely",
    "very_likely": "Extremely likely",
    "reminder": "Reminder",
    "unsubscribe": "Unsubscribe",
    "why": "You received this email because you use {brand}.",
    "hint": "Click a number to answer.",
    "comment_too_long": "Your comment was not saved: it is too long. Please shorten it "
    "to at most 5,000 characters and send it again.",
    "comment_missing": "Your comment was not received. Please send it again.",
    "confirm": "Confirm",
    "skip": "Skip",
    "saving": "Saving your score…",
    "saved": "Thank you! Your score is saved. You can still change it.",
    "confirm_needed": "Press Confirm to save your score.",
    "save_failed": "Your score could not be saved. Please press Confirm.",
    "closed": "This survey is closed. Thank you for your time.",
    "closed_answer": "This survey is closed. This is the answer we recorded.",
    "answered": "You have already answered. You can change your answer below.",
    "choose_one": "Choose one.",
    "choose_any": "Choose all that apply.",
    "scale_ends": "1 = lowest, 5 = highest",
    "answer_required": "Please answer this question.",
    "bad_answer": "Please check this answer.",
    "score_group": "Score from 0 to 10",
    "logo_alt": "{brand} logo",
    "form_expired": "This page has expired. Please choose your score again.",
    "close": "Close",
}

#: What a translator needs to know besides the English text (shown as "#." in the files).
NOTES: dict[str, str] = {
    "send": "A button that sends the score.",
    "comment_send": "A button under the comment box.",
    "your_score": "A heading above the score the contact chose.",
    "not_likely": "The label of score 0 on the 0 to 10 scale.",
    "very_likely": "The label of score 10 on the 0 to 10 scale.",
    "reminder": "Put before a reminder's subject: 'Reminder: <subject>'.",
    "unsubscribe": "A link at the foot of the email.",
    "confirm": "A button that saves the chosen score.",
    "skip": "A button that leaves a question unanswered.",
    "confirm_needed": "'Confirm' is the button of the message 'confirm': use its words.",
    "save_failed": "'Confirm' is the button of the message 'confirm': use its words.",
    "scale_ends": "The ends of a 1 to 5 rating question.",
    "score_group": "Read out by screen readers for the 0 to 10 buttons.",
    "logo_alt": "The text of the brand's logo image, for screen readers.",
    "form_expired": "Shown on a public survey link's page when its form was sent too late.",
    "close": "A button that closes the in-app survey.",
}
#: Added to the note of every message with a placeholder.
BRAND_NOTE = "{brand} is the organization's brand or product name: keep it as it is."

#: Where the catalogues are: ``<language>/LC_MESSAGES/messages.po`` and ``messages.pot``.
LOCALE = "locale"
DOMAIN = "messages"

#: A brand that ends a sentence itself ("Demo Inc.", "Yahoo!") takes the place of the
#: sentence's own full stop: "." and the ideographic and full-width ones (U+3002, U+FF0E).
_FULL_STOPS = ".\u3002\uff0e"
_BRAND_FULL_STOP = re.compile(f"\\{{brand\\}}[{_FULL_STOPS}]")
_SENTENCE_ENDS = (*_FULL_STOPS, "!", "?", "…", "\uff01", "\uff1f")


def locale_folder() -> Traversable:
    """The installed catalogues' folder (``promoter/locale``)."""
    return files("promoter") / LOCALE


def catalogue_file(folder: Traversable, language: str) -> Traversable:
    return folder / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@dataclass(frozen=True, slots=True)
class Catalogues:
    """Each language's translated messages by key. What a catalogue lacks, leaves empty
    or marks fuzzy, or translates from another English text, is said in English."""

    translations: Mapping[str, Mapping[str, str]]

    @classmethod
    def load(cls, folder: Traversable | None = None) -> Catalogues:
        """Read every language's catalogue from ``folder`` (the installed ones by default)."""
        folder = folder or locale_folder()
        translations: dict[str, dict[str, str]] = {}
        for language in LANGUAGES:
            path = catalogue_file(folder, language)
            if language == "en" or not path.is_file():
                continue
            with path.open("rb") as po:
                catalogue = read_po(po, locale=language, domain=DOMAIN)
            found: dict[str, str] = {}
            for key, english in ENGLISH.items():
                message = catalogue.get(english, context=key)
                if message and message.string and not message.fuzzy:
                    found[key] = str(message.string)
            translations[language] = found
        return cls(translations)

    def words(self, language: str, brand: str) -> dict[str, str]:
        """Every message in ``language`` (English if it has no catalogue), naming ``brand``."""
        translated = self.translations.get(language, {})
        return {
            key: _with_brand(translated.get(key, english), brand)
            for key, english in ENGLISH.items()
        }


@cache
def catalogues() -> Catalogues:
    """The installed catalogues, read on first use and kept for the process."""
    return Catalogues.load()


def words(language: str, brand: str) -> dict[str, str]:
    """The survey's words in ``language``, by key, with ``{brand}`` filled in."""
    return catalogues().words(language, brand)


def _with_brand(text: str, brand: str) -> str:
    if brand.endswith(_SENTENCE_ENDS):
        text = _BRAND_FULL_STOP.sub("{brand}", text)
    return text.replace("{brand}", brand)
