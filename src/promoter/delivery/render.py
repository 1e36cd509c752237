"""Building the survey email: HTML and plain text, headers for list hygiene."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTPUTF8, compat32
from email.utils import format_datetime, formataddr, make_msgid

import jinja2

from promoter.delivery.branding import StoredLogo, branding
from promoter.delivery.i18n import words
from promoter.delivery.notices import Notice
from promoter.delivery.prepared import BOUNDARY, SAFE_VALUE, PreparedEmail, base64_body
from promoter.delivery.tokens import TokenSigner
from promoter.domain.colors import text_on
from promoter.domain.headers import one_line
from promoter.domain.languages import text_direction
from promoter.domain.nps import ScoreType, score_type

#: The score cells' colours by NPS category: red, amber, green in shades whose number
#: text (white or near-black, ``text_on``) reaches 4.5:1.
SCORE_BACKGROUNDS: dict[ScoreType, str] = {
    "detractor": "#cf1124",
    "passive": "#f0b429",
    "promoter": "#147d64",
}
#: Each score's cell, 0 to 10: (background, text colour).
SCORE_CELLS = tuple(
    (background, text_on(background))
    for background in (SCORE_BACKGROUNDS[score_type(n)] for n in range(11))
)


#: How many templates' prepared messages a renderer keeps (the least recently used go).
PREPARED_TEMPLATES = 256


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """A rendered message: the envelope and the bytes to send."""

    sender: str
    recipient: str
    message_id: str
    data: bytes


@dataclass(frozen=True, slots=True)
class InviteNote:
    """An invitation to join an organization's dashboard, to its invitee."""

    to_address: str
    organization: str
    invited_by: str
    role: str
    link: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SurveyEmail:
    """What one email needs besides the template: who, which survey, which kind."""

    to_address: str
    to_name: str | None
    token: str
    reminder: bool


@dataclass(frozen=True, slots=True)
class FeedbackNote:
    """New feedback, told to the address a campaign forwards feedback to."""

    to_address: str
    campaign: str
    contact_email: str
    contact_name: str | None
    score: int
    comment: str | None
    brand_name: str


@dataclass(frozen=True, slots=True)
class ReplyEmail:
    """A person's reply to a respondent, as written in the dashboard."""

    to_address: str
    to_name: str | None
    #: "Ana at Acme": who writes, for whom (the address is the instance's sender).
    from_name: str
    #: The writer's own address: answers to the reply go there, not to Promoter.
    reply_to: str
    subject: str
    body: str
    #: The Message-ID of the survey email answered, so that mail programs thread them.
    in_reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class TemplateView:
    subject: str
    from_name: str
    reply_to: str | None
    intro_message: str
    brand_name: str
    language: str
    #: The external logo; an uploaded ``logo`` is shown instead.
    logo_url: str | None
    brand_color: str | None = None
    logo: StoredLogo | None = None


class EmailRenderer:
    """Renders survey emails; links point at ``base_url`` and carry signed tokens."""

    def __init__(
        self,
        *,
        base_url: str,
        sender: str,
        signer: TokenSigner,
        prepared_templates: int = PREPARED_TEMPLATES,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._sender = sender
        self._signer = signer
        loader = jinja2.PackageLoader("promoter.delivery", "templates")
        self._html = jinja2.Environment(loader=loader, autoescape=True)
        self._text = jinja2.Environment(loader=loader, autoescape=False)
        self._prepare = functools.lru_cache(maxsize=prepared_templates)(self._prepared)

    def links(self, token: str) -> tuple[list[tuple[int, str]], str]:
        """The score links (0 to 10) and the unsubscribe link of a survey's token."""
        return self._links(self._signer.sign(token))

    def _links(self, signed: str) -> tuple[list[tuple[int, str]], str]:
        scores = [(n, f"{self._base_url}/s/{signed}/{n}") for n in range(11)]
        return scores, f"{self._base_url}/u/{signed}"

    def _headers(
        self,
        message: Message,
        *,
        subject: str,
        from_name: str,
        to: str,
        to_name: str | None,
        automatic: bool = True,
    ) -> str:
        # Templates saved before line breaks were refused still render, on one line.
        subject, from_name, to_name = (
            one_line(subject),
            one_line(from_name),
            one_line(to_name or ""),
        )
        message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
        message["From"] = formataddr((from_name, self._sender), charset="utf-8")
        message["To"] = formataddr((to_name, _ascii_or_placeholder(to)), charset="utf-8")
        message["Date"] = format_datetime(datetime.now(UTC))
        message_id = self._message_id()
        message["Message-ID"] = message_id
        if automatic:
            message["Auto-Submitted"] = "auto-generated"
        return message_id

    def render_feedback(self, note: FeedbackNote) -> OutgoingEmail:
        """A plain-text note to the campaign's team: who answered what."""
        who = formataddr((note.contact_name or "", note.contact_email))
        message = MIMEText(
            f"Campaign: {note.campaign}\n"
            f"From: {who}\n"
            f"Score: {note.score} / 10\n\n"
            f"{note.comment or '(no comment)'}\n",
            "plain",
            "utf-8",
        )
        message_id = self._headers(
            message,
            subject=f"New NPS feedback: {note.score} from {note.contact_email}",
            from_name=f"{note.brand_name} NPS",
            to=note.to_address,
            to_name=None,
        )
        message["Reply-To"] = note.contact_email
        data = _with_addresses(message, {"To": (None, note.to_address)})
        return OutgoingEmail(self._sender, note.to_address, message_id, data)

    def render_reply(self, reply: ReplyEmail) -> OutgoingEmail:
        """A person's reply to a respondent: their text, plain, with no links, images or
        list headers; written by a person, so not marked ``Auto-Submitted``. Answers go to
        the writer (``Reply-To``)."""
        body = reply.body.replace("\r\n", "\n").replace("\r", "\n").rstrip() + "\n"
        message = MIMEText(body, "plain", "utf-8")
        message_id = self._headers(
            message,
            subject=reply.subject,
            from_name=reply.from_name,
            to=reply.to_address,
            to_name=reply.to_name,
            automatic=False,
        )
        message["Reply-To"] = _ascii_or_placeholder(reply.reply_to)
        if reply.in_reply_to:
            message["In-Reply-To"] = reply.in_reply_to
            message["References"] = reply.in_reply_to
        data = _with_addresses(
            message, {"To": (reply.to_name, reply.to_address), "Reply-To": (None, reply.reply_to)}
        )
        return OutgoingEmail(self._sender, reply.to_address, message_id, data)

    def render_notice(self, notice: Notice) -> OutgoingEmail:
        """An email to a dashboard user, its text and HTML rendered when it was queued."""
        message = MIMEMultipart("alternative")
        message_id = self._headers(
            message,
            subject=notice.subject,
            from_name=notice.from_name,
            to=notice.to_address,
            to_name=None,
        )
        message.attach(MIMEText(notice.text, "plain", "utf-8"))
        message.attach(MIMEText(notice.html, "html", "utf-8"))
        data = _with_addresses(message, {"To": (None, notice.to_address)})
        return OutgoingEmail(self._sender, notice.to_address, message_id, data)

    def render_invite(self, note: InviteNote) -> OutgoingEmail:
        """A plain-text invitation with its one-time link. It names no organization in
        its headers, so the dashboard's mail folder never lists it: the link is a
        credential."""
        message = MIMEText(
            f"{note.invited_by} invites you to {note.organization}'s NPS dashboard "
            f"on Promoter, as {note.role}.\n\n"
            f"Choose your password here (the link works once, until "
            f"{note.expires_at:%Y-%m-%d %H:%M} UTC):\n\n{note.link}\n\n"
            "If you did not expect this, ignore this email.\n",
            "plain",
            "utf-8",
        )
        message_id = self._headers(
            message,
            subject=f"Join {note.organization} on Promoter",
            from_name="Promoter",
            to=note.to_address,
            to_name=None,
        )
        return OutgoingEmail(
            self._sender, note.to_address, message_id, message.as_bytes(policy=_CRLF)
        )

    def render(self, email: SurveyEmail, template: TemplateView) -> OutgoingEmail:
        """The survey email, from the template's prepared message when it has one (the
        same bytes as :meth:`render_in_full`, but for the date, Message-ID and boundary)."""
        signed = self._signer.sign(email.token)
        if email.to_address.isascii() and SAFE_VALUE.fullmatch(signed):
            prepared = self._prepare(template, email.reminder)
            if prepared is not None:
                message_id = self._message_id()
                to = formataddr((one_line(email.to_name or ""), email.to_address), "utf-8")
                headers = {
                    "To": to,
                    "Date": format_datetime(datetime.now(UTC)),
                    "Message-ID": message_id,
                    "List-Unsubscribe": f"<{self._links(signed)[1]}>",
                }
                data = prepared.fill(signed=signed, headers=headers)
                return OutgoingEmail(self._sender, email.to_address, message_id, data)
        return self.render_in_full(email, template)

    def render_in_full(self, email: SurveyEmail, template: TemplateView) -> OutgoingEmail:
        """The survey email built from its templates and MIME parts, every part anew."""
        parts = self._survey_parts(template, email.reminder, self._signer.sign(email.token))
        message, message_id = self._survey_message(parts, template, email)
        data = _with_addresses(message, {"To": (email.to_name, email.to_address)})
        return OutgoingEmail(self._sender, email.to_address, message_id, data)

    def _message_id(self) -> str:
        return make_msgid(domain=self._sender.rpartition("@")[2] or "localhost")

    def _survey_parts(self, template: TemplateView, reminder: bool, signed: str) -> _SurveyParts:
        """The subject and both bodies, with links carrying ``signed``."""
        score_links, unsubscribe_url = self._links(signed)
        text_words = words(template.language, template.brand_name)
        subject = template.subject
        if reminder:
            subject = f"{text_words['reminder']}: {subject}"
        look = branding(
            base_url=self._base_url,
            brand_name=template.brand_name,
            brand_color=template.brand_color,
            logo=template.logo,
            external_logo_url=template.logo_url,
        )
        context = {
            "language": template.language,
            "direction": text_direction(template.language),
            "subject": subject,
            "brand": template.brand_name,
            "branding": look,
            "logo_url": look.logo_url,
            "score_cells": SCORE_CELLS,
            "intro": template.intro_message,
            "words": text_words,
            "score_links": score_links,
            "unsubscribe_url": unsubscribe_url,
        }
        text = self._text.get_template("survey.txt").render(context)
        html = self._html.get_template("survey.html").render(context)
        return _SurveyParts(subject, text, html, unsubscribe_url)

    def _survey_message(
        self, parts: _SurveyParts, template: TemplateView, email: SurveyEmail
    ) -> tuple[MIMEMultipart, str]:
        # The standard library's classic MIME classes: several times cheaper to build
        # and serialise than EmailMessage, which matters at thousands of emails a minute.
        message = MIMEMultipart("alternative")
        message_id = self._headers(
            message,
            subject=parts.subject,
            from_name=template.from_name,
            to=email.to_address,
            to_name=email.to_name,
        )
        if template.reply_to:
            message["Reply-To"] = template.reply_to
        message["List-Unsubscribe"] = f"<{parts.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.attach(MIMEText(parts.text, "plain", "utf-8"))
        message.attach(MIMEText(parts.html, "html", "utf-8"))
        return message, message_id

    def _prepared(self, template: TemplateView, reminder: bool) -> PreparedEmail | None:
        """The template's message with a marker for the signed token and for each value
        that differs per email; None if it does not cut cleanly (then each is built in
        full)."""
        marker = "m" + secrets.token_hex(16)
        parts = self._survey_parts(template, reminder, marker)
        message, _ = self._survey_message(
            parts, template, SurveyEmail(f"{marker}@example.com", None, marker, reminder)
        )
        holes = {name: f"{marker}{name}" for name in _PER_EMAIL_HEADERS}
        for name, value in holes.items():
            message.replace_header(name, value)
        boundary = f"{marker}{BOUNDARY}"
        message.set_boundary(boundary)
        return PreparedEmail.cut(
            message.as_bytes(policy=_CRLF),
            holes={
                **{n: _CRLF.fold_binary(n, v) for n, v in holes.items()},
                BOUNDARY: boundary.encode("ascii"),
                "text": base64_body(parts.text),
                "html": base64_body(parts.html),
            },
            counts={BOUNDARY: 4},
            marker=marker,
            texts={"text": parts.text, "html": parts.html},
            policy=_CRLF,
        )


@dataclass(frozen=True, slots=True)
class _SurveyParts:
    subject: str
    text: str
    html: str
    unsubscribe_url: str


#: The headers of a survey email that differ from one email of a template to the next.
_PER_EMAIL_HEADERS = ("To", "Date", "Message-ID", "List-Unsubscribe")


#: Names the organization a message is sent for: the dashboard's outbox shows each
#: organization its own messages only.
ORGANIZATION_HEADER = "X-Promoter-Organization"


def for_organization(message: OutgoingEmail, organization_id: int) -> OutgoingEmail:
    """The message with an ``X-Promoter-Organization`` header naming ``organization_id``
    (a header line placed before the others, as mail servers add trace headers)."""
    line = f"{ORGANIZATION_HEADER}: {int(organization_id)}\r\n".encode("ascii")
    return replace(message, data=line + message.data)


#: SMTP and .eml files want CRLF line ends; URLs in headers stay on one line (RFC 5322
#: allows 998 characters).
_CRLF = compat32.clone(linesep="\r\n", max_line_length=998)
#: Stands in for a recipient whose address is not ASCII while the message is built.
_PLACEHOLDER = "recipient@promoter.invalid"


def _ascii_or_placeholder(address: str) -> str:
    return address if address.isascii() else _PLACEHOLDER


def _with_addresses(message: Message, addresses: dict[str, tuple[str | None, str]]) -> bytes:
    """The message's bytes. An internationalised address (``zoë@example.com``) in one of
    ``addresses`` (header: name and address; set with a placeholder while the message is
    built) needs SMTPUTF8: its header is written in UTF-8 by the modern email policy."""
    wide = {h: (n, a) for h, (n, a) in addresses.items() if not a.isascii()}
    if not wide:
        return message.as_bytes(policy=_CRLF)
    utf8 = message_from_bytes(message.as_bytes(policy=_CRLF), policy=SMTPUTF8)
    for header, (to_name, address) in wide.items():
        del utf8[header]
        name = one_line(to_name or "")
        if any(c in name for c in '()<>[]:;@\\,."'):
            name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        utf8[header] = f"{name} <{address}>".strip()
    return utf8.as_bytes()
