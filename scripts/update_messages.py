"""Regenerate src/promoter/locale/messages.pot from the English words and merge it into
every language's messages.po (`make messages`); `--add xx` starts a new language.

A message whose English text changed keeps its translation, marked fuzzy: Promoter
says it in English until a translator has checked it and removed the mark. Files are
written only when their messages change.
"""

from __future__ import annotations

import argparse
import io
import sys
from datetime import UTC, datetime
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from promoter.delivery.i18n import BRAND_NOTE, DOMAIN, ENGLISH, NOTES
from promoter.domain.languages import LANGUAGES

LOCALE = Path(__file__).resolve().parents[1] / "src" / "promoter" / "locale"
HEADER = (
    "# The words of Promoter's survey emails and pages{language}.\n"
    "# Each message's msgctxt is its key in src/promoter/delivery/i18n.py; see\n"
    '# docs/development.md, "Translating".\n'
    "#"
)


def template(created: datetime | str | None) -> Catalog:
    """The messages to translate: one per English message, its key as context."""
    catalogue = Catalog(
        domain=DOMAIN,
        project="Promoter",
        version="surveys",
        header_comment=HEADER.format(language=""),
        creation_date=created,
        charset="utf-8",
    )
    for key, english in ENGLISH.items():
        notes = [NOTES[key]] if key in NOTES else []
        if "{brand}" in english:
            notes.append(BRAND_NOTE)
        catalogue.add(english, context=key, auto_comments=notes, flags=_flags(english))
    return catalogue


def _flags(english: str) -> tuple[str, ...]:
    return ("python-brace-format",) if "{" in english else ()


def new_catalogue(language: str, pot: Catalog) -> Catalog:
    name = Locale.parse(language).english_name or language
    return Catalog(
        locale=language,
        domain=DOMAIN,
        project="Promoter",
        version="surveys",
        header_comment=HEADER.format(language=f", in {name}"),
        creation_date=pot.creation_date,
        revision_date=datetime.now(UTC),
        language_team=name,
        charset="utf-8",
        fuzzy=False,
    )


def merged(catalogue: Catalog, pot: Catalog) -> Catalog:
    """``catalogue`` brought up to ``pot``: messages matched by their context (the key);
    one whose English changed keeps its translation, marked fuzzy; removed ones go."""
    for new in pot:
        for old in [m for m in catalogue if m.id and m.context == new.context]:
            if old.id == new.id:
                continue
            catalogue.delete(old.id, context=old.context)
            if old.string:
                catalogue.add(new.id, old.string, context=new.context, flags={"fuzzy"})
    catalogue.update(pot, no_fuzzy_matching=True)
    catalogue.project, catalogue.version = pot.project, pot.version
    return catalogue


def serialised(catalogue: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalogue, ignore_obsolete=True)
    return out.getvalue()


def write_changed(path: Path, data: bytes) -> bool:
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def update(locale: Path, *, add: list[str]) -> list[Path]:
    """Rewrite the template and the catalogues under ``locale``; return those changed."""
    changed: list[Path] = []
    pot_path = locale / f"{DOMAIN}.pot"
    created: datetime | str | None = None
    if pot_path.exists():
        with pot_path.open("rb") as existing:
            created = read_po(existing).creation_date
    pot = template(created)
    data = serialised(pot)
    if pot_path.exists() and pot_path.read_bytes() != data:
        pot = template(datetime.now(UTC))
        data = serialised(pot)
    if write_changed(pot_path, data):
        changed.append(pot_path)
    languages = sorted(path.parent.parent.name for path in locale.glob("*/LC_MESSAGES/*.po"))
    for language in [*languages, *(a for a in add if a not in languages)]:
        path = locale / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.exists():
            with path.open("rb") as po:
                catalogue = read_po(po, locale=language, domain=DOMAIN)
        else:
            catalogue = new_catalogue(language, pot)
        if write_changed(path, serialised(merged(catalogue, pot))):
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locale", type=Path, default=LOCALE, help="the catalogues' folder")
    parser.add_argument(
        "--add", action="append", default=[], metavar="LANGUAGE", help="start a catalogue"
    )
    args = parser.parse_args(argv)
    for language in args.add:
        try:
            Locale.parse(language)
        except (ValueError, UnknownLocaleError):
            parser.error(f"--add {language}: not a language code Babel knows (such as sv)")
    for path in update(args.locale, add=args.add):
        print(f"updated {path}")
    present = {path.parent.parent.name for path in args.locale.glob("*/LC_MESSAGES/*.po")}
    missing = sorted(set(LANGUAGES) - {"en"} - present)
    if missing:
        print(f"no catalogue yet for {', '.join(missing)}: run with --add", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
