"""Promoter's v1 paths (``/api/contacts/``, ``/api/feedback/``, ...) for old scripts.

Each v1 path is the v2 resource of the same name: the request is served by the v2
route, and the answer is given v1's shape. What differs in v1:

- metrics carry their numbers as strings (``"nps": "42.0"``), as v1 did;
- links in answers (``next``, ``previous``, ``href``) point at v1 paths;
- ``POST /api/contacts/survey/`` takes the contact's fields at the top level with
  ``campaign`` (v2's ``POST /api/v2/survey/`` nests them under ``contact``).

It is an ASGI middleware so that authentication, rate limits and errors are exactly
those of v2.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The v1 resources, all under /api/ (the email templates kept v1's name, ``email``).
V1_RESOURCES = ("contacts", "lists", "campaigns", "email", "feedback", "metrics", "survey")
_V1_PATH = re.compile(r"^/api/(?:" + "|".join(V1_RESOURCES) + r")(?:/|$)")
#: A link to a v2 resource: the instance's URL (or none), then /api/v2/.
_V2_LINK = re.compile(r"^((?:https?://[^/\s]*)?)/api/v2/")
#: The fields that hold links, at the top of an answer and in each of its ``results``;
#: everything else (a contact's name, attributes, a comment) is data and passes unchanged.
LINK_FIELDS = frozenset({"href", "next", "previous", "contact_href"})


#: v1's "survey a contact" is v2's survey resource.
V1_SURVEY = "/api/contacts/survey/"
MAX_V1_BODY = 512 * 1024


def v2_path(path: str) -> str | None:
    """The v2 path a v1 path stands for, or None when it is not a v1 path."""
    if path == V1_SURVEY:
        return "/api/v2/survey/"
    if not _V1_PATH.match(path):
        return None
    return "/api/v2/" + path[len("/api/") :]


def v2_survey_body(body: bytes) -> bytes:
    """v1's flat ``{"email", ..., "campaign"}`` as v2's ``{"campaign_id", "contact"}``;
    anything else is passed on for v2 to judge."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(data, dict) or "contact" in data:
        return body
    contact = {k: data[k] for k in ("email", "first_name", "last_name", "attributes") if k in data}
    moved = {"contact": contact}
    campaign = data.get("campaign_id", data.get("campaign"))
    if campaign is not None:
        moved["campaign_id"] = campaign
    if "survey_attributes" in data:
        moved["attributes"] = data["survey_attributes"]
    return orjson.dumps(moved)


def _stringify_numbers(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return {k: _stringify_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify_numbers(v) for v in value]
    return value


def _v1_links(item: Any) -> None:
    """Point ``item``'s link fields at v1 paths, in place."""
    if not isinstance(item, dict):
        return
    for name in LINK_FIELDS.intersection(item):
        value = item[name]
        if isinstance(value, str):
            item[name] = _V2_LINK.sub(r"\1/api/", value, count=1)


def v1_body(v2: str, body: bytes) -> bytes:
    """A v2 JSON answer in v1's shape: links rewritten, never data."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(data, dict):
        return body
    _v1_links(data)
    results = data.get("results")
    if isinstance(results, list):
        for item in results:
            _v1_links(item)
    if v2.startswith("/api/v2/metrics/"):
        if "results" in data:
            data["results"] = _stringify_numbers(data["results"])
        elif "detail" not in data:
            data = _stringify_numbers(data)
    return orjson.dumps(data)


async def _rewritten(receive: Receive, rewrite: Any) -> Receive:
    """A ``receive`` giving the request body through ``rewrite`` (read whole, bounded)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_V1_BODY or not message.get("more_body"):
            break
    body = b"".join(chunks)
    if size <= MAX_V1_BODY:
        body = rewrite(body)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k == b"content-type" and v.startswith(b"application/json") for k, v in headers)


class PromoterV1Paths:
    """ASGI middleware serving v1 paths through the v2 routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        v2 = v2_path(path)
        if v2 is None:
            await self.app(scope, receive, send)
            return
        inner = dict(scope, path=v2, raw_path=v2.encode())
        if path == V1_SURVEY and scope.get("method") == "POST":
            receive = await _rewritten(receive, v2_survey_body)
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if any(
                    k == b"content-type" and v.startswith(b"application/json") for k, v in headers
                ):
                    start = message  # rewritten once the whole body is here
                else:
                    await send(message)  # CSV and other streams pass as they are
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = v1_body(v2, b"".join(chunks))
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(inner, receive, capture)
