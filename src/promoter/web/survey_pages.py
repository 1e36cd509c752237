"""The pages a contact reaches from a survey email: one answer page, thanks, unsubscribe.

A score link opens the answer page with that score chosen and records nothing: mail
scanners fetch every link. The page's script then sends the score as a click
(:mod:`promoter.surveys.clicks`), which becomes the answer unless it turns out to be
part of a scanner's burst; without scripts, one Confirm press records it. The comment,
Send and Skip are on the same page; re-opening the link shows the answer recorded.
Unsubscribing is a POST too (the RFC 8058 one-click POST included); its GET asks for
confirmation. Everything shown that came from a sender is escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from promoter.campaigns.questions import FIELD_PREFIX, AnswerErrors, parse_answers, questions_for
from promoter.delivery.i18n import words
from promoter.services import Services
from promoter.surveys.answering import OpenSurvey, answer_on_page, open_survey
from promoter.surveys.clicks import add_click
from promoter.surveys.responses import (
    InvalidAnswer,
    SurveyView,
    record_comment,
    unsubscribe,
)
from promoter.web.state import ServicesDep
from promoter.web.survey_forms import Form, last, parse_score, read_form
from promoter.web.survey_rendering import SurveyPages, brand_context
from promoter.web.threads import read, write

router = APIRouter(include_in_schema=False)


def _pages(request: Request) -> SurveyPages:
    pages: SurveyPages = request.app.state.survey_pages
    return pages


async def _open(services: Services, signed: str) -> OpenSurvey | None:
    token = services.signer.unsign(signed)
    if token is None:
        return None
    return await read(services, open_survey, token=token)


def _not_found(request: Request) -> HTMLResponse:
    """The page for a link that names no survey: in English, as no template says otherwise."""
    message = words("en", "")["not_found"]
    return _pages(request).render(404, language="en", state="message", message=message)


def _context(request: Request, survey: SurveyView, **extra: Any) -> dict[str, Any]:
    """What every page of a survey shows: its language, and the brand as the email has it."""
    services: Services = request.app.state.services
    brand = brand_context(
        base_url=services.settings.public_url,
        brand_name=survey.brand_name,
        brand_color=survey.brand_color,
        logo=survey.logo,
        logo_url=survey.logo_url,
    )
    return {
        "language": survey.language,
        **brand,
        "score": survey.score,
        "comment": survey.comment,
        **extra,
    }


def _message(request: Request, survey: SurveyView, key: str) -> HTMLResponse:
    """A page that only says one thing (thanks, unsubscribed...), in the survey's words."""
    said = _words(survey)
    return _pages(request).render(
        **_context(request, survey, state="message", message=said[key], words=said)
    )


def _words(survey: SurveyView) -> dict[str, str]:
    return words(survey.language, survey.brand_name)


# --- the answer page ------------------------------------------------------------------------


def _answer_page(
    request: Request,
    opened: OpenSurvey,
    signed: str,
    *,
    score: int | None,
    auto: bool = False,
    status_key: str | None = None,
    error: str | None = None,
    comment: str | None = None,
    submitted: Form | None = None,
    answer_errors: dict[str, str] | None = None,
    http_status: int = 200,
) -> HTMLResponse:
    survey = opened.survey
    said = _words(survey)
    recorded = opened.recorded and not auto and score == opened.score
    if status_key is None:
        status_key = "answered" if recorded else ("confirm_needed" if score is not None else "")
    context = _context(
        request,
        survey,
        state="answer",
        action=f"/s/{signed}",
        click_action=f"/s/{signed}/click",
        unsubscribe_url=f"/u/{signed}",
        auto=auto,
        recorded=recorded,
        status_text=said.get(status_key, ""),
        error=error,
        questions=_questions(opened, score, said, submitted, answer_errors or {}),
        words=said,
    )
    context["score"] = score
    if comment is not None:
        context["comment"] = comment
    return _pages(request).render(http_status, **context)


def _questions(
    opened: OpenSurvey,
    score: int | None,
    said: dict[str, str],
    submitted: Form | None,
    errors: dict[str, str],
) -> list[dict[str, Any]]:
    """The follow-up questions as the page shows them: all of them (the page's script
    shows the ones for the score chosen), those for the current score shown at first,
    with the answers recorded, or those just sent back with their errors."""
    questions = opened.survey.questions
    asked = {q.id for q in questions_for(questions, score)} if score is not None else set()
    shown = []
    for q in questions:
        if submitted is not None:
            values = [v.strip() for v in submitted.get(FIELD_PREFIX + q.id, [])]
        else:
            values = opened.answers.get(q.id, [])
        options = list(q.choices) if q.type in ("single", "multiple") else []
        shown.append(
            {
                "id": q.id,
                "text": q.text,
                "type": q.type,
                "audience": q.audience,
                "options": [str(n) for n in range(1, 6)] if q.type == "scale" else options,
                "given": values,
                "error": said[errors[q.id]] if q.id in errors else None,
                "shown": q.id in asked or (score is None and q.audience == "all"),
            }
        )
    return shown


def _closed(request: Request, opened: OpenSurvey) -> HTMLResponse:
    """The page of a survey whose answer window has closed: the answer it has, if any."""
    survey = opened.survey
    said = _words(survey)
    message = said["closed_answer"] if opened.recorded else said["closed"]
    context = _context(request, survey, state="closed", message=message, words=said)
    context["score"] = opened.score
    return _pages(request).render(**context)


@router.get("/s/{signed}")
async def survey_page(request: Request, services: ServicesDep, signed: str) -> Response:
    """The survey's page: the answer recorded so far (changeable), or an empty scale."""
    opened = await _open(services, signed)
    if opened is None:
        return _not_found(request)
    if not opened.survey.open_at(datetime.now(UTC)):
        return _closed(request, opened)
    saved = "saved" in request.query_params and opened.recorded
    return _answer_page(
        request, opened, signed, score=opened.score, status_key="saved" if saved else None
    )


@router.get("/s/{signed}/comment")
async def comment_page(request: Request, services: ServicesDep, signed: str) -> Response:
    """The comment has been on the answer page since it has one page: go there."""
    if await _open(services, signed) is None:
        return _not_found(request)
    return RedirectResponse(f"/s/{signed}", status_code=303)


@router.get("/s/{signed}/thanks")
async def thanks_page(request: Request, services: ServicesDep, signed: str) -> Response:
    opened = await _open(services, signed)
    if opened is None:
        return _not_found(request)
    return _message(request, opened.survey, "thanks")


@router.get("/s/{signed}/{score}")
async def score_link(request: Request, services: ServicesDep, signed: str, score: str) -> Response:
    """A score link from the email: the page with that score chosen; nothing recorded
    (the page's script sends the click, or the person presses Confirm)."""
    opened = await _open(services, signed)
    if opened is None:
        return _not_found(request)
    if not opened.survey.open_at(datetime.now(UTC)):
        return _closed(request, opened)
    chosen = parse_score(score)
    if chosen is None:
        error = _words(opened.survey)["bad_score"]
        return _answer_page(request, opened, signed, score=None, error=error, http_status=400)
    return _answer_page(request, opened, signed, score=chosen, auto=True)


@router.post("/s/{signed}/click")
async def score_click(request: Request, services: ServicesDep, signed: str) -> Response:
    """The page's script: the score it opened with (``source=link``: a click, settled
    later), or a score changed on the page (``source=page``: recorded now)."""
    opened = await _open(services, signed)
    if opened is None:
        return _json({"error": words("en", "")["not_found"]}, 404)
    form = await read_form(request) or {}
    score = parse_score(last(form, "score"))
    if score is None:
        return _json({"error": "a score is a whole number from 0 to 10"}, 400)
    now = datetime.now(UTC)
    if not opened.survey.open_at(now):
        return _json({"status": "closed"}, 409)
    if last(form, "source") == "page":
        await write(
            services, answer_on_page, survey=opened.survey, score=score, comment=None, now=now
        )
        return _json({"status": "saved"})
    outcome = await write(services, add_click, survey=opened.survey, score=score, now=now)
    return _json({"status": outcome})


def _json(content: dict[str, str], status: int = 200) -> JSONResponse:
    """The script's answers: never cached, the link never sent on as a referrer."""
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return JSONResponse(content, status_code=status, headers=headers)


@router.post("/s/{signed}")
async def answer_post(request: Request, services: ServicesDep, signed: str) -> Response:
    """Confirm (the score alone), Send (score, comment and follow-up answers) or Skip (the
    score alone, then thanks)."""
    opened = await _open(services, signed)
    if opened is None:
        return _not_found(request)
    survey = opened.survey
    now = datetime.now(UTC)
    if not survey.open_at(now):
        return _closed(request, opened)
    said = _words(survey)
    form = await read_form(request)
    if form is None:
        error = said["comment_too_long"]
        return _answer_page(
            request, opened, signed, score=opened.score, error=error, http_status=413
        )
    action = last(form, "action") or "confirm"
    score = parse_score(last(form, "score"))
    if score is None and "score" not in form:
        score = opened.score  # Send or Skip on a page whose score was saved by its script
    comment = last(form, "comment") if action == "send" else None

    def again(error: str | None, answer_errors: dict[str, str] | None = None) -> HTMLResponse:
        """The page once more, with what was sent and what is wrong with it (a 400)."""
        return _answer_page(
            request,
            opened,
            signed,
            score=score,
            error=error,
            comment=comment,
            submitted=form,
            answer_errors=answer_errors,
            http_status=400,
        )

    if score is None or action not in ("confirm", "send", "skip"):
        return again(said["bad_score"])
    answers = None
    if action == "send":
        try:
            answers = parse_answers(survey.questions, score, form)
        except AnswerErrors as exc:
            return again(None, dict(exc.errors))
    try:
        await write(
            services,
            answer_on_page,
            survey=survey,
            score=score,
            comment=comment,
            answers=answers,
            now=now,
        )
    except InvalidAnswer as exc:
        return again(str(exc))
    if action == "confirm":
        return RedirectResponse(f"/s/{signed}?saved", status_code=303)
    return RedirectResponse(survey.thanks_url or f"/s/{signed}/thanks", status_code=303)


@router.post("/s/{signed}/comment")
async def comment_post(request: Request, services: ServicesDep, signed: str) -> Response:
    """The comment form of pages opened before the answer page had one: still taken."""
    opened = await _open(services, signed)
    if opened is None:
        return _not_found(request)
    survey = opened.survey
    if not survey.open_at(datetime.now(UTC)):
        return _closed(request, opened)
    form = await read_form(request)
    comment = last(form, "comment") if form is not None else None
    if comment is None or survey.score is None:
        key = "comment_too_long" if form is None else "comment_missing"
        return _answer_page(
            request,
            opened,
            signed,
            score=opened.score,
            error=_words(survey)[key],
            http_status=413 if form is None else 400,
        )
    try:
        await write(services, record_comment, survey=survey, comment=comment, now=datetime.now(UTC))
    except InvalidAnswer as exc:
        return _answer_page(
            request,
            opened,
            signed,
            score=opened.score,
            error=str(exc),
            comment=comment,
            http_status=400,
        )
    return RedirectResponse(f"/s/{signed}/thanks", status_code=303)


# --- unsubscribe ----------------------------------------------------------------------------


@router.get("/u/{signed}")
async def unsubscribe_page(request: Request, services: ServicesDep, signed: str) -> Response:
    opened = await _open(services, signed)
    if opened is None:
        return _not_found(request)
    survey = opened.survey
    if survey.contact_status == "unsubscribed":
        return _message(request, survey, "already_unsubscribed")
    return _pages(request).render(
        **_context(request, survey, state="unsubscribe", action=f"/u/{signed}")
    )


@router.post("/u/{signed}")
async def unsubscribe_post(request: Request, services: ServicesDep, signed: str) -> Response:
    """The page's button and RFC 8058 one-click (``List-Unsubscribe=One-Click``) alike."""
    opened = await _open(services, signed)
    if opened is None:
        return _not_found(request)
    survey = opened.survey
    await write(services, unsubscribe, survey=survey, now=datetime.now(UTC))
    return _message(request, survey, "unsubscribed")
