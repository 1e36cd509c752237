"""A campaign's public link: ``/l/<key>`` asks the 0 to 10 question, and its QR code.

The page's form carries a single-use nonce (surveys/link_nonces.py) and a honeypot field
that people never see; a signed form of the link (``?u=<userId>&sig=<hex>``, signed with
the organization's web survey identity secret) ties the answer to that contact and
carries both through the form. Sent, the answer is recorded on the ``link`` channel and
the respondent goes on to the survey's own page (``/s/<signed>?saved``) for the comment and
follow-up questions. A cookie on the link's path remembers the answer for the campaign's
``throttle_days``: the same browser is taken back to it rather than answering twice.
Answers are budgeted per client address (``PROMOTER_RATE_LIMIT_LINK_ANSWERS``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import segno
from fastapi import APIRouter, Request
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from starlette.responses import RedirectResponse, Response

from promoter.campaigns.links import PublicLink
from promoter.delivery.i18n import words
from promoter.domain.languages import accepted_language
from promoter.services import Services
from promoter.surveys.link_nonces import issue_nonce, nonce_token
from promoter.surveys.links import (
    LinkAnswer,
    LinkPage,
    answer_by_token,
    answer_link,
    contact_answer,
    link_page,
    signed_contact,
)
from promoter.web.ratelimit import survey_pages_throttled
from promoter.web.state import ServicesDep
from promoter.web.survey_forms import Form, last, parse_score, read_form
from promoter.web.survey_rendering import SurveyPages, brand_context
from promoter.web.threads import read, write
from promoter.websurveys.identity import verify_user
from promoter.websurveys.settings import get_settings

router = APIRouter(include_in_schema=False)

#: The cookie that remembers a browser's answer to a link (its path is the link's).
COOKIE = "promoter_link"
#: The honeypot: a field people never see or fill; a form with it filled records nothing.
HONEYPOT = "website"
#: The longest userId a signed link carries (as contacts hold them).
MAX_USER_ID = 255
#: How long a browser may keep a link's QR code.
QR_CACHE = "public, max-age=3600"


@dataclass(frozen=True, slots=True)
class Visit:
    """A visit to a link: its page, the userId its signature verified (if it carried
    one) and the token of an earlier answer to take the visitor back to."""

    page: LinkPage
    user_id: str | None
    earlier: str | None


class BadSignature(Exception):
    """A link's ``u`` and ``sig`` do not verify (or only one of them was given)."""


def _visit(
    conn: Connection,
    *,
    link_key: str,
    user_id: str | None,
    signature: str | None,
    remembered: str | None,
    now: datetime,
) -> Visit | None:
    """The link's visit (``None``: no such link); raises :class:`BadSignature`."""
    page = link_page(conn, link_key=link_key)
    if page is None:
        return None
    campaign = page.campaign
    if user_id is not None or signature is not None:
        settings = get_settings(conn, organization_id=campaign.organization_id)
        if (
            settings is None
            or not user_id
            or len(user_id) > MAX_USER_ID
            or not verify_user(settings.secrets_at(now), user_id, signature or "")
        ):
            raise BadSignature
    if remembered is not None and answer_by_token(
        conn, campaign=campaign, token=remembered, now=now
    ):
        return Visit(page, user_id, remembered)
    if user_id is not None:
        contact_id = signed_contact(conn, organization_id=campaign.organization_id, user_id=user_id)
        if contact_id is not None:
            earlier = contact_answer(conn, campaign=campaign, contact_id=contact_id, now=now)
            return Visit(page, user_id, earlier)
    return Visit(page, user_id, None)


def _pages(request: Request) -> SurveyPages:
    pages: SurveyPages = request.app.state.survey_pages
    return pages


def _language(request: Request, fallback: str) -> str:
    return accepted_language(request.headers.get("accept-language"), fallback)


def _message(request: Request, status: int, key: str, page: LinkPage | None = None) -> Response:
    """A page that says one thing: in the browser's language, with the link's brand."""
    if page is None:
        language = _language(request, "en")
        return _pages(request).render(
            status, language=language, state="message", message=words(language, "")[key]
        )
    context = _context(request, page)
    return _pages(request).render(status, **context, state="message", message=context["words"][key])


def _context(request: Request, page: LinkPage) -> dict[str, Any]:
    services: Services = request.app.state.services
    language = _language(request, page.language)
    return {
        "language": language,
        "words": words(language, page.brand_name),
        **brand_context(
            base_url=services.settings.public_url,
            brand_name=page.brand_name,
            brand_color=page.brand_color,
            logo=page.logo,
            logo_url=page.logo_url,
        ),
    }


def _form_page(
    request: Request,
    visit: Visit,
    link_key: str,
    *,
    signature: str | None,
    score: int | None = None,
    error_key: str | None = None,
    status: int = 200,
) -> Response:
    """The question, with a new nonce."""
    services: Services = request.app.state.services
    context = _context(request, visit.page)
    nonce = issue_nonce(services.signer, link_key=link_key, now=datetime.now(UTC))
    return _pages(request).render(
        status,
        **context,
        state="link",
        action=f"/l/{link_key}",
        nonce=nonce,
        user_id=visit.user_id,
        signature=signature if visit.user_id is not None else None,
        honeypot=HONEYPOT,
        score=score,
        error=context["words"][error_key] if error_key else None,
    )


def _remembered(request: Request, services: Services) -> str | None:
    """The survey token of the browser's cookie, if it is one we signed."""
    cookie = request.cookies.get(COOKIE)
    return services.signer.unsign(cookie) if cookie else None


def _to_answer(
    request: Request, services: Services, visit: Visit, token: str, *, saved: bool
) -> Response:
    """On to the survey's own page, remembering the answer in the browser."""
    signed = services.signer.sign(token)
    answer = RedirectResponse(f"/s/{signed}{'?saved' if saved else ''}", status_code=303)
    link_key = visit.page.campaign.link_key
    answer.set_cookie(
        COOKIE,
        signed,
        max_age=visit.page.campaign.throttle_days * 86400,
        path=f"/l/{link_key}",
        httponly=True,
        samesite="lax",
        secure=services.settings.public_url.startswith("https://"),
    )
    answer.headers["Cache-Control"] = "no-store"
    return answer


async def _visit_of(
    request: Request,
    services: Services,
    link_key: str,
    user_id: str | None,
    signature: str | None,
) -> Visit | Response:
    """The visit, or the page that ends it (404: no such link; 403: a bad signature)."""
    try:
        visit = await read(
            services,
            _visit,
            link_key=link_key,
            user_id=user_id,
            signature=signature,
            remembered=_remembered(request, services),
            now=datetime.now(UTC),
        )
    except BadSignature:
        return _message(request, 403, "not_found")
    if visit is None:
        return _message(request, 404, "not_found")
    return visit


@router.get("/l/{link_key}")
async def link_form(request: Request, services: ServicesDep, link_key: str) -> Response:
    """The question; a browser (or a signed contact) that has answered goes to its answer."""
    query = request.query_params
    user_id, signature = query.get("u"), query.get("sig")
    visit = await _visit_of(request, services, link_key, user_id, signature)
    if not isinstance(visit, Visit):
        return visit
    if visit.earlier is not None:
        return _to_answer(request, services, visit, visit.earlier, saved=False)
    return _form_page(request, visit, link_key, signature=signature)


def _throttled(request: Request, services: Services) -> Response | None:
    buckets = services.rate_limits.link_answers
    if buckets is None:
        return None
    wait = buckets.take(request.client.host if request.client else "unknown")
    return survey_pages_throttled(wait) if wait > 0 else None


@router.post("/l/{link_key}")
async def link_answer(request: Request, services: ServicesDep, link_key: str) -> Response:
    """The score: recorded (once per nonce, once per browser and contact within the
    campaign's throttle), then on to the survey's page for the rest."""
    throttled = _throttled(request, services)
    if throttled is not None:
        return throttled
    form: Form | None = await read_form(request)
    fields = form or {}
    user_id, signature = last(fields, "u"), last(fields, "sig")
    visit = await _visit_of(request, services, link_key, user_id, signature)
    if not isinstance(visit, Visit):
        return visit
    if form is None:
        return _form_page(
            request, visit, link_key, signature=signature, error_key="form_expired", status=400
        )
    if last(form, HONEYPOT):
        return _message(request, 200, "thanks", visit.page)  # a robot: nothing recorded
    if visit.earlier is not None:
        return _to_answer(request, services, visit, visit.earlier, saved=False)
    score = parse_score(last(form, "score"))
    now = datetime.now(UTC)
    token = nonce_token(services.signer, last(form, "nonce") or "", link_key=link_key, now=now)
    if score is None or token is None:
        key = "bad_score" if score is None else "form_expired"
        return _form_page(
            request, visit, link_key, signature=signature, score=score, error_key=key, status=400
        )
    answered = await _record(request, services, visit, token, score, now)
    if answered is None:
        return _form_page(
            request, visit, link_key, signature=signature, error_key="form_expired", status=400
        )
    return _to_answer(request, services, visit, answered.token, saved=answered.created)


async def _record(
    request: Request, services: Services, visit: Visit, token: str, score: int, now: datetime
) -> LinkAnswer | None:
    language = _language(request, visit.page.language)

    async def once() -> LinkAnswer | None:
        return await write(
            services,
            answer_link,
            campaign=visit.page.campaign,
            token=token,
            score=score,
            user_id=visit.user_id,
            language=language,
            now=now,
        )

    try:
        return await once()
    except IntegrityError:
        # The same form sent twice at once (PostgreSQL): the other made the survey.
        return await once()


@router.get("/l/{link_key}/qr.svg")
async def link_qr_code(request: Request, services: ServicesDep, link_key: str) -> Response:
    """The link as a QR code (SVG), to print or show on a screen."""
    page = await read(services, link_page, link_key=link_key)
    if page is None:
        return _message(request, 404, "not_found")
    url = PublicLink.of(services.settings.public_url, link_key).url
    svg = io.BytesIO()
    segno.make(url, error="m").save(svg, kind="svg", scale=4, title=page.brand_name)
    headers = {
        "Cache-Control": QR_CACHE,
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(svg.getvalue(), media_type="image/svg+xml", headers=headers)
