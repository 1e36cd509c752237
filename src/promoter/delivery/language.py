"""The language a contact reads: its ``language`` trait, else its ``locale`` trait, when
either names a supported language; otherwise its survey template's language."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Connection, select

from promoter.domain.languages import choose_language
from promoter.storage.tables import contact_attributes

#: The contact attributes (Segment traits) that name a language, the first one first.
LANGUAGE_TRAITS = ("language", "locale")


def contact_languages(conn: Connection, *, contact_ids: Collection[int]) -> dict[int, str]:
    """The supported language each contact's traits name, for the contacts they name one."""
    if not contact_ids:
        return {}
    rows = conn.execute(
        select(
            contact_attributes.c.contact_id,
            contact_attributes.c.name,
            contact_attributes.c.value_text,
        ).where(
            contact_attributes.c.contact_id.in_(set(contact_ids)),
            contact_attributes.c.name.in_(LANGUAGE_TRAITS),
        )
    ).all()
    traits: dict[int, dict[str, str | None]] = {}
    for row in rows:
        traits.setdefault(row.contact_id, {})[row.name] = row.value_text
    chosen: dict[int, str] = {}
    for contact_id, values in traits.items():
        language = ""
        for name in reversed(LANGUAGE_TRAITS):
            language = choose_language(values.get(name), language)
        if language:
            chosen[contact_id] = language
    return chosen


def contact_language(conn: Connection, *, contact_id: int, fallback: str) -> str:
    """The language to write to one contact in; ``fallback`` when its traits name none."""
    return contact_languages(conn, contact_ids=[contact_id]).get(contact_id, fallback)
