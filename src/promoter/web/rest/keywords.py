"""Comment keywords under /api/v2/analytics/keywords/: the keywords of the matching
comments with their count, NPS, change and weekly trend; and the organization's rules that
hide, rename and merge them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from promoter.analytics.keyword_rules import (
    MAX_LENGTH,
    RuleConflict,
    RuleError,
    RuleNotFound,
    create_rule,
    delete_rule,
    list_rules,
    load_rules,
)
from promoter.analytics.keywords import DEFAULT_TOP, MAX_TOP, KeywordsError, keywords
from promoter.analytics.params import zone_of
from promoter.analytics.query import Scope
from promoter.domain.ids import MAX_INT_ID
from promoter.web import threads
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.analytics import QuestionDep, _answer
from promoter.web.rest.deps import OrgDep
from promoter.web.state import ServicesDep

router = APIRouter(prefix="/api/v2/analytics/keywords", tags=["analytics"])
T = TypeVar("T")
RuleId = Annotated[int, Path(ge=1, le=MAX_INT_ID, description="keyword rule id")]


class KeywordWeek(BaseModel):
    week: str = Field(description="The week's Monday (the organization's time zone).")
    comments: int
    nps: float | None = Field(description="Null under min_nps comments that week.")


class KeywordBefore(BaseModel):
    comments: int
    nps: float | None


class KeywordChange(BaseModel):
    points: float | None = Field(description="NPS now minus NPS in the window before.")
    margin: float | None = Field(description="95% margin of error of the difference.")
    significant: bool | None = Field(description="The change is beyond its margin.")
    too_few: bool = Field(description="Either window has under 30 comments: no change given.")


class Keyword(schemas.NpsSummary):
    keyword: str = Field(description="As shown: a lemma phrase, or a rule's new name.")
    phrases: list[str] = Field(description="The phrases counted in it (several: merged).")
    comments: int = Field(description="Comments using it (equal to responses).")
    enough: bool = Field(description="At least min_nps comments: the NPS is given.")
    before: KeywordBefore
    change: KeywordChange | None = Field(description="Null when a window has no comment.")
    weeks: list[KeywordWeek]


class PreviousWindow(BaseModel):
    window: schemas.Window = Field(description="The window of equal length just before.")
    comments: int = Field(description="Matching responses with a comment in it.")


class Keywords(BaseModel):
    window: schemas.Window
    previous: PreviousWindow
    comments: int = Field(description="Matching responses with a comment.")
    keywords: list[Keyword]
    more: int = Field(description="Keywords beyond top.")
    min_comments: int
    min_nps: int


class KeywordRule(BaseModel):
    id: int
    keyword: str
    action: Literal["hide", "rename", "merge"]
    target: str | None = Field(description="rename: the new name; merge: the keyword.")
    created_at: datetime


class KeywordRuleList(BaseModel):
    count: int
    results: list[KeywordRule]


class KeywordRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keyword: str = Field(min_length=1, max_length=MAX_LENGTH)
    action: Literal["hide", "rename", "merge"]
    target: str | None = Field(default=None, max_length=MAX_LENGTH)


@router.get(
    "/",
    summary="Keywords of the comments, with count, NPS, change and weekly trend",
    responses=schemas.success(Keywords),
)
async def keywords_list(
    services: ServicesDep,
    org: OrgDep,
    question: QuestionDep,
    top: Annotated[int, Query(ge=1, le=MAX_TOP, description="How many keywords.")] = DEFAULT_TOP,
) -> JSONResponse:
    """The phrases of one to three lemmas the matching comments use (each comment read in
    its respondent's language), in at least 2 comments, the most used first; per keyword
    the NPS of the comments using it with its 95% interval (null under min_nps comments),
    the change against the window of equal length before, and a weekly trend. The
    organization's keyword rules apply."""
    zone = zone_of(org.timezone)

    def compute(conn: Connection, s: Scope) -> dict[str, Any]:
        rules = load_rules(conn, organization_id=org.id)
        cache = services.analytics.phrases
        try:
            found = keywords(conn, s, rules=rules, cache=cache, zone=zone, top=top)
        except KeywordsError as exc:
            raise HTTPException(400, str(exc)) from None
        return found.to_json()

    return JSONResponse(await _answer(services, org, question, compute))


async def _rules(services: ServicesDep, fn: Callable[[Connection], T], *, write: bool) -> T:
    try:
        if write:
            return await threads.write(services, fn)
        return await threads.read(services, fn)
    except RuleConflict as exc:
        raise HTTPException(409, str(exc)) from None
    except RuleError as exc:
        raise HTTPException(400, str(exc)) from None
    except RuleNotFound:
        raise HTTPException(404, "Not found.") from None


@router.get(
    "/rules/",
    summary="The keyword rules: hidden, renamed and merged keywords",
    responses=schemas.success(KeywordRuleList),
)
async def keyword_rules_list(services: ServicesDep, org: OrgDep) -> JSONResponse:
    found = await _rules(
        services,
        lambda conn: [r.to_json() for r in list_rules(conn, organization_id=org.id)],
        write=False,
    )
    return JSONResponse({"count": len(found), "results": found})


@router.post(
    "/rules/",
    summary="Hide, rename or merge a keyword",
    status_code=201,
    responses={
        **schemas.success(KeywordRule, 201),
        **schemas.conflict("The keyword has a rule already"),
    },
)
async def keyword_rules_create(
    services: ServicesDep, org: OrgDep, body: KeywordRuleIn
) -> JSONResponse:
    """One rule per keyword: ``hide`` (no target), ``rename`` (target: the name shown) or
    ``merge`` (target: the keyword it is counted in; chains follow, loops are refused)."""
    created = await _rules(
        services,
        lambda conn: create_rule(
            conn,
            organization_id=org.id,
            keyword=body.keyword,
            action=body.action,
            target=body.target,
            now=datetime.now(UTC),
        ),
        write=True,
    )
    return JSONResponse(created.to_json(), status_code=201)


@router.delete("/rules/{rule_id}/", summary="Delete a keyword rule", status_code=204)
async def keyword_rules_delete(services: ServicesDep, org: OrgDep, rule_id: RuleId) -> None:
    await _rules(
        services,
        lambda conn: delete_rule(conn, organization_id=org.id, rule_id=rule_id),
        write=True,
    )
