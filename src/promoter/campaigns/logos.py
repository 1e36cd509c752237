"""Logos uploaded for email templates: checked (size, type, dimensions), stored as sent,
put on a template or taken off it, and read back to be served. Every function that
touches the database takes the caller's connection."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime

from PIL import Image, UnidentifiedImageError
from sqlalchemy import Connection, delete, exists, insert, select, update

from promoter.campaigns.service import get_template
from promoter.delivery.branding import LOGO_EXTENSIONS, StoredLogo
from promoter.storage.tables import email_templates, logos

#: The largest logo accepted, in bytes.
MAX_LOGO_BYTES = 256 * 1024
#: The widest and tallest logo accepted, in pixels.
MAX_LOGO_SIDE = 2048
#: Each accepted type: how its bytes start, and Pillow's names for it.
_SIGNATURES: dict[str, tuple[tuple[bytes, ...], tuple[str, ...]]] = {
    "image/png": ((b"\x89PNG\r\n\x1a\n",), ("PNG",)),
    "image/jpeg": ((b"\xff\xd8\xff",), ("JPEG", "MPO")),
    "image/gif": ((b"GIF87a", b"GIF89a"), ("GIF",)),
    "image/webp": ((b"RIFF",), ("WEBP",)),
}
ACCEPTED = ", ".join(LOGO_EXTENSIONS)


class LogoRefused(ValueError):
    """An upload that is not stored: ``status`` is the HTTP answer it deserves (413 too
    large, 415 not an accepted image type, 400 an image that cannot be used)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class CheckedImage:
    """An upload that passed every check: its bytes, as sent, and what they are."""

    content: bytes
    content_type: str
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True, slots=True)
class Logo:
    """A stored logo, without its bytes."""

    id: int
    organization_id: int
    content_type: str
    sha256: str
    byte_size: int
    width: int
    height: int
    created_at: datetime

    @property
    def stored(self) -> StoredLogo:
        return StoredLogo(self.id, self.sha256, self.content_type)


def sniff(content: bytes) -> str | None:
    """The accepted type ``content`` starts like, or None."""
    for content_type, (starts, _) in _SIGNATURES.items():
        if content.startswith(starts):
            if content_type == "image/webp" and content[8:12] != b"WEBP":
                continue
            return content_type
    return None


def check_image(content: bytes, declared: str | None) -> CheckedImage:
    """``content`` if it is a PNG, JPEG, GIF or WebP image of the ``declared`` type, at
    most MAX_LOGO_BYTES and MAX_LOGO_SIDE pixels each way, that decodes; else LogoRefused."""
    if len(content) > MAX_LOGO_BYTES:
        raise LogoRefused(
            413, f"The logo is {len(content)} bytes; at most {MAX_LOGO_BYTES} (256 KB)."
        )
    if not content:
        raise LogoRefused(400, "The logo is empty: send the image's bytes.")
    content_type = (declared or "").split(";")[0].strip().lower()
    if content_type not in _SIGNATURES:
        raise LogoRefused(
            415, f"A logo's Content-Type is one of {ACCEPTED}, not {content_type or 'none'}."
        )
    found = sniff(content)
    if found is None:
        raise LogoRefused(415, "The content is not a PNG, JPEG, GIF or WebP image.")
    if found != content_type:
        raise LogoRefused(415, f"The content is {found}, not the {content_type} declared.")
    width, height = _decoded_size(content, _SIGNATURES[content_type][1])
    if width > MAX_LOGO_SIDE or height > MAX_LOGO_SIDE:
        raise LogoRefused(
            400,
            f"The logo is {width}x{height} pixels; at most {MAX_LOGO_SIDE}x{MAX_LOGO_SIDE}.",
        )
    return CheckedImage(content, content_type, width, height)


def _decoded_size(content: bytes, formats: tuple[str, ...]) -> tuple[int, int]:
    """The image's width and height once decoded by Pillow, opening it with its own
    format's decoder only; its size is checked before its pixels are decoded."""
    try:
        with Image.open(io.BytesIO(content), formats=list(formats)) as image:
            width, height = image.size
            if width <= MAX_LOGO_SIDE and height <= MAX_LOGO_SIDE:
                image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise LogoRefused(400, "The image has too many pixels to be a logo.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise LogoRefused(400, "The image cannot be read: it is damaged or cut short.") from None
    return width, height


def _logo(row: object) -> Logo:
    return Logo(**{name: getattr(row, name) for name in Logo.__dataclass_fields__})


_LOGO_COLUMNS = tuple(logos.c[name] for name in Logo.__dataclass_fields__)


def set_logo(
    conn: Connection, *, organization_id: int, template_id: int, image: CheckedImage
) -> Logo:
    """Store ``image`` and make it the template's logo; the logo it replaces is deleted
    when no other template shows it."""
    template = get_template(conn, organization_id=organization_id, template_id=template_id)
    now = datetime.now(UTC)
    logo_id = conn.execute(
        insert(logos)
        .values(
            organization_id=organization_id,
            content=image.content,
            content_type=image.content_type,
            sha256=image.sha256,
            byte_size=len(image.content),
            width=image.width,
            height=image.height,
            created_at=now,
        )
        .returning(logos.c.id)
    ).scalar_one()
    _point(conn, template_id, logo_id, now)
    _drop_if_unused(conn, template.logo_id)
    found = template_logo(conn, organization_id=organization_id, logo_id=logo_id)
    assert found is not None
    return found


def remove_logo(conn: Connection, *, organization_id: int, template_id: int) -> None:
    """Take the uploaded logo off the template (its ``logo_url``, if any, shows again)."""
    template = get_template(conn, organization_id=organization_id, template_id=template_id)
    if template.logo_id is not None:
        _point(conn, template_id, None, datetime.now(UTC))
        _drop_if_unused(conn, template.logo_id)


def _point(conn: Connection, template_id: int, logo_id: int | None, now: datetime) -> None:
    conn.execute(
        update(email_templates)
        .where(email_templates.c.id == template_id)
        .values(logo_id=logo_id, updated_at=now)
    )


def _drop_if_unused(conn: Connection, logo_id: int | None) -> None:
    if logo_id is None:
        return
    conn.execute(
        delete(logos).where(
            logos.c.id == logo_id,
            ~exists().where(email_templates.c.logo_id == logo_id),
        )
    )


def template_logo(conn: Connection, *, organization_id: int, logo_id: int | None) -> Logo | None:
    """The organization's logo ``logo_id`` (None for None, or another's)."""
    if logo_id is None:
        return None
    return logos_by_id(conn, organization_id=organization_id, logo_ids=[logo_id]).get(logo_id)


def logos_by_id(conn: Connection, *, organization_id: int, logo_ids: list[int]) -> dict[int, Logo]:
    """The organization's logos among ``logo_ids``, by id."""
    if not logo_ids:
        return {}
    rows = conn.execute(
        select(*_LOGO_COLUMNS).where(
            logos.c.organization_id == organization_id, logos.c.id.in_(set(logo_ids))
        )
    )
    return {row.id: _logo(row) for row in rows}


@dataclass(frozen=True, slots=True)
class LogoFile:
    """A logo's bytes, as they are served."""

    content: bytes
    content_type: str
    sha256: str


def logo_file(conn: Connection, *, logo_id: int) -> LogoFile | None:
    """Logo ``logo_id``'s bytes, whoever owns it: its URL, which carries its hash, is the
    proof of being allowed to see it."""
    row = conn.execute(
        select(logos.c.content, logos.c.content_type, logos.c.sha256).where(logos.c.id == logo_id)
    ).one_or_none()
    if row is None:
        return None
    return LogoFile(bytes(row.content), row.content_type, row.sha256)
