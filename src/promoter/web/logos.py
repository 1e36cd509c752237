"""Uploaded logos, served without authentication (mail clients fetch them) at
``/logos/{id}-{first 16 hex digits of its SHA-256}.{ext}``: a URL with the wrong hash,
id or extension is answered 404, so logos cannot be found by counting ids."""

from __future__ import annotations

import hmac
import re

from fastapi import APIRouter
from starlette.responses import Response

from promoter.campaigns.logos import LogoFile, logo_file
from promoter.delivery.branding import LOGO_EXTENSIONS, LOGO_HASH_DIGITS
from promoter.domain.ids import MAX_INT_ID
from promoter.web.state import ServicesDep
from promoter.web.threads import read

router = APIRouter(include_in_schema=False)

_EXTENSIONS = "|".join(sorted(set(LOGO_EXTENSIONS.values())))
_NAME = re.compile(rf"([1-9][0-9]{{0,9}})-([0-9a-f]{{{LOGO_HASH_DIGITS}}})\.({_EXTENSIONS})")
#: Neither answer may be taken for a page: no sniffing, nothing loaded or run.
SAFE = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'"}
#: A logo's URL changes with its bytes, so what is fetched once is good for a year.
CACHE_FOREVER = "public, max-age=31536000, immutable"


def _matches(found: LogoFile | None, digits: str, extension: str) -> bool:
    if found is None:
        return False
    right = hmac.compare_digest(found.sha256[:LOGO_HASH_DIGITS], digits)
    return right and LOGO_EXTENSIONS.get(found.content_type) == extension


@router.get("/logos/{name}")
async def logo(services: ServicesDep, name: str) -> Response:
    """The logo's bytes exactly as uploaded, or 404."""
    match = _NAME.fullmatch(name)
    if match is None or int(match[1]) > MAX_INT_ID:
        return _not_found()
    found = await read(services, logo_file, logo_id=int(match[1]))
    if found is None or not _matches(found, match[2], match[3]):
        return _not_found()
    headers = {**SAFE, "Cache-Control": CACHE_FOREVER, "ETag": f'"{found.sha256}"'}
    return Response(found.content, media_type=found.content_type, headers=headers)


def _not_found() -> Response:
    headers = {**SAFE, "Cache-Control": "no-store"}
    return Response("Not found.", status_code=404, media_type="text/plain", headers=headers)
