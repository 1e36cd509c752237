"""Reading a dashboard form (``application/x-www-form-urlencoded``, or
``multipart/form-data`` with one file) with a size limit."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from promoter.domain.ids import MAX_INT_ID
from promoter.ingest.payload import PayloadError, read_body

MAX_FORM_BYTES = 256 * 1024
#: A form with a file: the file's own limit is checked by whoever reads it, with a
#: message on the form.
MAX_UPLOAD_FORM_BYTES = 2 * 1024 * 1024
#: Fields of a form, at most.
MAX_FIELDS = 5000


@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent with a form: its bytes and the type the browser declared."""

    content: bytes
    content_type: str | None
    filename: str


@dataclass
class Form:
    """The fields of a submitted form, in order; a name may repeat. ``files``: the files
    chosen, by field name (a file field left empty is not there)."""

    pairs: list[tuple[str, str]]
    files: dict[str, Upload] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        for key, value in reversed(self.pairs):
            if key == name:
                return value
        return default

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self.pairs)


def chosen_id(text: str) -> int | None:
    """The id a menu's value names (digits, 1 to ``MAX_INT_ID``), or None if it is not one."""
    text = text.strip()
    if text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) <= MAX_INT_ID:
        return int(text)
    return None


async def read_form(request: Request) -> Form:
    """The form; a body over the limit or not decodable is a 400."""
    multipart = request.headers.get("content-type", "").lower().startswith("multipart/form-data")
    try:
        body = await read_body(
            request.stream(),
            limit=MAX_UPLOAD_FORM_BYTES if multipart else MAX_FORM_BYTES,
            content_encoding=request.headers.get("content-encoding"),
        )
    except PayloadError as exc:
        raise HTTPException(400, f"the form cannot be read: {exc}") from None
    if multipart:
        return await _multipart(request, body)
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, f"the form cannot be read: {exc}") from None
    return Form([(k, v.replace("\x00", "")) for k, v in pairs])


async def _multipart(request: Request, body: bytes) -> Form:
    async def chunks() -> AsyncGenerator[bytes, None]:
        yield body

    parser = MultiPartParser(
        request.headers, chunks(), max_files=1, max_fields=MAX_FIELDS, max_part_size=MAX_FORM_BYTES
    )
    try:
        parsed = await parser.parse()
    except MultiPartException as exc:
        raise HTTPException(400, f"the form cannot be read: {exc.message}") from None
    pairs: list[tuple[str, str]] = []
    files: dict[str, Upload] = {}
    for name, value in parsed.multi_items():
        if isinstance(value, UploadFile):
            content = await value.read()
            await value.close()
            if content or value.filename:
                files[name] = Upload(content, value.content_type, value.filename or "")
        else:
            pairs.append((name, value.replace("\x00", "")))
    await parsed.close()
    return Form(pairs, files)
