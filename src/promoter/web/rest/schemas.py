"""The bodies /api/v2 answers on success, as the OpenAPI document declares them.

The routers build their answers as dicts; these models only describe them (attached with
``responses=``, never ``response_model=``, so nothing is validated or filtered). Times are
ISO 8601 date-times; objects the client fills (attributes, properties, filters, payloads)
are free-form.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")
ScoreType = Literal["promoter", "passive", "detractor"]


class Page(BaseModel, Generic[T]):
    """One page of a list, with links to its neighbours (``null`` at either end)."""

    count: int = Field(description="Objects on every page together.")
    next: str | None
    previous: str | None
    results: list[T]


def success(model: Any, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """``responses=`` declaring ``model`` as the body of a ``status`` answer."""
    return {status: {"model": model}}


class Conflict(BaseModel):
    detail: str


def conflict(description: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` declaring the 409 an operation answers when ``description``."""
    return {409: {"model": Conflict, "description": description}}


# -- contacts -------------------------------------------------------------------------------


class ListRef(BaseModel):
    id: int
    name: str


class Contact(BaseModel):
    id: int
    href: str
    user_id: str | None
    email: str
    first_name: str | None
    last_name: str | None
    timezone: str | None
    status: str = Field(description="active, inactive, unsubscribed or bounced.")
    created_at: datetime
    updated_at: datetime
    attributes: dict[str, Any]
    contact_lists: list[ListRef]


class SurveyScheduled(BaseModel):
    id: int
    campaign: int
    contact: int
    status: Literal["scheduled"]
    scheduled_at: datetime | None


class SurveyNotSent(BaseModel):
    status: Literal["not_sent"]
    reason: str


class ContactWithSurvey(Contact):
    """A contact; ``survey`` only when one was asked for (``send``)."""

    survey: SurveyScheduled | SurveyNotSent | None = None


class ContactPage(Page[Contact]):
    pass


class Event(BaseModel):
    id: int
    event: str
    properties: dict[str, Any]
    timestamp: datetime
    received_at: datetime
    message_id: str
    survey_note: str | None = Field(description="What the survey trigger made of it.")


class EventPage(Page[Event]):
    pass


class Order(BaseModel):
    id: int
    event_id: int
    order_id: str | None
    checkout_id: str | None
    total: float | None
    revenue: float | None
    subtotal: float | None
    shipping: float | None
    tax: float | None
    discount: float | None
    currency: str | None
    coupon: str | None
    products: Any
    timestamp: datetime


class OrderPage(Page[Order]):
    pass


# -- lists and surveys ----------------------------------------------------------------------


class ContactList(BaseModel):
    id: int
    href: str
    name: str
    is_segment: bool
    contact_count: int
    created_at: datetime


class ContactListPage(Page[ContactList]):
    pass


class SendReport(BaseModel):
    scheduled: int
    skipped: int
    reasons: dict[str, int] = Field(description="Contacts skipped, by reason.")


# -- campaigns and templates ----------------------------------------------------------------


class Question(BaseModel):
    id: str
    text: str
    type: Literal["text", "single", "multiple", "scale"]
    choices: list[str]
    audience: Literal["all", "detractors", "passives", "promoters"]
    required: bool


class PublicLink(BaseModel):
    url: str = Field(description="The campaign's public link: anyone with it can answer.")
    qr_url: str = Field(description="The link as a QR code (SVG).")


class Campaign(BaseModel):
    id: int
    href: str
    name: str
    contact_list: int
    email: int = Field(description="The email template's id.")
    kind: str
    status: str
    trigger_events: list[str]
    delay_minutes: int
    throttle_days: int
    weekdays_only: bool
    send_window_start: int | None
    send_window_end: int | None
    reminder_days: int | None
    forward_email: str | None
    questions: list[Question]
    thanks_url: str | None = Field(description="Where respondents go after the last page.")
    answer_window_days: int | None = Field(
        description="Days after sending during which a survey can be answered; null: no limit."
    )
    channel: Literal["email", "web", "both"] = Field(
        description="How its surveys reach people: email, web (the in-app web survey), or "
        "both (in the app first, by email after 3 days if not shown there)."
    )
    public_link: PublicLink | None = Field(
        description="The campaign's public link and its QR code; null: it has none."
    )
    drip_duration: None
    all_count: int
    eligible_count: int
    last_surveyed_date: datetime | None
    launch_date: datetime | None
    created_at: datetime
    updated_at: datetime


class CampaignPage(Page[Campaign]):
    pass


class UploadedLogo(BaseModel):
    url: str = Field(description="Served by the instance, without authentication.")
    content_type: str = Field(description="image/png, image/jpeg, image/gif or image/webp.")
    bytes: int
    width: int
    height: int


class EmailTemplate(BaseModel):
    id: int
    href: str
    name: str
    subject: str
    from_name: str
    reply_to_email: str | None
    logo: str | None = Field(description="An external logo's URL.")
    uploaded_logo: UploadedLogo | None = Field(
        description="The uploaded logo, shown instead of `logo`."
    )
    brand_color: str | None = Field(description="#rrggbb; null: the default, #1f2933.")
    intro_message: str
    language: str
    company_brand_product_name: str
    created_at: datetime
    updated_at: datetime


class EmailTemplatePage(Page[EmailTemplate]):
    pass


# -- analytics ------------------------------------------------------------------------------


class Window(BaseModel):
    """Half-open: from ``since`` (included) to ``until``."""

    since: datetime
    until: datetime


class Share(BaseModel):
    count: int
    percent: float | None


class NpsSummary(BaseModel):
    nps: float | None
    margin_of_error: float | None
    confidence_interval: list[float] | None = Field(
        description="Low and high end, from -100 to 100."
    )
    responses: int
    promoters: Share
    passives: Share
    detractors: Share


class DeliveryStats(BaseModel):
    sent: int
    delivered: int
    bounced: int
    unsubscribed: int
    responded: int
    response_rate: float | None


class NpsReport(NpsSummary):
    window: Window
    distribution: dict[str, int] = Field(description="Responses per score, 0 to 10.")
    delivery: DeliveryStats


class TrendPoint(NpsSummary):
    start: datetime
    end: datetime


class Trend(BaseModel):
    window: Window
    interval: str
    rolling_days: int | None
    timezone: str
    points: list[TrendPoint]


class BreakdownRow(NpsSummary):
    value: str
    low: float | None = Field(default=None, description="Numeric buckets only.")
    high: float | None = Field(default=None, description="Numeric buckets only.")
    differs: Literal["higher", "lower"] | None = Field(
        description="The row's NPS is higher or lower than that of all other rows beyond "
        "chance (Benjamini-Hochberg, false discovery rate 5% across the rows); null: not "
        "beyond chance, or not tested."
    )
    p_value: float | None = Field(
        description="Two-sided p-value of the row's NPS against the other rows'; null when "
        "the row or the rest has fewer than 30 responses (not tested)."
    )
    q_value: float | None = Field(
        description="The p-value adjusted for the rows tested (Benjamini-Hochberg); the "
        "row differs when it is at most 0.05."
    )


class Breakdown(BaseModel):
    window: Window
    attribute: str
    buckets: list[float] | None = Field(
        description="The numeric bucket edges used (given or chosen), or null: one row per value."
    )
    total: NpsSummary
    rows: list[BreakdownRow]


class Segment(BaseModel):
    id: int
    name: str
    description: str
    filter: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class SegmentPage(Page[Segment]):
    pass


class Metric(BaseModel):
    campaign: int
    campaign_name: str
    nps: float | None
    organization_nps: float | None
    responses: int
    organization_responses: int
    window: Window


class MetricPage(Page[Metric]):
    pass


# -- unsubscribes and bounces ---------------------------------------------------------------


class Unsubscribed(BaseModel):
    contact: int
    contact_href: str
    email: str
    user_id: str | None
    date: datetime


class UnsubscribedPage(Page[Unsubscribed]):
    pass


class Unsubscribe(BaseModel):
    email: str
    contacts: list[int] = Field(description="The ids of the contacts with the address.")
    date: datetime


class Bounced(BaseModel):
    contact: int
    contact_href: str
    email: str
    user_id: str | None
    campaign: int | None
    campaign_name: str | None
    survey: int | None
    kind: str | None
    date: datetime
    error: str | None


class BouncedPage(Page[Bounced]):
    pass


# -- feedback -------------------------------------------------------------------------------


class FeedbackContact(BaseModel):
    id: int
    user_id: str | None
    email: str
    first_name: str | None
    last_name: str | None
    attributes: dict[str, Any] = Field(description="The contact's attributes now.")


class FeedbackSurvey(BaseModel):
    id: int | None
    sent_date: datetime | None


class Note(BaseModel):
    id: int
    feedback: int
    body: str
    author: str
    created_at: datetime


class NotePage(Page[Note]):
    pass


class FeedbackAnswer(BaseModel):
    question_id: str
    question: str | None = Field(description="The question's text; null if no longer asked.")
    type: Literal["text", "single", "multiple", "scale"] | None
    value: str | int | list[str] = Field(
        description="Text; a list for a multiple choice; a whole number for a scale."
    )


class Feedback(BaseModel):
    id: int
    href: str
    followup_href: str
    campaign_id: int
    campaign: int
    score: int
    score_type: ScoreType
    comment: str | None
    status: str = Field(description="OPEN or CLOSED.")
    tags: list[str]
    channel: Literal["email", "web", "link"] = Field(
        description="The channel the survey reached the contact by."
    )
    page_url: str | None = Field(description="The page a web survey was answered on.")
    contact: FeedbackContact
    attributes: dict[str, Any] = Field(description="The contact's attributes when answering.")
    survey: FeedbackSurvey
    posted_date: datetime
    comment_updated_date: datetime | None
    notes_count: int
    answers: list[FeedbackAnswer] = Field(description="Answers to follow-up questions.")
    created_at: datetime
    updated_at: datetime


class FeedbackPage(Page[Feedback]):
    pass


class FeedbackDetail(Feedback):
    notes: list[Note]


# -- webhooks -------------------------------------------------------------------------------


class Webhook(BaseModel):
    href: str
    id: int
    events: list[str] = Field(description="The events it receives.")
    event: str | None = Field(description="The first of `events` (for one-event clients).")
    target_url: str
    campaign_id: int | None
    format: str
    status: str
    consecutive_failures: int
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    previous_secret_until: datetime | None = Field(
        description="After a rotation: until when the previous secret signs too."
    )


class WebhookPage(Page[Webhook]):
    pass


class WebhookWithSecret(Webhook):
    secret: str = Field(description="Signs the deliveries.")


class Attempt(BaseModel):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    manual: bool


class Delivery(BaseModel):
    id: int
    webhook_id: int
    event: str
    event_id: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(Page[Delivery]):
    pass


class DeliveryDetail(Delivery):
    payload: dict[str, Any] | None = None
    attempt_log: list[Attempt] | None = None
