"""Reading the survey pages' forms: the body within its limit, a field, a score."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request

from promoter.ingest.payload import PayloadError, read_body

#: A form's body at the most: a comment of MAX_COMMENT_LENGTH four-byte characters,
#: percent-encoded (12 bytes each), fits with room to spare.
MAX_FORM_BYTES = 64 * 1024

Form = dict[str, list[str]]


async def read_form(request: Request) -> Form | None:
    """The form's fields, or ``None`` when the body is over MAX_FORM_BYTES or cannot be
    read: never taken for an empty form."""
    try:
        body = await read_body(
            request.stream(),
            limit=MAX_FORM_BYTES,
            content_encoding=request.headers.get("content-encoding"),
        )
    except PayloadError:
        return None
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def last(form: Form, name: str) -> str | None:
    """The field's last value (``None``: not sent)."""
    values = form.get(name)
    return values[-1] if values else None


def parse_score(text: str | None) -> int | None:
    """A score from 0 to 10 written as a whole number, or ``None``."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 2:
        return None
    score = int(text)
    return score if 0 <= score <= 10 else None
