"""The API key as each door wants it: Basic auth for the Segment destination and the
Tracking API, a Token header for the REST API."""

from __future__ import annotations

import base64


def basic_value(userinfo: str) -> str:
    """An ``Authorization`` value of Basic auth for ``userinfo`` (``user:password``)."""
    return "Basic " + base64.b64encode(userinfo.encode()).decode()


def basic(key: str) -> dict[str, str]:
    """The destination's credentials: Basic auth with the key as user name, no password."""
    return {"Authorization": basic_value(f"{key}:")}


def token(key: str) -> dict[str, str]:
    """The REST API's credentials."""
    return {"Authorization": f"Token {key}"}
