"""The mail folder (the page at /outbox): the emails the file mail backend wrote, to read
(and click through) without a mail server.

Each message carries the organization it was sent for (``X-Promoter-Organization``); a
user sees, and opens, only their own organization's messages.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from promoter.accounts.sessions import Session
from promoter.config import Settings
from promoter.delivery.mailers import FileMailer, mailer_from_url
from promoter.delivery.render import ORGANIZATION_HEADER
from promoter.orgs.service import get_organization
from promoter.services import Services
from promoter.web.dashboard.session import SessionDep, render
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
#: The listing shows at most this many of the organization's newest messages...
MAX_LISTED = 200
#: ...found among at most this many of the folder's newest files.
MAX_SCANNED = 5000
#: How much of a file is read to find its headers, and the largest message opened.
MAX_HEADER_BYTES = 64 * 1024
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
#: A plain file name in the folder, as the file backend writes them.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]{0,200}\.eml")
_ORG_LINE = re.compile(
    rb"^" + ORGANIZATION_HEADER.encode() + rb":[ \t]*([^\r\n]*?)[ \t]*\r?$", re.I | re.M
)
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
URL = re.compile(r"https?://[^\s<>\"']+")

#: The HTML part of an email, framed by the message page: no script, nothing but images
#: and inline styles, framed by this site only.
HTML_PART_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
    ),
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
#: Links in the framed email open in the whole window (the sandbox lets a click do that),
#: so a survey link leads to the survey page itself.
BASE_TARGET = '<base target="_top">'
_HEAD = re.compile(r"<head(\s[^>]*)?>", re.I)


@dataclass(frozen=True)
class Listed:
    name: str
    date: datetime
    to: str
    subject: str


@dataclass(frozen=True)
class Listing:
    folder_found: bool
    items: list[Listed]
    page: int
    pages: int
    capped: bool


@dataclass(frozen=True)
class Opened:
    name: str
    subject: str
    headers: list[tuple[str, str]]
    #: The plain-text part as (text, link or None) pieces.
    text: list[tuple[str, str | None]] | None
    has_html: bool


def mail_folder(settings: Settings) -> Path | None:
    """The file backend's folder, or None when mail goes out by SMTP."""
    if not settings.email_url.startswith("file:"):
        return None
    try:
        mailer = mailer_from_url(settings.email_url)
    except ValueError:
        return None
    return mailer.folder if isinstance(mailer, FileMailer) else None


def _belongs(values: list[str], organization_id: int) -> bool:
    """Exactly the one organization header, naming this organization."""
    return len(values) == 1 and values[0].strip() == str(organization_id)


def _read_head(path: Path) -> bytes:
    head = b""
    with path.open("rb") as file:
        while len(head) < MAX_HEADER_BYTES:
            chunk = file.read(8192)
            if not chunk:
                break
            head += chunk
            end = _BLANK_LINE.search(head)
            if end:
                return head[: end.end()]
    return head[:MAX_HEADER_BYTES]


def _newest_files(folder: Path) -> list[tuple[float, str]]:
    found: list[tuple[float, str]] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not NAME.fullmatch(entry.name):
                    continue
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    found.append((info.st_mtime, entry.name))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    found.sort(reverse=True)
    return found[:MAX_SCANNED]


def _text(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def list_messages(folder: Path, organization_id: int, page: int) -> Listing:
    """The organization's messages in ``folder``, newest first, a page at a time."""
    if not folder.is_dir():
        return Listing(False, [], 1, 1, False)
    mine: list[tuple[float, str]] = []
    for mtime, name in _newest_files(folder):
        try:
            head = _read_head(folder / name)
        except OSError:
            continue
        values = [m.group(1).decode("ascii", "replace") for m in _ORG_LINE.finditer(head)]
        if _belongs(values, organization_id):
            mine.append((mtime, name))
            if len(mine) == MAX_LISTED:
                break
    pages = max(1, -(-len(mine) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    items = []
    parser = BytesHeaderParser(policy=email.policy.default)
    for mtime, name in mine[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]:
        try:
            headers = parser.parsebytes(_read_head(folder / name))
        except OSError:
            continue
        date = getattr(headers["Date"], "datetime", None) if headers["Date"] else None
        if not isinstance(date, datetime) or date.tzinfo is None:
            date = datetime.fromtimestamp(mtime, UTC)
        items.append(Listed(name, date, _text(headers["To"]), _text(headers["Subject"])))
    return Listing(True, items, page, pages, len(mine) == MAX_LISTED)


def open_message(folder: Path, name: str, organization_id: int) -> EmailMessage | None:
    """The message named ``name`` in ``folder`` if it is the organization's; None for
    anything else (a name that is not a plain file name in the folder included)."""
    if not NAME.fullmatch(name) or name != Path(name).name:
        return None
    path = folder / name
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MESSAGE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(message, EmailMessage):
        return None
    values = [str(v) for v in message.get_all(ORGANIZATION_HEADER, [])]
    return message if _belongs(values, organization_id) else None


def _part(message: EmailMessage, kind: str) -> str | None:
    part = message.get_body((kind,))
    if not isinstance(part, EmailMessage):
        return None
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        return None
    return content if isinstance(content, str) else None


def linkify(text: str) -> list[tuple[str, str | None]]:
    """Text as pieces, the http(s) URLs in it marked as links."""
    pieces: list[tuple[str, str | None]] = []
    at = 0
    for match in URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?)]")
        pieces.append((text[at : match.start()], None))
        pieces.append((url, url))
        at = match.start() + len(url)
    pieces.append((text[at:], None))
    return [(piece, url) for piece, url in pieces if piece]


def with_base_target(html: str) -> str:
    head = _HEAD.search(html)
    if head is None:
        return BASE_TARGET + html
    return html[: head.end()] + BASE_TARGET + html[head.end() :]


# --- Pages ---------------------------------------------------------------------------------


def _timezone(services: Services, session: Session) -> str:
    with services.database.read() as conn:
        return get_organization(conn, organization_id=session.user.organization_id).timezone


def _not_found(request: Request, session: Session) -> Response:
    return render(
        request,
        "error.html",
        session,
        status=404,
        heading="Not found",
        message="There is no such email in your outbox.",
    )


@router.get("/outbox")
async def outbox(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    folder = mail_folder(services.settings)
    raw_page = request.query_params.get("page", "1")
    digits = raw_page.isascii() and raw_page.isdigit()
    page = int(raw_page) if digits and len(raw_page) < 6 else 1
    listing = None
    if folder is not None:
        listing = await in_thread(list_messages, folder, session.user.organization_id, page)
    timezone = await in_thread(_timezone, services, session)
    return render(
        request,
        "outbox.html",
        session,
        section="outbox",
        extra_css=["outbox.css"],
        listing=listing,
        timezone=timezone,
        max_listed=MAX_LISTED,
    )


@router.get("/outbox/{name}")
async def outbox_message(
    request: Request, services: ServicesDep, session: SessionDep, name: str
) -> Response:
    folder = mail_folder(services.settings)
    if folder is None:
        return _not_found(request, session)
    message = await in_thread(open_message, folder, name, session.user.organization_id)
    if message is None:
        return _not_found(request, session)
    headers = [
        (field, _text(message[field]))
        for field in ("From", "To", "Reply-To", "Subject", "Date")
        if message[field] is not None
    ]
    text = _part(message, "plain")
    opened = Opened(
        name=name,
        subject=_text(message["Subject"]),
        headers=headers,
        text=linkify(text) if text is not None else None,
        has_html=_part(message, "html") is not None,
    )
    return render(
        request,
        "outbox_message.html",
        session,
        section="outbox",
        extra_css=["outbox.css"],
        message=opened,
    )


@router.get("/outbox/{name}/html")
async def outbox_message_html(
    request: Request, services: ServicesDep, session: SessionDep, name: str
) -> Response:
    """The HTML part alone, for the message page's sandboxed frame."""
    folder = mail_folder(services.settings)
    if folder is None:
        return _not_found(request, session)
    message = await in_thread(open_message, folder, name, session.user.organization_id)
    html = _part(message, "html") if message is not None else None
    if html is None:
        return _not_found(request, session)
    return HTMLResponse(with_base_target(html), headers=HTML_PART_HEADERS)
