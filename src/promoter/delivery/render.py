"""Building the survey email: HTML and plain text, headers for list hygiene."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

import jinja2

from promoter.delivery.i18n import words
from promoter.delivery.tokens import TokenSigner


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
class TemplateView:
    subject: str
    from_name: str
    reply_to: str | None
    intro_message: str
    brand_name: str
    language: str
    logo_url: str | None


class EmailRenderer:
    """Renders survey emails; links point at ``base_url`` and carry signed tokens."""

    def __init__(self, *, base_url: str, sender: str, signer: TokenSigner) -> None:
        self._base_url = base_url.rstrip("/")
        self._sender = sender
        self._signer = signer
        loader = jinja2.PackageLoader("promoter.delivery", "templates")
        self._html = jinja2.Environment(loader=loader, autoescape=True)
        self._text = jinja2.Environment(loader=loader, autoescape=False)

    def links(self, token: str) -> tuple[list[tuple[int, str]], str]:
        signed = self._signer.sign(token)
        scores = [(n, f"{self._base_url}/s/{signed}/{n}") for n in range(11)]
        return scores, f"{self._base_url}/u/{signed}"

    def render_feedback(self, note: FeedbackNote) -> EmailMessage:
        """A plain-text note to the campaign's team: who answered what."""
        who = (
            f"{note.contact_name} <{note.contact_email}>"
            if note.contact_name
            else note.contact_email
        )
        message = EmailMessage()
        message["Subject"] = f"New NPS feedback: {note.score} from {note.contact_email}"
        message["From"] = formataddr((f"{note.brand_name} NPS", self._sender))
        message["To"] = note.to_address
        message["Reply-To"] = note.contact_email
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2] or "localhost")
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(
            f"Campaign: {note.campaign}\n"
            f"From: {who}\n"
            f"Score: {note.score} / 10\n\n"
            f"{note.comment or '(no comment)'}\n"
        )
        return message

    def render(self, email: SurveyEmail, template: TemplateView) -> EmailMessage:
        score_links, unsubscribe_url = self.links(email.token)
        text_words = words(template.language, template.brand_name)
        subject = template.subject
        if email.reminder:
            subject = f"{text_words['reminder']}: {subject}"
        context = {
            "language": template.language,
            "subject": subject,
            "brand": template.brand_name,
            "logo_url": template.logo_url,
            "intro": template.intro_message,
            "words": text_words,
            "score_links": score_links,
            "unsubscribe_url": unsubscribe_url,
        }
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = formataddr((template.from_name, self._sender))
        message["To"] = formataddr((email.to_name or "", email.to_address))
        if template.reply_to:
            message["Reply-To"] = template.reply_to
        message["Date"] = format_datetime(datetime.now(UTC))
        domain = self._sender.rpartition("@")[2] or "localhost"
        message["Message-ID"] = make_msgid(domain=domain)
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(self._text.get_template("survey.txt").render(context))
        message.add_alternative(
            self._html.get_template("survey.html").render(context), subtype="html"
        )
        return message
