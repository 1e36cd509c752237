"""Reading a dashboard form (``application/x-www-form-urlencoded``) with a size limit."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import HTTPException, Request

from promoter.ingest.payload import PayloadError, read_body

MAX_FORM_BYTES = 256 * 1024


class Form:
    """The fields of a submitted form, in order; a name may repeat."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def get(self, name: str, default: str = "") -> str:
        for key, value in reversed(self.pairs):
            if key == name:
                return value
        return default

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self.pairs)


async def read_form(request: Request) -> Form:
    """The form; a body over the limit or not decodable is a 400."""
    try:
        body = await read_body(
            request.stream(),
            limit=MAX_FORM_BYTES,
            content_encoding=request.headers.get("content-encoding"),
        )
    except PayloadError as exc:
        raise HTTPException(400, f"the form cannot be read: {exc}") from None
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=5000)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, f"the form cannot be read: {exc}") from None
    return Form([(k, v.replace("\x00", "")) for k, v in pairs])
