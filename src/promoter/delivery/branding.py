"""A template's branding as the survey email and the survey pages show it: the brand's
name and colour, an accent readable on white, and the logo's absolute URL (an uploaded
logo wins over an external ``logo_url``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import FromClause, Join

from promoter.domain.colors import DEFAULT_ACCENT, accessible_accent, text_on
from promoter.storage.tables import email_templates, logos

#: The image types a logo may have, and the extension of each in its URL.
LOGO_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
}
#: How many hexadecimal digits of the logo's SHA-256 its URL carries.
LOGO_HASH_DIGITS = 16


@dataclass(frozen=True, slots=True)
class StoredLogo:
    """An uploaded logo, as much as its URL needs."""

    id: int
    sha256: str
    content_type: str

    @property
    def path(self) -> str:
        """``/logos/{id}-{first 16 hex digits of the SHA-256}.{ext}``."""
        extension = LOGO_EXTENSIONS[self.content_type]
        return f"/logos/{self.id}-{self.sha256[:LOGO_HASH_DIGITS]}.{extension}"


def effective_logo_url(
    *, base_url: str, logo: StoredLogo | None, external_url: str | None
) -> str | None:
    """The uploaded logo's absolute URL on this instance, else the external URL, else None."""
    if logo is not None:
        return base_url.rstrip("/") + logo.path
    return external_url or None


@dataclass(frozen=True, slots=True)
class Branding:
    """What the email and the survey pages show of the brand."""

    brand_name: str
    #: The template's colour (``#rrggbb``), or the default accent.
    brand_color: str
    #: The brand colour darkened to 4.5:1 on white: links, borders, text.
    accent: str
    #: White: text on a button or band filled with ``accent``.
    text_on_accent: str
    #: White or near-black: text on a band filled with ``brand_color``.
    text_on_brand: str
    #: Absolute, or None for no logo.
    logo_url: str | None


def branding(
    *,
    base_url: str,
    brand_name: str,
    brand_color: str | None,
    logo: StoredLogo | None,
    external_logo_url: str | None,
) -> Branding:
    color = brand_color or DEFAULT_ACCENT
    accent = accessible_accent(color)
    return Branding(
        brand_name=brand_name,
        brand_color=color,
        accent=accent,
        text_on_accent=text_on(accent),
        text_on_brand=text_on(color),
        logo_url=effective_logo_url(base_url=base_url, logo=logo, external_url=external_logo_url),
    )


#: The columns ``branding_of`` reads: select them from a query that joins the template
#: and its logo (``with_logo``; ``surveys_with_templates()`` does).
BRANDING_COLUMNS = (
    email_templates.c.brand_name,
    email_templates.c.brand_color,
    email_templates.c.logo_url,
    email_templates.c.logo_id,
    logos.c.sha256.label("logo_sha256"),
    logos.c.content_type.label("logo_content_type"),
)


def with_logo(joined: FromClause) -> Join:
    """``joined`` (which holds ``email_templates``) with the template's logo, if any."""
    return joined.outerjoin(logos, logos.c.id == email_templates.c.logo_id)


def stored_logo(row: Any) -> StoredLogo | None:
    """The logo of a row that selected BRANDING_COLUMNS (None: no uploaded logo)."""
    if row.logo_id is None or row.logo_sha256 is None:
        return None
    return StoredLogo(row.logo_id, row.logo_sha256, row.logo_content_type)


def branding_of(row: Any, *, base_url: str) -> Branding:
    """The Branding of a row that selected BRANDING_COLUMNS; ``base_url`` is the
    instance's public URL (``Settings.public_url``), as in survey links."""
    return branding(
        base_url=base_url,
        brand_name=row.brand_name,
        brand_color=row.brand_color,
        logo=stored_logo(row),
        external_logo_url=row.logo_url,
    )
