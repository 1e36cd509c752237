"""Languages: a trait's language, the writing direction, and the gettext catalogues (every
message translated, none fuzzy, the template in step with the English words)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.pofile import read_po

from promoter.delivery.i18n import ENGLISH, Catalogues, catalogues, locale_folder, words
from promoter.domain.languages import (
    LANGUAGE_NAMES,
    LANGUAGES,
    RIGHT_TO_LEFT,
    choose_language,
    text_direction,
)

LOCALE = Path(str(locale_folder()))
TRANSLATED = [language for language in LANGUAGES if language != "en"]
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "update_messages.py"


@pytest.mark.parametrize(
    ("trait", "language"),
    [
        ("pt-BR", "pt"),
        ("pt_BR", "pt"),
        ("PT", "pt"),
        ("ja-JP", "ja"),
        ("ar_EG", "ar"),
        ("en-US", "en"),
        ("nl-BE", "nl"),
        (" it ", "it"),
        ("de_DE.UTF-8", "de"),
        ("fr@euro", "fr"),
        ("zh-Hant", "xx"),
        ("zh", "xx"),
        ("japanese", "xx"),
        ("", "xx"),
        ("-", "xx"),
        (None, "xx"),
        (12, "xx"),
        (["ja"], "xx"),
        ({"language": "ja"}, "xx"),
    ],
)
def test_a_traits_language(trait: object, language: str) -> None:
    assert choose_language(trait, "xx") == language


def test_every_language_has_its_own_name() -> None:
    assert list(LANGUAGE_NAMES) == list(LANGUAGES)
    assert RIGHT_TO_LEFT.issubset(LANGUAGES)


def test_text_direction() -> None:
    assert text_direction("ar") == "rtl"
    assert {text_direction(language) for language in LANGUAGES if language != "ar"} == {"ltr"}
    assert text_direction("xx") == "ltr"


def read(path: Path):  # type: ignore[no-untyped-def]
    with path.open("rb") as po:
        return read_po(po)


def placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"\{[^{}]*\}", text))


def test_the_template_holds_the_english_words_keyed_by_context() -> None:
    """Fails when an English message is added or changed without `make messages`."""
    pot = read(LOCALE / "messages.pot")
    assert [(m.context, m.id) for m in pot if m.id] == list(ENGLISH.items())


def test_every_language_has_a_catalogue_and_every_catalogue_a_language() -> None:
    found = sorted(p.parent.parent.name for p in LOCALE.glob("*/LC_MESSAGES/messages.po"))
    assert found == sorted(TRANSLATED)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated_none_fuzzy_with_the_same_placeholders(
    language: str,
) -> None:
    pot = read(LOCALE / "messages.pot")
    catalogue = read(LOCALE / language / "LC_MESSAGES" / "messages.po")
    for template in pot:
        if not template.id:
            continue
        message = catalogue.get(template.id, context=template.context)
        where = (language, template.context)
        assert message is not None, where
        assert message.string and not message.fuzzy, where
        assert placeholders(message.string) == placeholders(template.id), where
        assert message.string != template.id, where
    assert catalogues().translations[language].keys() == ENGLISH.keys()


def test_the_catalogues_are_what_make_messages_writes(tmp_path: Path) -> None:
    copy = tmp_path / "locale"
    shutil.copytree(LOCALE, copy)
    assert update_messages().update(copy, add=[]) == []


def test_a_changed_english_text_is_said_in_english_until_its_translation_is_checked(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "locale"
    shutil.copytree(LOCALE, copy)
    french = copy / "fr" / "LC_MESSAGES" / "messages.po"
    text = french.read_text()
    for key in ("comment_prompt", "skip"):
        # As if the English had been different when the catalogue was last merged.
        text = re.sub(
            rf'(msgctxt "{key}"\nmsgid )"[^"]*"', r'\1"An earlier English text"', text, count=1
        )
    french.write_text(text.replace('msgstr "Passer"', 'msgstr ""'))
    assert update_messages().update(copy, add=[]) == [french]
    merged = read(french)
    prompt = merged.get(ENGLISH["comment_prompt"], context="comment_prompt")
    assert (
        prompt.fuzzy
        and prompt.string == "Quelle est la raison principale de votre note ? (facultatif)"
    )
    assert merged.get(ENGLISH["skip"], context="skip").string == ""
    said = Catalogues.load(copy).words("fr", "Acme")
    assert said["comment_prompt"] == ENGLISH["comment_prompt"]
    assert said["skip"] == "Skip"
    assert said["confirm"] == "Confirmer"


def test_a_language_without_a_catalogue_is_said_in_english(tmp_path: Path) -> None:
    copy = tmp_path / "locale"
    shutil.copytree(LOCALE, copy)
    shutil.rmtree(copy / "nl")
    loaded = Catalogues.load(copy)
    assert loaded.words("nl", "Acme") == words("en", "Acme")
    assert loaded.words("de", "Acme") == words("de", "Acme")


def test_a_new_language_starts_with_every_message_to_translate(tmp_path: Path) -> None:
    copy = tmp_path / "locale"
    shutil.copytree(LOCALE, copy)
    (added,) = update_messages().update(copy, add=["sv"])
    catalogue = read(added)
    assert str(catalogue.locale) == "sv"
    assert [(m.context, m.string) for m in catalogue if m.id] == [(k, "") for k in ENGLISH]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_brand_ending_in_a_full_stop_is_not_followed_by_another(language: str) -> None:
    for brand in ("Demo Inc.", "Yahoo!", "株式会社デモ。"):
        for key, text in words(language, brand).items():
            doubled = re.search(re.escape(brand) + "[.\u3002\uff0e]", text)
            assert doubled is None, (language, brand, key, text)
    said = words(language, "Acme")
    for key, english in ENGLISH.items():
        if "{brand}" in english:
            assert "Acme" in said[key], (language, key)


def test_the_period_after_the_brand_stays_when_the_brand_has_none() -> None:
    assert words("en", "Acme")["why"] == "You received this email because you use Acme."
    assert words("en", "Demo Inc.")["why"] == "You received this email because you use Demo Inc."
    assert words("ar", "Demo Inc.")["why"] == "تلقيت هذه الرسالة لأنك تستخدم Demo Inc."
    assert words("en", "Demo Inc.")["logo_alt"] == "Demo Inc. logo"


def test_an_unknown_language_is_english() -> None:
    assert words("xx", "Acme") == words("en", "Acme")
    assert words("en", "Acme")["question"] == (
        "How likely are you to recommend Acme to a friend or colleague?"
    )


def update_messages() -> ModuleType:
    """scripts/update_messages.py, imported (scripts is not a package)."""
    spec = importlib.util.spec_from_file_location("update_messages", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("update_messages", module)
    spec.loader.exec_module(module)
    return module
