"""Table definitions (SQLAlchemy Core). Alembic migrations must produce exactly this schema."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from promoter.storage.comment_search import PG_INDEX, pg_index_expression
from promoter.storage.types import BigId, Json, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

instance_settings = Table(
    "instance_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

organizations = Table(
    "organizations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("webhook_secret", String(200), nullable=True),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("created_at", UTCDateTime, nullable=False),
    #: Bumped when responses are deleted (a contact erased), so cached analytics reload.
    Column("analytics_epoch", Integer, nullable=False, server_default="0"),
    #: Days after any survey (any campaign, any channel) before the next one.
    Column("cooldown_days", Integer, nullable=False, server_default="30"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(100), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    #: What the key may do on the REST API: admin, member or read-only (domain.roles).
    Column("role", String(16), nullable=False, server_default="admin"),
)

contact_lists = Table(
    "contact_lists",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(200), nullable=False),
    Column("is_segment", Boolean, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("organization_id", "name", name="uq_contact_lists_org_name"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", BigId, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", String(255), nullable=True),
    Column("email", String(320), nullable=False),
    #: The address casefolded, for case-insensitive lookups (Unicode included).
    Column("email_key", String(320), nullable=False),
    Column("first_name", String(255), nullable=True),
    Column("last_name", String(255), nullable=True),
    Column("timezone", String(64), nullable=True),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("organization_id", "user_id", name="uq_contacts_org_user_id"),
    Index("ix_contacts_org_email_key", "organization_id", "email_key"),
    Index("ix_contacts_org_status", "organization_id", "status"),
)

contact_attributes = Table(
    "contact_attributes",
    metadata,
    Column("contact_id", BigId, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column("value_type", String(8), nullable=False),
    Column("value_text", Text, nullable=True),
    Column("value_number", Float, nullable=True),
    Column("value_date", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_contact_attributes_org_name", "organization_id", "name"),
)

list_memberships = Table(
    "list_memberships",
    metadata,
    Column(
        "list_id", Integer, ForeignKey("contact_lists.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("contact_id", BigId, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_list_memberships_contact", "contact_id"),
)

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column("contact_id", BigId, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=True),
    Column("user_id", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("properties", Json, nullable=False),
    Column("timestamp", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("message_id", String(100), nullable=False),
    Column("flag", String(32), nullable=True),
    #: What the survey trigger made of this event (scheduled, or why not).
    Column("trigger_note", String(200), nullable=True),
    Index("ix_events_org_contact_time", "organization_id", "contact_id", "timestamp"),
    Index("ix_events_org_name_time", "organization_id", "name", "timestamp"),
    Index("ix_events_org_user", "organization_id", "user_id"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column("event_id", BigId, ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    Column("contact_id", BigId, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=True),
    Column("user_id", String(255), nullable=False),
    Column("order_id", String(255), nullable=True),
    Column("checkout_id", String(255), nullable=True),
    Column("total", Float, nullable=True),
    Column("revenue", Float, nullable=True),
    Column("subtotal", Float, nullable=True),
    Column("shipping", Float, nullable=True),
    Column("tax", Float, nullable=True),
    Column("discount", Float, nullable=True),
    Column("currency", String(16), nullable=True),
    Column("coupon", String(255), nullable=True),
    Column("products", Json, nullable=False),
    Column("timestamp", UTCDateTime, nullable=False),
    Index("ix_orders_org_contact", "organization_id", "contact_id"),
    Index("ix_orders_org_user", "organization_id", "user_id"),
    Index("ix_orders_event", "event_id"),
)

processed_messages = Table(
    "processed_messages",
    metadata,
    Column("organization_id", Integer, primary_key=True),
    Column("message_id", String(100), primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
    Index("ix_processed_messages_received", "received_at"),
)

#: Logos uploaded for email templates, stored as sent; served at /logos/ (web/logos.py).
logos = Table(
    "logos",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("content", LargeBinary, nullable=False),
    Column("content_type", String(32), nullable=False),
    #: Of the content, in lower-case hexadecimal; its first 16 digits are in the URL.
    Column("sha256", String(64), nullable=False),
    Column("byte_size", Integer, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

email_templates = Table(
    "email_templates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(200), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("from_name", String(200), nullable=False),
    Column("reply_to", String(320), nullable=True),
    Column("intro_message", Text, nullable=False, server_default=""),
    Column("brand_name", String(200), nullable=False),
    Column("language", String(8), nullable=False, server_default="en"),
    Column("logo_url", String(2000), nullable=True),
    Column("brand_color", String(7), nullable=True),
    #: An uploaded logo: shown instead of logo_url.
    Column(
        "logo_id",
        Integer,
        ForeignKey("logos.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("contact_list_id", Integer, ForeignKey("contact_lists.id"), nullable=False),
    Column("email_template_id", Integer, ForeignKey("email_templates.id"), nullable=False),
    #: Track event names that trigger it; empty: any track event.
    Column("trigger_events", Json, nullable=False),
    Column("delay_minutes", Integer, nullable=False, server_default="0"),
    Column("throttle_days", Integer, nullable=False, server_default="90"),
    Column("weekdays_only", Boolean, nullable=False, server_default="0"),
    Column("send_window_start", Integer, nullable=True),
    Column("send_window_end", Integer, nullable=True),
    Column("reminder_days", Integer, nullable=True),
    Column("forward_email", String(320), nullable=True),
    #: Follow-up questions asked after the score (see campaigns/questions.py).
    Column("questions", Json, nullable=False, server_default="[]"),
    Column("thanks_url", String(2000), nullable=True),
    #: Days after sending during which the survey can be answered; NULL: no limit.
    Column("answer_window_days", Integer, nullable=True, server_default="30"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    #: Where its surveys reach people: email, web (the in-app survey) or both.
    Column("channel", String(8), nullable=False, server_default="email"),
    # The key of the campaign's public link (/l/<key>); NULL: no public link.
    Column("link_key", String(32), nullable=True),
    Index("uq_campaigns_link_key", "link_key", unique=True),
)

surveys = Table(
    "surveys",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
    Column("contact_id", BigId, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    #: scheduled -> sent -> answered; or cancelled / failed.
    Column("status", String(16), nullable=False),
    Column("token", String(64), nullable=False, unique=True),
    Column("trigger_event_id", BigId, nullable=True),
    Column("attributes", Json, nullable=False),
    Column("scheduled_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("reminder_due_at", UTCDateTime, nullable=True),
    Column("reminder_sent_at", UTCDateTime, nullable=True),
    Column("answered_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    #: How the survey reaches the contact (domain.channels): email, web or link.
    Column("channel", String(8), nullable=False, server_default="email"),
    #: A web survey: when it was shown in the app (and on which page), or dismissed there.
    Column("shown_at", UTCDateTime, nullable=True),
    Column("dismissed_at", UTCDateTime, nullable=True),
    Column("page_url", String(2000), nullable=True),
    Index("ix_surveys_org_contact_created", "organization_id", "contact_id", "created_at"),
    Index("ix_surveys_campaign_status", "campaign_id", "status"),
    #: Delivery counts read a window of sent surveys from this index alone.
    Index(
        "ix_surveys_org_sent_covering",
        "organization_id",
        "sent_at",
        "status",
        "campaign_id",
        "contact_id",
    ),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column("survey_id", BigId, ForeignKey("surveys.id", ondelete="CASCADE"), nullable=False),
    #: survey or reminder; forward (new feedback, to the campaign's team) or reply (a
    #: person's reply to the respondent, its text in feedback_replies)
    Column("kind", String(16), nullable=False),
    #: pending -> sent; or failed / cancelled
    Column("status", String(16), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("message_id", String(255), nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_deliveries_status_due", "status", "due_at"),
    Index("ix_deliveries_survey", "survey_id"),
)

responses = Table(
    "responses",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column(
        "survey_id",
        BigId,
        ForeignKey("surveys.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("campaign_id", Integer, nullable=False),
    Column("contact_id", BigId, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("score", Integer, nullable=False),
    Column("comment", Text, nullable=True),
    #: The contact's attributes when it answered, and the survey's own attributes.
    Column("contact_snapshot", Json, nullable=False),
    Column("survey_attributes", Json, nullable=False),
    #: Follow-up ("close the loop"): OPEN or CLOSED.
    Column("status", String(8), nullable=False, server_default="OPEN"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("comment_updated_at", UTCDateTime, nullable=True),
    #: The survey's channel (domain.channels), and the page a web survey was answered on.
    Column("channel", String(8), nullable=False, server_default="email"),
    Column("page_url", String(2000), nullable=True),
    #: Covers the analytics scan: a window of one organization's responses, no table reads.
    Index(
        "ix_responses_org_created_covering",
        "organization_id",
        "created_at",
        "campaign_id",
        "score",
        "contact_id",
    ),
    Index("ix_responses_contact", "contact_id"),
    #: What changed since: analytics caches catch up from here.
    Index("ix_responses_org_updated", "organization_id", "updated_at"),
    #: Searching the comments on PostgreSQL; SQLite's FTS5 index is kept by triggers
    #: (storage/comment_search.py).
    Index(PG_INDEX, text(pg_index_expression()), postgresql_using="gin").ddl_if(
        dialect="postgresql"
    ),
)

#: Each campaign's surveys sent (and answered), shown in the app (and dismissed), and its
#: responses (promoters, detractors), per channel and UTC day: rows of changes added by
#: triggers on ``surveys`` and ``responses``, merged from time to time; a count is the sum
#: of its key's rows (storage/campaign_day_counts.py).
campaign_day_counts = Table(
    "campaign_day_counts",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column("campaign_id", Integer, nullable=False),
    Column("channel", String(8), nullable=False),
    Column("day", Date, nullable=False),
    *(
        Column(name, Integer, nullable=False, server_default="0")
        for name in (
            "sent",
            "answered",
            "shown",
            "dismissed",
            "responses",
            "promoters",
            "detractors",
        )
    ),
    Index("ix_campaign_day_counts_org_day", "organization_id", "day", "campaign_id", "channel"),
)


#: Scores sent by the survey page's script when it opens from a score link. A person's
#: single click becomes the answer once no other link of the survey was opened for a while;
#: a link scanner opening every score link in a burst is discarded (see surveys/clicks.py).
score_clicks = Table(
    "score_clicks",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column("survey_id", BigId, ForeignKey("surveys.id", ondelete="CASCADE"), nullable=False),
    Column("score", Integer, nullable=False),
    #: pending -> recorded | superseded (an answer given on the page) | discarded (a scanner).
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime, nullable=True),
    Index("ix_score_clicks_survey", "survey_id", "created_at"),
    Index("ix_score_clicks_status_created", "status", "created_at"),
)

#: The contact's typed attributes when it answered (``responses.contact_snapshot``, typed
#: like ``contact_attributes``), so analytics filters the snapshot as it filters contacts.
response_attributes = Table(
    "response_attributes",
    metadata,
    Column("response_id", BigId, ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column("value_type", String(8), nullable=False),
    Column("value_text", Text, nullable=True),
    Column("value_number", Float, nullable=True),
    Column("value_date", UTCDateTime, nullable=True),
    Index("ix_response_attributes_org_name_text", "organization_id", "name", "value_text"),
)

#: Answers to a campaign's follow-up questions: one row per value chosen or written.
response_answers = Table(
    "response_answers",
    metadata,
    Column("response_id", BigId, ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True),
    Column("question_id", String(32), primary_key=True),
    Column("position", SmallInteger, primary_key=True, autoincrement=False),
    Column("organization_id", Integer, nullable=False),
    Column("campaign_id", Integer, nullable=False),
    Column("value", Text, nullable=False),
    #: Analytics asks for the responses that answered a question (with some values). The
    #: value is left out: a free-text answer may be longer than a PostgreSQL index entry.
    Index("ix_response_answers_org_question", "organization_id", "campaign_id", "question_id"),
)

#: Labels the team puts on feedback.
response_tags = Table(
    "response_tags",
    metadata,
    Column("response_id", BigId, ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(100), primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_response_tags_org_tag", "organization_id", "tag"),
)

#: Saved segments: a named analytics filter.
segments = Table(
    "segments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("filter", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("organization_id", "name", name="uq_segments_org_name"),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    #: Lower-cased: one account per address across the installation.
    Column("email", String(320), nullable=False, unique=True),
    Column("name", String(200), nullable=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login_at", UTCDateTime, nullable=True),
    #: What the user may do in the dashboard: admin, member or read-only (domain.roles).
    Column("role", String(16), nullable=False, server_default="admin"),
    #: Whether NPS alerts are emailed to the user; NULL: the default of their role (on for
    #: admins, off for the others).
    Column("alert_emails", Boolean, nullable=True),
    #: Whether the weekly digest is emailed to the user; NULL: the default of their role (on
    #: for admins and members, off for read-only).
    Column("digest_emails", Boolean, nullable=True),
)

#: Invitations to join an organization: a one-time link, kept as its token's SHA-256.
user_invites = Table(
    "user_invites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    #: The invitee's address, normalised as users' are.
    Column("email", String(320), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    #: The admin who invited (their email: kept when they are removed).
    Column("invited_by", String(320), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    #: Set once the invitation is used (or withdrawn): it never works again.
    Column("used_at", UTCDateTime, nullable=True),
)

user_sessions = Table(
    "user_sessions",
    metadata,
    #: SHA-256 of the cookie's value; the value itself is never stored.
    Column("id", String(64), primary_key=True),
    Column(
        "user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

#: What a dashboard page shows once after the form that redirected to it (a new key, a
#: signing secret, an invitation's link), until it is shown or expires. The row's id and
#: the key of its sealed content come from the session's cookie value, which the database
#: never holds (``accounts/shown_once.py``).
shown_once = Table(
    "shown_once",
    metadata,
    Column("id", String(64), primary_key=True),
    #: A random nonce, then the context as JSON encrypted with AES-256-GCM.
    Column("sealed", LargeBinary, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)

#: Notes the team writes on a piece of feedback.
feedback_notes = Table(
    "feedback_notes",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column("response_id", BigId, ForeignKey("responses.id", ondelete="CASCADE"), nullable=False),
    Column("body", Text, nullable=False),
    #: Who wrote it: a user's email, or "api" (with the key's prefix).
    Column("author", String(320), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_feedback_notes_response", "response_id"),
)

#: Replies written to a respondent from the dashboard: what the email says, sent through
#: the outbox (its ``deliveries`` row, kind "reply").
feedback_replies = Table(
    "feedback_replies",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column("response_id", BigId, ForeignKey("responses.id", ondelete="CASCADE"), nullable=False),
    Column(
        "delivery_id",
        BigId,
        ForeignKey("deliveries.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    Column("to_address", String(320), nullable=False),
    Column("to_name", String(255), nullable=True),
    #: The From header's name ("Ana at Acme"); the address is the instance's sender.
    Column("from_name", String(400), nullable=False),
    #: The signed-in user who wrote it: answers to the email go there.
    Column("reply_to", String(320), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("body", Text, nullable=False),
    #: The Message-ID of the survey email it answers, when there was one.
    Column("in_reply_to", String(255), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_feedback_replies_response", "response_id"),
)

#: Outbound webhooks: a URL and how it is sent to (optionally for one campaign); the
#: events it receives are in ``webhook_subscription_events``.
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("target_url", String(2000), nullable=False),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=True),
    #: "json" (signed event envelope) or "slack" (incoming-webhook message).
    Column("format", String(16), nullable=False, server_default="json"),
    #: Signs each request (HMAC-SHA256); shown to the organization.
    Column("secret", String(100), nullable=False),
    #: The secret before the last rotation: it signs too (a second signature) until then.
    Column("previous_secret", String(100), nullable=True),
    Column("previous_secret_until", UTCDateTime, nullable=True),
    #: "active" or "disabled" (after failing for too long, or by hand).
    Column("status", String(16), nullable=False, server_default="active"),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("disabled_at", UTCDateTime, nullable=True),
    Column("disabled_reason", String(500), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_webhook_subscriptions_org", "organization_id"),
)

#: The events each webhook receives (one row per event): emitting an event finds its
#: subscriptions by ``(organization_id, event)``.
webhook_subscription_events = Table(
    "webhook_subscription_events",
    metadata,
    Column(
        "subscription_id",
        Integer,
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("event", String(64), primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Index("ix_webhook_subscription_events_org_event", "organization_id", "event"),
)

#: One event for one subscription, delivered from this outbox at least once.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column(
        "subscription_id",
        Integer,
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    #: The event's id, the same for every subscription it goes to (for deduplication).
    Column("event_id", String(64), nullable=False),
    Column("event", String(64), nullable=False),
    Column("payload", Json, nullable=False),
    #: "pending", "delivered" or "failed" (gave up, or the subscription was disabled).
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("due_at", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_sub_event"),
    Index("ix_webhook_deliveries_status_due", "status", "due_at"),
    Index("ix_webhook_deliveries_org_created", "organization_id", "created_at"),
)

#: Each request made for a delivery: the delivery log.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("organization_id", Integer, nullable=False),
    Column(
        "delivery_id",
        BigId,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
    #: A redelivery asked for by a person.
    Column("manual", Boolean, nullable=False, server_default="0"),
    Index("ix_webhook_attempts_delivery", "delivery_id"),
)

#: An organization's Segment source: where its survey facts are sent as Segment messages.
segment_sources = Table(
    "segment_sources",
    metadata,
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("write_key", String(200), nullable=False),
    Column("host", String(2000), nullable=False),
    #: The track events sent (a list of their names).
    Column("events", Json, nullable=False),
    Column("identify", Boolean, nullable=False, server_default="1"),
    Column("trait_prefix", String(32), nullable=False, server_default="nps_"),
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: An organization's in-app web survey: its public site key, the identity secret its
#: servers sign userIds with (the previous one still valid until ``previous_secret_until``)
#: and the origins whose pages may show the survey.
web_surveys_settings = Table(
    "web_surveys_settings",
    metadata,
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("site_key", String(64), nullable=False, unique=True),
    Column("identity_secret", String(128), nullable=False),
    Column("previous_secret", String(128), nullable=True),
    Column("previous_secret_until", UTCDateTime, nullable=True),
    #: The allowed origins, normalised (a list of strings).
    Column("allowed_origins", Json, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: One Segment message (track or identify) about a survey fact, sent from this outbox at
#: least once; the rows are also the organization's delivery log.
segment_messages = Table(
    "segment_messages",
    metadata,
    Column("id", BigId, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    #: Derived from the fact, the same on every attempt.
    Column("message_id", String(64), nullable=False),
    #: The track event's name, or "identify".
    Column("kind", String(64), nullable=False),
    #: The contact's userId: erasing the contact erases its messages too.
    Column("user_id", String(255), nullable=False),
    Column("message", Json, nullable=False),
    #: "pending", "delivered" or "failed".
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("due_at", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    UniqueConstraint("organization_id", "message_id", name="uq_segment_messages_org_message"),
    Index("ix_segment_messages_status_due", "status", "due_at"),
    Index("ix_segment_messages_org_created", "organization_id", "created_at"),
    Index("ix_segment_messages_org_user", "organization_id", "user_id"),
)


#: Emails to dashboard users (an NPS alert, say), rendered when queued: an outbox the
#: delivery worker sends from alongside ``deliveries``, claimed and retried the same way.
notice_emails = Table(
    "notice_emails",
    metadata,
    Column("id", BigId, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("to_address", String(320), nullable=False),
    Column("from_name", String(400), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=False),
    #: pending -> sent; or failed
    Column("status", String(16), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("message_id", String(255), nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_notice_emails_status_due", "status", "due_at"),
)

#: NPS alerts: a scope's NPS moved beyond chance between two windows (see alerts/).
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    #: organization, campaign or segment; its id (NULL for the organization) and its name
    #: when the alert was raised.
    Column("scope", String(16), nullable=False),
    Column("scope_id", Integer, nullable=True),
    Column("scope_name", String(200), nullable=False),
    #: up or down
    Column("direction", String(8), nullable=False),
    Column("before_since", UTCDateTime, nullable=False),
    Column("before_until", UTCDateTime, nullable=False),
    Column("since", UTCDateTime, nullable=False),
    Column("until", UTCDateTime, nullable=False),
    Column("responses_before", Integer, nullable=False),
    Column("responses", Integer, nullable=False),
    Column("nps_before", Float, nullable=False),
    Column("nps", Float, nullable=False),
    Column("difference", Float, nullable=False),
    Column("margin", Float, nullable=False),
    Column("p_value", Float, nullable=False),
    Column("q_value", Float, nullable=False),
    #: daily (the server's check) or manual (asked for: API, CLI, dashboard)
    Column("checked_by", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_alerts_org_created", "organization_id", "created_at"),
)

#: The alerts standing: a scope whose change is still beyond chance in the same direction
#: is not alerted again; its row goes when the change does.
alert_states = Table(
    "alert_states",
    metadata,
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    #: "organization", "campaign:<id>" or "segment:<id>"
    Column("scope_key", String(40), primary_key=True),
    Column("direction", String(8), nullable=False),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
)

#: The daily checks done: one row per organization and UTC day, claimed by the first
#: server process to insert it, in the transaction that records its alerts.
alert_daily_checks = Table(
    "alert_daily_checks",
    metadata,
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("day", String(10), primary_key=True),
    Column("checked_at", UTCDateTime, nullable=False),
)

#: The weekly digests queued: one row per organization and week (its Monday, YYYY-MM-DD),
#: claimed by the first server process to insert it, in the transaction that queues them.
digest_weeks = Table(
    "digest_weeks",
    metadata,
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("week", String(10), primary_key=True),
    Column("queued_at", UTCDateTime, nullable=False),
)

#: How an organization's comment keywords are shown: one rule per keyword (its lemmas, lower
#: case), to hide it, rename it (``target``: the name shown) or merge it into another
#: keyword (``target``: that keyword).
keyword_rules = Table(
    "keyword_rules",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("keyword", String(200), nullable=False),
    #: hide, rename or merge
    Column("action", String(8), nullable=False),
    Column("target", String(200), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("organization_id", "keyword", name="uq_keyword_rules_org_keyword"),
)

#: Comment themes (analytics/themes.py): groups of similar comments, found by clustering
#: the comments' embeddings; ``label`` is made from their keywords, ``name`` is a user's.
themes = Table(
    "themes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "organization_id",
        Integer,
        ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("label", String(200), nullable=False),
    Column("name", String(200), nullable=True),
    Column("hidden", Boolean, nullable=False, server_default="0"),
    #: The mean of its comments' vectors, normalized: float32 bytes.
    Column("centroid", LargeBinary, nullable=False),
    Column("size", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_themes_org", "organization_id"),
)

#: Each comment's embedding (normalized, float16 bytes), computed once per text (the hash
#: tells an edited comment), and the theme it was assigned to (none yet: the next
#: clustering's).
comment_vectors = Table(
    "comment_vectors",
    metadata,
    Column(
        "response_id",
        BigId,
        ForeignKey("responses.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("organization_id", Integer, nullable=False),
    Column("text_hash", String(16), nullable=False),
    Column("vector", LargeBinary, nullable=False),
    Column("theme_id", Integer, ForeignKey("themes.id", ondelete="SET NULL"), nullable=True),
    Column("embedded_at", UTCDateTime, nullable=False),
    Index("ix_comment_vectors_org_theme", "organization_id", "theme_id"),
)
