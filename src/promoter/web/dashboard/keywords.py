"""Keywords: the phrases the comments use, each with its count, NPS and interval, change
and a small weekly trend, linked to the feedback that says it; forms for members to hide,
rename and merge keywords."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.analytics.keyword_rules import (
    ACTIONS,
    Rule,
    RuleError,
    RuleNotFound,
    Rules,
    create_rule,
    delete_rule,
    list_rules,
)
from promoter.analytics.keywords import (
    DEFAULT_TOP,
    MAX_TOP,
    MIN_COMMENTS,
    MIN_NPS,
    Keyword,
    Keywords,
    KeywordsError,
    keywords,
)
from promoter.analytics.query import Scope
from promoter.domain.ids import MAX_INT_ID
from promoter.services import Services
from promoter.web.dashboard.answers import ask_async
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.session import (
    SessionDep,
    check_csrf,
    refused,
    render,
    safe_next,
    see_other,
    with_done,
)
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread

router = APIRouter(include_in_schema=False)
PAGE = "/keywords"
#: The trend's bars: this tall at the most, in the SVG's units.
BAR_HEIGHT = 20


@dataclass(frozen=True, slots=True)
class Found:
    keywords: Keywords
    rules: list[Rule]


def _top(text: str) -> int:
    text = text.strip()
    if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_TOP:
        return int(text)
    return DEFAULT_TOP


def _compute(services: Services, top: int) -> Callable[[Connection, Scope, ZoneInfo], Found | str]:
    def compute(conn: Connection, scope: Scope, zone: ZoneInfo) -> Found | str:
        rules = list_rules(conn, organization_id=scope.query.organization_id)
        try:
            found = keywords(
                conn,
                scope,
                rules=Rules.of(rules),
                cache=services.analytics.phrases,
                zone=zone,
                top=top,
            )
        except KeywordsError as exc:
            return str(exc)
        return Found(found, rules)

    return compute


def trend_bars(keyword: Keyword) -> list[tuple[float, float, int]]:
    """Each week's bar: x, height (its share of the keyword's busiest week) and count."""
    most = max([w.summary.responses for w in keyword.weeks] + [1])
    return [
        (i * 6.0, BAR_HEIGHT * w.summary.responses / most, w.summary.responses)
        for i, w in enumerate(keyword.weeks)
    ]


def feedback_link(keyword: Keyword, carry: str) -> str:
    """The feedback list searched for the keyword, with the page's filters."""
    query = carry.lstrip("?")
    search = urlencode({"search": keyword.phrases[0] if keyword.phrases else keyword.name})
    return f"/feedback?{query + '&' if query else ''}{search}"


@router.get(PAGE)
async def keywords_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    top = _top(request.query_params.get("top", ""))
    asked = await ask_async(
        services, session, request.query_params.multi_items(), _compute(services, top)
    )
    found = asked.answer
    result = found if isinstance(found, Found) else None
    return render(
        request,
        "keywords.html",
        session,
        section="keywords",
        asked=asked,
        result=result,
        problem=found if isinstance(found, str) else None,
        top=top,
        max_top=MAX_TOP,
        min_comments=MIN_COMMENTS,
        min_nps=MIN_NPS,
        actions=ACTIONS,
        trend_bars=trend_bars,
        feedback_link=feedback_link,
        bar_height=BAR_HEIGHT,
        back=request.url.path + ("?" + request.url.query if request.url.query else ""),
        **asked.bar,
    )


@router.post(PAGE + "/rules")
async def keyword_rule_save(
    request: Request, services: ServicesDep, session: SessionDep
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    target = form.get("target").strip() or None

    def save() -> str | None:
        try:
            with services.database.write() as conn:
                create_rule(
                    conn,
                    organization_id=session.user.organization_id,
                    keyword=form.get("keyword"),
                    action=form.get("action"),
                    target=target,
                    now=datetime.now(UTC),
                )
        except RuleError as exc:
            return str(exc)
        return None

    problem = await in_thread(save)
    if problem is not None:
        heading = "The keyword rule was not saved"
        return refused(request, session, status=400, heading=heading, message=problem)
    return see_other(with_done(_back(form.get("return")), "keyword-rule-saved"))


def _back(value: str) -> str:
    back = safe_next(value)
    return back if back.startswith(PAGE) else PAGE


@router.post(PAGE + "/rules/{rule_id}/delete")
async def keyword_rule_delete(
    request: Request, services: ServicesDep, session: SessionDep, rule_id: int
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)

    def remove() -> bool:
        if not 1 <= rule_id <= MAX_INT_ID:
            return False
        try:
            with services.database.write() as conn:
                delete_rule(conn, organization_id=session.user.organization_id, rule_id=rule_id)
        except RuleNotFound:
            return False
        return True

    if not await in_thread(remove):
        message = "There is no such keyword rule."
        return refused(request, session, status=404, heading="Not found", message=message)
    return see_other(with_done(_back(form.get("return")), "keyword-rule-deleted"))
