"""The endpoints the web survey script calls from a customer's pages (``/w/v1/...``).

Every call names the organization by its public site key and the visitor by a userId
signed by the customer's server (see ``websurveys.identity``); without a valid signature
nothing is shown or stored. Browsers get CORS headers only on an allowed origin. Calls are
rate-limited per site key and per visitor.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.campaigns.questions import AnswerErrors, parse_answers
from promoter.domain.messages import Envelope
from promoter.ingest.payload import BodyTooLarge, PayloadError, read_body
from promoter.ingest.pipeline import ingest_messages
from promoter.services import Services
from promoter.surveys.responses import InvalidAnswer
from promoter.web.ratelimit import retry_after
from promoter.web.responses import JSONResponse
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread
from promoter.websurveys.cors import cors_headers
from promoter.websurveys.display import survey_json, visitor_language
from promoter.websurveys.identity import verify_user
from promoter.websurveys.settings import WebSurveySettings, looks_like_site_key
from promoter.websurveys.visits import (
    SurveyGone,
    Visitor,
    answer,
    dismiss,
    drop_stale,
    due_survey,
    find_visitor,
    mark_shown,
    survey_token,
    visitor_survey,
)

router = APIRouter(include_in_schema=False)

#: The largest body a call may have.
MAX_BODY: Final = 16 * 1024
PREFIX: Final = "/w/v1"
UserId = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Url = Annotated[str, StringConstraints(max_length=4000)]


class Call(BaseModel):
    """What every call carries."""

    model_config = ConfigDict(extra="ignore")

    site_key: str = Field(max_length=64)
    user_id: UserId
    signature: str = Field(max_length=128)
    url: Url | None = None


class IdentifyCall(Call):
    traits: dict[str, Any] = Field(default_factory=dict)


class TrackCall(Call):
    event: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    properties: dict[str, Any] = Field(default_factory=dict)
    message_id: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None


class SurveyCall(Call):
    languages: list[Annotated[str, StringConstraints(max_length=35)]] = Field(
        default_factory=list, max_length=20
    )


class AnswerCall(Call):
    score: int | None = Field(default=None, ge=0, le=10)
    comment: str | None = Field(default=None, max_length=20_000)
    answers: dict[str, list[str] | str] | None = None


class Refused(Exception):
    """A call answered with an error and (when the origin is allowed) CORS headers."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": message, **extra}
        self.headers: dict[str, str] = {}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or {})


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


class Gate:
    """One call's checks, in order: the site key, the origin, the budgets, the signature."""

    def __init__(self, services: Services, origin: str | None, client: str) -> None:
        self.services = services
        self.origin = origin
        self.client = client
        self.cors: dict[str, str] = {}

    def site(self, call: Call, now: datetime) -> WebSurveySettings:
        site = self.services.sites.site(call.site_key)
        if site is None or not site.enabled:
            raise Refused(403, "unknown or disabled site key")
        headers = cors_headers(site, self.origin)
        if headers is None:
            raise Refused(403, "this page's origin is not allowed for the web survey")
        self.cors = headers
        limits = self.services.rate_limits
        for buckets, key in (
            (limits.web_survey_site, _hash(site.site_key)),
            (limits.web_survey_visitor, _hash(site.site_key, call.user_id, self.client)),
        ):
            wait = buckets.take(key) if buckets is not None else 0.0
            if wait > 0:
                refused = Refused(429, "too many requests; try again later")
                refused.headers["Retry-After"] = str(retry_after(wait))
                raise refused
        if not verify_user(site.secrets_at(now), call.user_id, call.signature):
            raise Refused(403, "the userId's signature is not valid")
        return site


def _parse(body: bytes, model: type[Call]) -> Call:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Refused(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise Refused(400, "the body is a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise Refused(400, f"{where}: {first['msg']}") from None


async def _handle(
    request: Request,
    services: Services,
    model: type[Call],
    work: Callable[[Services, WebSurveySettings, Any, datetime], tuple[int, dict[str, Any]]],
) -> Response:
    now = datetime.now(UTC)
    try:
        body = await read_body(
            request.stream(),
            limit=MAX_BODY,
            content_encoding=request.headers.get("content-encoding"),
        )
    except PayloadError as exc:
        return _error(413 if isinstance(exc, BodyTooLarge) else 400, str(exc))
    client = request.client.host if request.client else "unknown"
    gate = Gate(services, request.headers.get("origin"), client)

    def run() -> Response:
        try:
            call = _parse(body, model)
            site = gate.site(call, now)
            status, content = work(services, site, call, now)
        except Refused as refused:
            return JSONResponse(
                refused.body, status_code=refused.status, headers=gate.cors | refused.headers
            )
        return JSONResponse(content, status_code=status, headers=gate.cors)

    return await in_thread(run)


def _visitor(services: Services, site: WebSurveySettings, call: Call) -> Visitor | None:
    with services.database.read() as conn:
        return find_visitor(conn, organization_id=site.organization_id, user_id=call.user_id)


def _ingest(
    services: Services, site: WebSurveySettings, message: dict[str, Any], now: datetime
) -> bool:
    results = ingest_messages(
        database=services.database,
        ingestor=services.ingestor,
        organization_id=site.organization_id,
        messages=[message],
        envelope=Envelope(received_at=now),
        allowed=frozenset({message["type"]}),
    )
    return all(r.status != "rejected" for r in results)


def _context(call: Call) -> dict[str, Any]:
    context: dict[str, Any] = {"library": {"name": "promoter.js"}}
    if call.url:
        context["page"] = {"url": call.url}
    return context


def _send(
    services: Services,
    site: WebSurveySettings,
    call: Call,
    now: datetime,
    fields: dict[str, Any],
    message_id: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """The page's identify or track, ingested as Segment's would be, for a known contact
    only (the page cannot create contacts)."""
    if _visitor(services, site, call) is None:
        return 202, {"ok": False, "reason": "no such contact"}
    message = {
        **fields,
        "userId": call.user_id,
        "messageId": message_id or f"web-{uuid.uuid4()}",
        "timestamp": now.isoformat(),
        "context": _context(call),
    }
    return 202, {"ok": _ingest(services, site, message, now)}


def _identify(
    services: Services, site: WebSurveySettings, call: IdentifyCall, now: datetime
) -> tuple[int, dict[str, Any]]:
    # A page may describe its own user, not re-address its survey emails.
    traits = {k: v for k, v in call.traits.items() if k.lower() not in ("email", "userid")}
    return _send(services, site, call, now, {"type": "identify", "traits": traits})


def _track(
    services: Services, site: WebSurveySettings, call: TrackCall, now: datetime
) -> tuple[int, dict[str, Any]]:
    fields = {"type": "track", "event": call.event, "properties": call.properties}
    return _send(services, site, call, now, fields, call.message_id)


def _survey(
    services: Services, site: WebSurveySettings, call: SurveyCall, now: datetime
) -> tuple[int, dict[str, Any]]:
    with services.database.read() as conn:
        visitor = find_visitor(conn, organization_id=site.organization_id, user_id=call.user_id)
        if visitor is None:
            return 200, {"survey": None}
        survey, stale = due_survey(conn, visitor, now=now)
        if survey is not None:
            language = visitor_language(
                conn, survey, contact_id=visitor.contact_id, browser=call.languages
            )
            token = survey_token(conn, survey_id=survey.survey_id)
    if stale:
        with services.database.write() as conn:
            drop_stale(conn, stale)
    if survey is None:
        return 200, {"survey": None}
    return 200, {
        "survey": survey_json(
            survey, token=token, language=language, base_url=services.settings.public_url
        )
    }


def _on_survey(
    action: Callable[[Connection, Any, Call, datetime], dict[str, Any]],
) -> Callable[[Services, WebSurveySettings, Any, datetime, str], tuple[int, dict[str, Any]]]:
    def run(
        services: Services, site: WebSurveySettings, call: Any, now: datetime, token: str
    ) -> tuple[int, dict[str, Any]]:
        with services.database.write() as conn:
            visitor = find_visitor(conn, organization_id=site.organization_id, user_id=call.user_id)
            survey = (
                visitor_survey(conn, visitor, token=token, lock=True)
                if visitor is not None
                else None
            )
            if survey is None:
                raise Refused(404, "no such survey for this visitor")
            try:
                return 200, action(conn, survey, call, now)
            except SurveyGone as exc:
                raise Refused(409, str(exc)) from None

    return run


def _shown(conn: Connection, survey: Any, call: Call, now: datetime) -> dict[str, Any]:
    mark_shown(conn, survey, url=call.url, now=now)
    return {"ok": True}


def _dismiss(conn: Connection, survey: Any, call: Call, now: datetime) -> dict[str, Any]:
    return {"ok": True, "dismissed": dismiss(conn, survey, url=call.url, now=now)}


def _answer(conn: Connection, survey: Any, call: Any, now: datetime) -> dict[str, Any]:
    assert isinstance(call, AnswerCall)
    score = call.score if call.score is not None else survey.score
    answers = None
    if call.answers is not None:
        if score is None:
            raise Refused(400, "choose a score first")
        form = {
            f"q_{qid}": [value] if isinstance(value, str) else list(value)
            for qid, value in call.answers.items()
        }
        try:
            answers = parse_answers(survey.questions, score, form)
        except AnswerErrors as exc:
            raise Refused(400, "some answers need another look", fields=dict(exc.errors)) from None
    try:
        answer(
            conn,
            survey,
            score=call.score,
            comment=call.comment,
            answers=answers,
            url=call.url,
            now=now,
        )
    except InvalidAnswer as exc:
        raise Refused(400, str(exc)) from None
    return {"ok": True}


@router.post(f"{PREFIX}/identify")
async def identify(request: Request, services: ServicesDep) -> Response:
    return await _handle(request, services, IdentifyCall, _identify)


@router.post(f"{PREFIX}/track")
async def track(request: Request, services: ServicesDep) -> Response:
    return await _handle(request, services, TrackCall, _track)


@router.post(f"{PREFIX}/survey")
async def survey(request: Request, services: ServicesDep) -> Response:
    return await _handle(request, services, SurveyCall, _survey)


_ACTIONS: Final = {
    "shown": (Call, _on_survey(_shown)),
    "dismiss": (Call, _on_survey(_dismiss)),
    "answer": (AnswerCall, _on_survey(_answer)),
}


@router.post(PREFIX + "/surveys/{token}/{action}")
async def on_survey(request: Request, services: ServicesDep, token: str, action: str) -> Response:
    found = _ACTIONS.get(action)
    if found is None or len(token) > 64:
        return _error(404, "no such endpoint")
    model, work = found
    return await _handle(
        request,
        services,
        model,
        lambda services, site, call, now: work(services, site, call, now, token),
    )


@router.options(PREFIX + "/{path:path}")
async def preflight(request: Request, services: ServicesDep, path: str) -> Response:
    """A preflight names no site in its body: the site key comes in the query
    (``?site_key=ps_...``); without an allowed origin the answer has no CORS headers."""
    key = request.query_params.get("site_key", "")

    def run() -> Response:
        site = services.sites.site(key) if looks_like_site_key(key) else None
        headers = cors_headers(site, request.headers.get("origin"), preflight=True)
        if headers is None:
            return Response(status_code=403)
        return Response(status_code=204, headers=headers)

    return await in_thread(run)
