"""The pages a contact reaches from a survey email: score, comment, thanks, unsubscribe.

Mail scanners fetch every link in a message, so a GET never records anything: the
score link opens the page with that score selected, and the score is recorded by the
page's POST. Unsubscribing is a POST too (the RFC 8058 one-click POST included);
its GET asks for confirmation. The pages work without JavaScript, and everything
shown that came from a sender is escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

import jinja2
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from promoter.delivery.i18n import words
from promoter.ingest.payload import PayloadError, read_body
from promoter.services import Services
from promoter.surveys.responses import (
    InvalidAnswer,
    SurveyView,
    find_survey,
    record_comment,
    record_score,
    unsubscribe,
)
from promoter.web.state import ServicesDep
from promoter.web.threads import read, write

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

#: A form's body at the most: a comment of MAX_COMMENT_LENGTH four-byte characters,
#: percent-encoded (12 bytes each), fits with room to spare.
MAX_FORM_BYTES = 64 * 1024
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the URL carries the survey token
    "X-Robots-Tag": "noindex",
    # No script at all; the page's own style block; the brand's logo from any https host.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def page_templates() -> jinja2.Environment:
    loader = jinja2.FileSystemLoader(Path(__file__).parent / "templates")
    return jinja2.Environment(loader=loader, autoescape=True)


def _render(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    env: jinja2.Environment = request.app.state.page_templates
    language = context.get("language", "en")
    brand = context.get("brand", "")
    context.setdefault("words", words(language, brand))
    html = env.get_template("survey.html").render(context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


async def _survey(request: Request, services: Services, signed: str) -> SurveyView | None:
    token = services.signer.unsign(signed)
    if token is None:
        return None
    return await read(services, find_survey, token=token)


def _not_found(request: Request) -> HTMLResponse:
    """The page for a link that names no survey: in English, as no template says otherwise."""
    message = words("en", "")["not_found"]
    return _render(request, 404, language="en", state="message", message=message)


def _context(survey: SurveyView, **extra: Any) -> dict[str, Any]:
    return {
        "language": survey.language,
        "brand": survey.brand_name,
        "logo_url": survey.logo_url,
        "score": survey.score,
        "comment": survey.comment,
        **extra,
    }


async def _form(request: Request) -> dict[str, str] | None:
    """The form's fields (the last value of each), or ``None`` when the body is over
    MAX_FORM_BYTES or cannot be read: never taken for an empty form."""
    try:
        body = await read_body(
            request.stream(),
            limit=MAX_FORM_BYTES,
            content_encoding=request.headers.get("content-encoding"),
        )
    except PayloadError:
        return None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}


# --- comment and thanks (literal paths first, before /s/{signed}/{score}) -----------------


@router.get("/s/{signed}/comment")
async def comment_page(request: Request, services: ServicesDep, signed: str) -> Response:
    survey = await _survey(request, services, signed)
    if survey is None:
        return _not_found(request)
    if survey.score is None:
        return RedirectResponse(f"/s/{signed}", status_code=303)
    return _render(request, **_context(survey, state="comment", action=f"/s/{signed}/comment"))


@router.post("/s/{signed}/comment")
async def comment_post(request: Request, services: ServicesDep, signed: str) -> Response:
    survey = await _survey(request, services, signed)
    if survey is None:
        return _not_found(request)
    form = await _form(request)
    if form is None or "comment" not in form:
        # Too large to read, or not the page's form: the stored comment stays as it was.
        key = "comment_too_long" if form is None else "comment_missing"
        error = words(survey.language, survey.brand_name)[key]
        context = _context(survey, state="comment", action=f"/s/{signed}/comment", error=error)
        return _render(request, 413 if form is None else 400, **context)
    comment = form["comment"]
    try:
        await write(services, record_comment, survey=survey, comment=comment, now=datetime.now(UTC))
    except InvalidAnswer as exc:
        context = _context(survey, state="comment", action=f"/s/{signed}/comment", error=str(exc))
        return _render(request, 400, **{**context, "comment": comment})
    return RedirectResponse(f"/s/{signed}/thanks", status_code=303)


@router.get("/s/{signed}/thanks")
async def thanks_page(request: Request, services: ServicesDep, signed: str) -> Response:
    survey = await _survey(request, services, signed)
    if survey is None:
        return _not_found(request)
    message = words(survey.language, survey.brand_name)["thanks"]
    return _render(request, **_context(survey, state="message", message=message))


# --- the score ------------------------------------------------------------------------------


def _score_page(
    request: Request, survey: SurveyView, signed: str, score: int | None, error: str | None
) -> HTMLResponse:
    context = _context(survey, state="score", action=f"/s/{signed}", error=error)
    context["score"] = score
    return _render(request, 400 if error else 200, **context)


@router.get("/s/{signed}")
async def survey_page(request: Request, services: ServicesDep, signed: str) -> Response:
    survey = await _survey(request, services, signed)
    if survey is None:
        return _not_found(request)
    return _score_page(request, survey, signed, survey.score, None)


@router.get("/s/{signed}/{score}")
async def score_link(request: Request, services: ServicesDep, signed: str, score: str) -> Response:
    """A score link from the email: the page with that score selected; nothing recorded."""
    survey = await _survey(request, services, signed)
    if survey is None:
        return _not_found(request)
    chosen = _score(score)
    if chosen is None:
        error = words(survey.language, survey.brand_name)["bad_score"]
        return _score_page(request, survey, signed, None, error)
    return _score_page(request, survey, signed, chosen, None)


@router.post("/s/{signed}")
async def score_post(request: Request, services: ServicesDep, signed: str) -> Response:
    survey = await _survey(request, services, signed)
    if survey is None:
        return _not_found(request)
    form = await _form(request)
    score = _score((form or {}).get("score", ""))
    if score is None:
        error = words(survey.language, survey.brand_name)["bad_score"]
        return _score_page(request, survey, signed, None, error)
    await write(services, record_score, survey=survey, score=score, now=datetime.now(UTC))
    return RedirectResponse(f"/s/{signed}/comment", status_code=303)


def _score(text: str) -> int | None:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 2:
        return None
    score = int(text)
    return score if 0 <= score <= 10 else None


# --- unsubscribe ----------------------------------------------------------------------------


@router.get("/u/{signed}")
async def unsubscribe_page(request: Request, services: ServicesDep, signed: str) -> Response:
    survey = await _survey(request, services, signed)
    if survey is None:
        return _not_found(request)
    if survey.contact_status == "unsubscribed":
        message = words(survey.language, survey.brand_name)["already_unsubscribed"]
        return _render(request, **_context(survey, state="message", message=message))
    return _render(request, **_context(survey, state="unsubscribe", action=f"/u/{signed}"))


@router.post("/u/{signed}")
async def unsubscribe_post(request: Request, services: ServicesDep, signed: str) -> Response:
    """The page's button and RFC 8058 one-click (``List-Unsubscribe=One-Click``) alike."""
    survey = await _survey(request, services, signed)
    if survey is None:
        return _not_found(request)
    await write(services, unsubscribe, survey=survey, now=datetime.now(UTC))
    message = words(survey.language, survey.brand_name)["unsubscribed"]
    return _render(request, **_context(survey, state="message", message=message))
