"""Comment themes under /api/v2/analytics/themes/: the themes of the matching comments with
their count, NPS, change and weekly trend; one theme with its comments; renaming and
hiding a theme."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from promoter.analytics.params import zone_of
from promoter.analytics.query import Scope
from promoter.analytics.theme_store import merge_theme
from promoter.analytics.themes import (
    DEFAULT_COMMENTS,
    MAX_COMMENTS,
    MAX_NAME,
    ThemeError,
    ThemeNotFound,
    change_theme,
    theme_comments,
    themes_report,
)
from promoter.domain.ids import MAX_INT_ID
from promoter.web import threads
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.analytics import QuestionDep, _answer
from promoter.web.rest.deps import OrgDep
from promoter.web.rest.keywords import KeywordBefore, KeywordChange, KeywordWeek, PreviousWindow
from promoter.web.state import ServicesDep

router = APIRouter(prefix="/api/v2/analytics/themes", tags=["analytics"])
T = TypeVar("T")
ThemeId = Annotated[int, Path(ge=1, le=MAX_INT_ID, description="theme id")]


class NotFoundDetail(BaseModel):
    detail: str


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": NotFoundDetail, "description": "No such theme"}
}


class Theme(schemas.NpsSummary):
    id: int
    theme: str = Field(description="As shown: the name a user gave it, else its label.")
    label: str = Field(description="Its comments' most used keywords, when it was made.")
    name: str | None = Field(description="The name a user gave it.")
    hidden: bool
    size: int = Field(description="Comments in the theme, whatever their date.")
    comments: int = Field(description="Matching comments in the theme (equal to responses).")
    enough: bool = Field(description="At least min_nps comments: the NPS is given.")
    before: KeywordBefore
    change: KeywordChange | None = Field(description="Null when a window has no comment.")
    weeks: list[KeywordWeek]


class Themes(BaseModel):
    window: schemas.Window
    previous: PreviousWindow
    comments: int = Field(description="Matching responses with a comment.")
    unthemed: int = Field(description="Of those, in no theme (yet).")
    themes: list[Theme]
    min_nps: int


class ThemeComment(BaseModel):
    response_id: int = Field(description="The feedback's id (/api/v2/feedback/{id}/).")
    score: int
    comment: str
    created_at: str


class ThemeDetail(Theme):
    comment_list: list[ThemeComment] = Field(description="Its matching comments, latest first.")


class StoredTheme(BaseModel):
    id: int
    theme: str
    label: str
    name: str | None
    hidden: bool
    size: int


class ThemeChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(
        default=None, max_length=MAX_NAME, description="Its name; null or blank: its label."
    )
    hidden: bool | None = Field(default=None, description="Hide it from the list, or show it.")


class ThemeMerge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: int = Field(ge=1, le=MAX_INT_ID, description="The theme that takes its comments.")


async def _run(services: ServicesDep, fn: Callable[[Connection], T], *, write: bool) -> T:
    try:
        if write:
            return await threads.write(services, fn)
        return await threads.read(services, fn)
    except ThemeError as exc:
        raise HTTPException(400, str(exc)) from None
    except ThemeNotFound:
        raise HTTPException(404, "Not found.") from None


@router.get(
    "/",
    summary="Themes of the comments, with count, NPS, change and weekly trend",
    responses=schemas.success(Themes),
)
async def themes_list(
    services: ServicesDep,
    org: OrgDep,
    question: QuestionDep,
    hidden: Annotated[bool, Query(description="Include the hidden themes.")] = False,
) -> JSONResponse:
    """Groups of similar comments found by an embedding model (see the analytics docs),
    the themes with a matching comment, the most commented first; per theme the NPS of
    its matching comments with its 95% interval (null under min_nps comments), the change
    against the window of equal length before, and a weekly trend. New comments join a
    theme within minutes of arriving."""
    zone = zone_of(org.timezone)

    def compute(conn: Connection, s: Scope) -> dict[str, Any]:
        cache = services.analytics.phrases
        return themes_report(conn, s, cache=cache, zone=zone, hidden=hidden).to_json()

    return JSONResponse(await _answer(services, org, question, compute))


@router.get(
    "/{theme_id}/",
    summary="One theme, with its matching comments",
    responses={**schemas.success(ThemeDetail), **NOT_FOUND},
)
async def themes_detail(
    services: ServicesDep,
    org: OrgDep,
    question: QuestionDep,
    theme_id: ThemeId,
    limit: Annotated[
        int, Query(ge=1, le=MAX_COMMENTS, description="How many comments.")
    ] = DEFAULT_COMMENTS,
) -> JSONResponse:
    zone = zone_of(org.timezone)

    def compute(conn: Connection, s: Scope) -> dict[str, Any]:
        theme, comments = theme_comments(
            conn, s, theme_id=theme_id, cache=services.analytics.phrases, zone=zone, limit=limit
        )
        return theme.to_json() | {"comment_list": [c.to_json() for c in comments]}

    try:
        return JSONResponse(await _answer(services, org, question, compute))
    except ThemeNotFound:
        raise HTTPException(404, "Not found.") from None


@router.patch(
    "/{theme_id}/",
    summary="Rename, hide or show a theme",
    responses={**schemas.success(StoredTheme), **NOT_FOUND},
)
async def themes_change(
    services: ServicesDep, org: OrgDep, theme_id: ThemeId, body: ThemeChange
) -> JSONResponse:
    changed = await _run(
        services,
        lambda conn: change_theme(
            conn,
            organization_id=org.id,
            theme_id=theme_id,
            name=body.name,
            rename="name" in body.model_fields_set,
            hidden=body.hidden,
        ),
        write=True,
    )
    return JSONResponse(changed.to_json())


@router.post(
    "/{theme_id}/merge/",
    summary="Merge a theme into another",
    responses={**schemas.success(StoredTheme), **NOT_FOUND},
)
async def themes_merge(
    services: ServicesDep, org: OrgDep, theme_id: ThemeId, body: ThemeMerge
) -> JSONResponse:
    """The theme's comments go to theme ``into`` (which keeps its name), and the theme is
    deleted; answers the theme ``into`` as it is now."""

    def merge(conn: Connection) -> dict[str, object]:
        merge_theme(
            conn, organization_id=org.id, theme_id=theme_id, into=body.into, now=datetime.now(UTC)
        )
        return change_theme(conn, organization_id=org.id, theme_id=body.into).to_json()

    return JSONResponse(await _run(services, merge, write=True))
