"""``GET /w/promoter.js``: the web survey script customers' pages load (see
docs/web-survey.md), read once per app, revalidated by its ETag and gzipped for browsers
that take it."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import Response

SCRIPT = Path(__file__).parent / "widget" / "promoter.js"
MEDIA_TYPE = "application/javascript; charset=utf-8"
#: Pages pick up a new release within five minutes; meanwhile the ETag spares the bytes.
CACHE = "public, max-age=300"

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class WidgetScript:
    """The script's bytes, plain and gzipped, and their ETag."""

    plain: bytes
    gzipped: bytes
    etag: str

    @classmethod
    def load(cls, path: Path = SCRIPT) -> WidgetScript:
        plain = path.read_bytes()
        digest = hashlib.sha256(plain).hexdigest()[:32]
        return cls(plain, gzip.compress(plain, compresslevel=9, mtime=0), f'"{digest}"')


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header takes gzip (named, with a quality above 0)."""
    for coding in accept_encoding.lower().split(","):
        name, _, parameters = coding.partition(";")
        if name.strip() != "gzip":
            continue
        quality = parameters.strip()
        try:
            return not quality.startswith("q=") or float(quality[2:]) > 0
        except ValueError:
            return False
    return False


@router.get("/w/promoter.js")
async def widget_script(request: Request) -> Response:
    script: WidgetScript = request.app.state.widget_script
    headers = {
        "Cache-Control": CACHE,
        "ETag": script.etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # Loadable by pages that require cross-origin resources to opt in (COEP).
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if script.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if accepts_gzip(request.headers.get("accept-encoding", "")):
        headers["Content-Encoding"] = "gzip"
        return Response(script.gzipped, media_type=MEDIA_TYPE, headers=headers)
    return Response(script.plain, media_type=MEDIA_TYPE, headers=headers)
