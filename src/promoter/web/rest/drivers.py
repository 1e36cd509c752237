"""GET /api/v2/analytics/drivers/: what moves the NPS — groups of answers ranked by their
impact, and the regressions of promoter and detractor on them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from promoter.analytics.drivers import (
    DEFAULT_TOP,
    MAX_ATTRIBUTES,
    MAX_EVENTS,
    MAX_TOP,
    DriversError,
    Request,
    drivers,
)
from promoter.analytics.engine import Analytics
from promoter.analytics.query import Scope
from promoter.web.responses import JSONResponse
from promoter.web.rest import schemas
from promoter.web.rest.analytics import QuestionDep, _answer
from promoter.web.rest.deps import OrgDep
from promoter.web.state import ServicesDep

router = APIRouter(prefix="/api/v2", tags=["analytics"])


class DriverGroup(BaseModel):
    kind: Literal["attribute", "event", "orders"]
    name: str = Field(description="The attribute's or the event's name; orders: 'orders'.")
    value: str = Field(description="The value, bucket, (other) or (missing); or 'did EVENT'.")
    label: str
    low: float | None = Field(description="Numeric buckets only: low <= value.")
    high: float | None = Field(description="Numeric buckets only: value < high.")
    responses: int
    nps: float | None = Field(description="The NPS of the group's answers.")
    nps_rest: float | None = Field(description="The NPS of the other answers.")
    impact: float | None = Field(
        description="NPS of all answers minus NPS of the answers outside the group, in "
        "points: positive when the group lifts the NPS."
    )
    interval: list[float] | None = Field(
        description="95% interval of the impact (delta method); null when the group or "
        "the rest has fewer than 30 answers."
    )
    p_value: float | None
    q_value: float | None = Field(description="Benjamini-Hochberg across the groups tested.")
    moves: Literal["raises", "lowers"] | None = Field(
        description="The group raises or lowers the NPS beyond chance (q <= 0.05)."
    )


class Coefficient(BaseModel):
    feature: str
    reference: str = Field(description="What the feature is compared with.")
    responses: int
    coefficient: float = Field(description="Log odds ratio, the other features held fixed.")
    odds_ratio: float
    interval: list[float] = Field(description="95% interval of the odds ratio.")
    p_value: float
    significant: bool = Field(description="p < 0.05: the interval leaves out 1.")


class LeftOut(BaseModel):
    feature: str
    reason: str


class Model(BaseModel):
    outcome: Literal["promoter", "detractor"]
    error: str | None = Field(description="Why there is no model (too few answers...).")
    coefficients: list[Coefficient]
    left_out: list[LeftOut]


class Regression(BaseModel):
    responses: int
    promoter: Model
    detractor: Model


class Drivers(BaseModel):
    window: schemas.Window
    total: schemas.NpsSummary
    groups: list[DriverGroup]
    regression: Regression
    notes: list[str]


def answer(analytics: Analytics, conn: Connection, scope: Scope, asked: Request) -> dict[str, Any]:
    """The drivers of ``asked``, as JSON; bad input is a 400."""
    try:
        found = drivers(analytics, conn, scope, asked)
    except DriversError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"window": scope.window.to_json(), **found.to_json()}


@router.get(
    "/analytics/drivers/",
    summary="What moves the NPS: groups ranked by impact, and a regression",
    responses=schemas.success(Drivers),
)
async def nps_drivers(
    services: ServicesDep,
    org: OrgDep,
    question: QuestionDep,
    by: Annotated[
        list[str],
        Query(
            max_length=MAX_ATTRIBUTES,
            description="Attributes (repeat); without by and event: the attributes most "
            "present in the latest answers and the first event names.",
        ),
    ] = [],  # noqa: B006
    event: Annotated[
        list[str], Query(max_length=MAX_EVENTS, description="Event names (repeat).")
    ] = [],  # noqa: B006
    orders: Annotated[bool, Query(description="Include 'placed an order'.")] = True,
    top: Annotated[
        int, Query(ge=1, le=MAX_TOP, description="Values per attribute; the rest is (other).")
    ] = DEFAULT_TOP,
    within_days: Annotated[
        int | None,
        Query(ge=1, le=3650, description="Behaviours in the last N days (default: ever)."),
    ] = None,
) -> JSONResponse:
    """Each attribute value (numeric attributes in buckets) and behaviour with its impact:
    NPS(all) - NPS(all but the group), its 95% interval, and Benjamini-Hochberg marks;
    then logistic regressions of promoter and of detractor on them all, so attributes
    that go together are not counted twice."""
    asked = Request(tuple(by), tuple(event), orders, top, within_days)

    def compute(conn: Connection, s: Scope) -> dict[str, Any]:
        return answer(services.analytics, conn, s, asked)

    return JSONResponse(await _answer(services, org, question, compute))
