"""Settings, read from ``PROMOTER_*`` environment variables.

Build a :class:`Settings` where it is needed (the CLI, the tests); nothing here
creates one at import time.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from promoter.domain.attributes import MOST_ATTRIBUTES_PER_CONTACT
from promoter.domain.networks import parse_networks


class RateLimit(NamedTuple):
    per_second: float
    burst: float


def parse_rate_limit(text: str) -> RateLimit | None:
    """``RATE`` or ``RATE,BURST`` (requests a second, and how many may come at once; the
    burst is RATE when left out, and at least 1); ``None`` for ``0``: no limit."""
    rate_text, comma, burst_text = text.partition(",")
    try:
        rate = float(rate_text)
        burst = float(burst_text) if comma else max(rate, 1.0)
    except ValueError:
        raise ValueError("must be RATE or RATE,BURST (numbers), or 0 for no limit") from None
    if not (math.isfinite(rate) and math.isfinite(burst)) or rate < 0:
        raise ValueError("the rate must be a number >= 0")
    if rate == 0:
        return None
    if burst < 1:
        raise ValueError("the burst must be at least 1")
    return RateLimit(rate, burst)


class Settings(BaseSettings):
    """Every setting of the service. Each field is documented in docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="PROMOTER_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///promoter.sqlite3",
        description="SQLAlchemy URL of the database: a SQLite file or a PostgreSQL server.",
    )
    base_url: str | None = Field(
        default=None,
        description="Public URL of the service, used in links it prints and sends "
        "(default: http://HOST:PORT).",
    )
    secret_key: str | None = Field(
        default=None,
        description="Key that signs survey and unsubscribe links; generated and kept in "
        "the database when unset.",
    )
    email_url: str = Field(
        default="file:promoter-mail",
        description="Where survey emails go: file:FOLDER (each message a .eml file) or "
        "smtp://[user:pass@]host:port[?starttls=true|tls=true&timeout=S].",
    )
    email_from: str | None = Field(
        default=None,
        description="Sender address of survey emails (default: surveys@ the base URL's host).",
    )
    host: str = Field(default="127.0.0.1", description="Address `promoter serve` binds to.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `promoter serve` binds to.")
    log_level: str = Field(default="info", description="Log level: debug, info, warning, error.")
    analytics_cache: bool = Field(
        default=True,
        description="Keep each organization's responses as columns in memory for fast NPS "
        "questions (loaded in the background on first use).",
    )
    analytics_memory_mb: int = Field(
        default=1024,
        ge=0,
        description="Memory (MB) the in-memory columns of all organizations may take in each "
        "server process; the least recently asked organizations' columns are dropped to stay "
        "within it. 0 keeps no columns: every question is answered with SQL.",
    )
    analytics_cache_dir: str | None = Field(
        default=None,
        description="Folder where the analytics columns are saved, so a restarted or "
        "another process maps them instead of loading from the database (default: next to "
        "the SQLite file, or the user's cache folder for PostgreSQL); empty: not saved.",
    )
    themes_interval_seconds: int = Field(
        default=60,
        ge=0,
        le=86_400,
        description="How often the server embeds new comments and groups them into themes; "
        "0: never (only `promoter themes update`).",
    )
    dedup_retention_hours: int = Field(
        default=72,
        ge=24,
        description="How long a processed messageId is remembered to drop replays (>= 24).",
    )

    max_attributes_per_contact: int = Field(
        default=200,
        ge=1,
        le=MOST_ATTRIBUTES_PER_CONTACT,
        description="Most attributes one contact holds; traits naming more are dropped "
        f"(at most {MOST_ATTRIBUTES_PER_CONTACT:,}).",
    )
    max_attribute_names: int = Field(
        default=2_000,
        ge=1,
        description="Most distinct attribute names one organization uses; traits naming "
        "more are dropped.",
    )

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres_scheme(cls, value: str) -> str:
        # Users paste URLs like postgres://...; SQLAlchemy wants a driver name.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    access_log: bool = Field(default=False, description="Log every HTTP request.")
    key_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="How long an API key (or web survey site key) lookup is remembered; a "
        "revoked key stops working within this time. 0 looks every key up on every request.",
    )

    rate_limit_api: str = Field(
        default="20,100",
        description="REST API requests a second per API key, and the burst allowed: "
        "RATE[,BURST]; 0 for no limit.",
    )
    rate_limit_ingest: str = Field(
        default="500,2000",
        description="Segment requests (/segment, /v1/*) a second per API key, and the burst "
        "allowed: RATE[,BURST]; 0 for no limit.",
    )

    header_timeout: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Seconds a request's headers may take to arrive (from its first byte) "
        "before `promoter serve` answers 408 and closes the connection.",
    )
    body_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds a request's body may take to arrive after its headers before "
        "`promoter serve` closes the connection.",
    )

    rate_limit_failed_auth: str = Field(
        default="1,30",
        description="Failed authentications (401) a second per client address on the API "
        "and Segment endpoints, and the burst allowed: RATE[,BURST]; 0 for no limit.",
    )

    rate_limit_survey_pages: str = Field(
        default="10,100",
        description="Survey page requests (/s/..., /u/..., /l/...) a second per client "
        "address, and "
        "the burst allowed: RATE[,BURST]; 0 for no limit.",
    )

    rate_limit_web_survey_site: str = Field(
        default="200,2000",
        description="Web survey script calls (/w/v1/...) a second per site key, and the burst "
        "allowed: RATE[,BURST]; 0 for no limit.",
    )
    rate_limit_web_survey_visitor: str = Field(
        default="1,30",
        description="Web survey script calls (/w/v1/...) a second per visitor (site key, "
        "userId and client address), and the burst allowed: RATE[,BURST]; 0 for no limit.",
    )

    rate_limit_link_answers: str = Field(
        default="0.2,10",
        description="Answers sent through public survey links (POST /l/...) a second per "
        "client address, and the burst allowed: RATE[,BURST]; 0 for no limit.",
    )

    @field_validator(
        "rate_limit_api",
        "rate_limit_ingest",
        "rate_limit_failed_auth",
        "rate_limit_survey_pages",
        "rate_limit_web_survey_site",
        "rate_limit_web_survey_visitor",
        "rate_limit_link_answers",
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        rate = parse_rate_limit(value)
        return f"{rate.per_second:g},{rate.burst:g}" if rate else "0"

    @field_validator("base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else None

    @property
    def sender_address(self) -> str:
        if self.email_from:
            return self.email_from
        from urllib.parse import urlsplit

        return f"surveys@{urlsplit(self.public_url).hostname or 'localhost'}"

    @property
    def public_url(self) -> str:
        if self.base_url:
            return self.base_url
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host
        return f"http://{host}:{self.port}"

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        value = value.lower()
        if value not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return value

    webhook_allow_private: bool = Field(
        default=False,
        description="Let webhooks reach any address, including loopback, private and "
        "link-local ones (cloud metadata): only where every organization is trusted.",
    )
    webhook_allowed_networks: str = Field(
        default="",
        description="Non-public networks webhooks may reach all the same, comma-separated "
        "(e.g. 10.1.2.0/24,fd00:1::/64).",
    )

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _check_networks(cls, value: str) -> str:
        return ",".join(str(network) for network in parse_networks(value))
