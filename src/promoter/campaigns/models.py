"""Campaign and email template settings, validated once for the CLI and the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from promoter.campaigns.questions import (
    DEFAULT_ANSWER_WINDOW_DAYS,
    MAX_ANSWER_WINDOW_DAYS,
    MAX_QUESTIONS,
    Question,
    assign_ids,
    check_unique_ids,
)
from promoter.domain.channels import CampaignChannel
from promoter.domain.colors import normalize_hex
from promoter.domain.headers import is_one_line
from promoter.domain.languages import Language

CampaignKind = Literal["segment", "manual"]
CampaignStatus = Literal["active", "paused", "complete"]
#: Promoter's reminder choices: off, or one reminder after 3, 5 or 7 days.
REMINDER_DAYS = (3, 5, 7)


class TemplateSettings(BaseModel):
    """An email template: what the survey email says and who it is from."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    subject: str = Field(min_length=1, max_length=300)
    from_name: str = Field(min_length=1, max_length=200)
    reply_to: EmailStr | None = None
    intro_message: str = Field(default="", max_length=5000)
    brand_name: str = Field(min_length=1, max_length=200)
    language: Language = "en"
    logo_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")
    #: ``#rrggbb``; None: the default accent.
    brand_color: str | None = None

    @field_validator("subject", "from_name", "brand_name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # These go into the email's headers (the brand into the feedback note's From).
        if not is_one_line(value):
            raise ValueError("must be one line: no line breaks or control characters")
        return value

    @field_validator("brand_color")
    @classmethod
    def _color(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            return normalize_hex(value)
        except ValueError:
            raise ValueError("a colour is written #RRGGBB, e.g. #0b7285") from None


class CampaignSettings(BaseModel):
    """Everything about a campaign except its template and list."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    kind: CampaignKind = "segment"
    status: CampaignStatus = "active"
    #: Email, the in-app web survey, or both (in the app first); a manual campaign emails.
    channel: CampaignChannel = "email"
    trigger_events: list[str] = Field(default_factory=list, max_length=50)
    delay_minutes: int = Field(default=0, ge=0, le=60 * 24 * 30)
    throttle_days: int = Field(default=90, ge=1, le=3650)
    weekdays_only: bool = False
    send_window_start: int | None = Field(default=None, ge=0, le=23)
    send_window_end: int | None = Field(default=None, ge=1, le=24)
    reminder_days: int | None = None
    forward_email: EmailStr | None = None
    #: Asked after the score, to the audience each names.
    questions: list[Question] = Field(default_factory=list, max_length=MAX_QUESTIONS)
    #: Where the respondent goes after the last page, instead of the built-in thanks.
    thanks_url: str | None = Field(default=None, max_length=2000)
    #: Days after sending during which the survey can be answered (None: no limit).
    answer_window_days: int | None = Field(
        default=DEFAULT_ANSWER_WINDOW_DAYS, ge=1, le=MAX_ANSWER_WINDOW_DAYS
    )

    @model_validator(mode="before")
    @classmethod
    def _question_ids(cls, data: Any, info: ValidationInfo) -> Any:
        """Questions without an id get one (see ``assign_ids``); the validation context
        may name the ``current`` questions and the ``reserved`` ids."""
        if not isinstance(data, dict) or "questions" not in data:
            return data
        context = info.context or {}
        questions = assign_ids(
            data["questions"],
            reserved=context.get("reserved", ()),
            current=context.get("current", ()),
        )
        return {**data, "questions": questions}

    @field_validator("questions")
    @classmethod
    def _unique_ids(cls, questions: list[Question]) -> list[Question]:
        return check_unique_ids(questions)

    @field_validator("thanks_url")
    @classmethod
    def _check_thanks_url(cls, url: str | None) -> str | None:
        if not url:
            return None
        try:
            parts = urlsplit(url)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            valid = False
        if not valid or not url.isprintable() or " " in url:
            raise ValueError("must be an http:// or https:// address")
        return url

    @field_validator("trigger_events")
    @classmethod
    def _clean_events(cls, events: list[str]) -> list[str]:
        cleaned = []
        for event in events:
            event = event.strip()
            if not event or len(event) > 255:
                raise ValueError("event names are 1 to 255 characters")
            if event not in cleaned:
                cleaned.append(event)
        return cleaned

    @field_validator("reminder_days")
    @classmethod
    def _check_reminder(cls, days: int | None) -> int | None:
        if days is not None and days not in REMINDER_DAYS:
            raise ValueError("a reminder goes after 3, 5 or 7 days (or none)")
        return days

    @field_validator("channel")
    @classmethod
    def _check_channel(cls, channel: str, info: ValidationInfo) -> str:
        # ``kind`` is declared before ``channel``: it is in ``info.data`` once valid.
        if info.data.get("kind") == "manual" and channel != "email":
            raise ValueError("a manual campaign sends by email: its channel is email")
        return channel

    @model_validator(mode="after")
    def _check_window(self) -> CampaignSettings:
        start, end = self.send_window_start, self.send_window_end
        if (start is None) != (end is None):
            raise ValueError("a send window needs both a start and an end hour")
        if start is not None and end is not None and start >= end:
            raise ValueError("the send window must start before it ends")
        return self


class EmailTemplate(TemplateSettings):
    id: int
    organization_id: int
    name: str
    #: The uploaded logo (see :mod:`promoter.campaigns.logos`), or None.
    logo_id: int | None = None
    created_at: datetime
    updated_at: datetime


class Campaign(CampaignSettings):
    id: int
    organization_id: int
    contact_list_id: int
    email_template_id: int
    created_at: datetime
    updated_at: datetime
    #: The key of the campaign's public link (see campaigns/links.py), or None.
    link_key: str | None = None

    def triggered_by(self, event: str) -> bool:
        return not self.trigger_events or event in self.trigger_events
