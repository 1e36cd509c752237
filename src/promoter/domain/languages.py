"""The languages surveys are sent in, their writing direction, and how a contact's
``language`` or ``locale`` trait ("pt-BR", "ja_JP", "AR") names one of them."""

from __future__ import annotations

import re
from typing import Literal, get_args

Language = Literal["en", "de", "fr", "es", "pt", "it", "nl", "ja", "ar"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
#: Each language by its own name, as a person choosing it looks for it.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "pt": "Português",
    "it": "Italiano",
    "nl": "Nederlands",
    "ja": "日本語",
    "ar": "العربية",
}
RIGHT_TO_LEFT: frozenset[str] = frozenset({"ar"})

#: What separates a language from its region, script or encoding: "pt-BR", "pt_BR",
#: "zh-Hant", "ja_JP.UTF-8", "sr@latin".
_SUBTAG = re.compile(r"[-_.@\s]")


def text_direction(language: str) -> Literal["rtl", "ltr"]:
    """How the language is written: ``"rtl"`` (Arabic) or ``"ltr"``."""
    return "rtl" if language in RIGHT_TO_LEFT else "ltr"


def choose_language(trait: object, fallback: str) -> str:
    """The supported language a trait value names ("pt-BR" -> "pt", "JA" -> "ja"), or
    ``fallback`` when it names none (not text, empty, or an unsupported language)."""
    if not isinstance(trait, str):
        return fallback
    primary = _SUBTAG.split(trait.strip(), maxsplit=1)[0].lower()
    return primary if primary in LANGUAGES else fallback


def accepted_language(header: str | None, fallback: str) -> str:
    """The supported language a browser's ``Accept-Language`` header prefers ("de-CH,
    de;q=0.9, en;q=0.8"), or ``fallback`` when it names none (``*`` and ``q=0`` name
    none)."""
    if not header:
        return fallback
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:30]):
        tag, _, params = part.partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        language = choose_language(tag, "")
        if language and 0 < weight <= 1:
            ranked.append((-weight, position, language))
    return min(ranked)[2] if ranked else fallback
