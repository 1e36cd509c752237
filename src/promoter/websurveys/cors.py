"""The CORS answer to a browser request from a customer's page: only an allowed origin
gets headers, naming it alone, never with credentials."""

from __future__ import annotations

from typing import Final

from promoter.websurveys.settings import WebSurveySettings, origin_allowed

#: What a preflight may ask for: the survey's reads and answers as JSON.
ALLOW_METHODS: Final = "GET, POST"
ALLOW_HEADERS: Final = "Content-Type"
MAX_AGE: Final = "600"


def cors_headers(
    settings: WebSurveySettings | None, origin: str | None, *, preflight: bool = False
) -> dict[str, str] | None:
    """The headers for a request from ``origin`` (its ``Origin`` header), or ``None`` when
    that origin is not allowed (then no CORS header at all is sent)."""
    if not origin or not origin_allowed(settings, origin):
        return None
    headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    if preflight:
        headers |= {
            "Access-Control-Allow-Methods": ALLOW_METHODS,
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": MAX_AGE,
        }
    return headers
