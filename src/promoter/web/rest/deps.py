"""What every REST resource shares: the organization a token names, paging parameters and
Promoter's page shape, the feedback's comment search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request

from promoter.domain.ids import MAX_BIGINT_ID
from promoter.domain.paging import Page
from promoter.feedback.search import MAX_SEARCH_LENGTH, CommentSearch, SearchError, parse_search
from promoter.orgs.service import KeyHolder, Organization
from promoter.web.credentials import request_credentials
from promoter.web.rest.bodies import invalid
from promoter.web.state import ServicesDep


def api_key_holder(request: Request, services: ServicesDep) -> KeyHolder:
    """The organization and role of the request's API key (looked up once per request);
    401 without an active one."""
    known: KeyHolder | None = getattr(request.state, "key_holder", None)
    if known is not None:
        return known
    found = request_credentials(request.scope)
    holder = services.keys.holder(found.key, digest=found.digest) if found else None
    if holder is None:
        raise HTTPException(
            401,
            "Invalid token.",
            headers={"WWW-Authenticate": "Token"},
        )
    request.state.key_holder = holder
    return holder


def organization_from_token(request: Request, services: ServicesDep) -> Organization:
    return api_key_holder(request, services).organization


OrgDep = Annotated[Organization, Depends(organization_from_token)]
PageNumber = Annotated[int, Query(ge=1, le=10**9, description="1-based page number")]
ContactId = Annotated[int, Path(ge=1, le=MAX_BIGINT_ID, description="contact id")]
PageSize = Annotated[int, Query(ge=1, le=500, description="results per page")]


def paginated(
    request: Request, services: ServicesDep, total: int, page: Page, results: list[Any]
) -> dict[str, Any]:
    """Promoter's page shape; links use PROMOTER_BASE_URL, never the request's Host."""

    def link(number: int) -> str:
        query = request.url.include_query_params(page=number).query
        return f"{services.settings.public_url}{request.url.path}?{query}"

    last = max(1, -(-total // page.size))
    return {
        "count": total,
        "next": link(page.number + 1) if page.number < last else None,
        "previous": link(page.number - 1) if page.number > 1 else None,
        "results": results,
    }


def comment_search(
    search: Annotated[
        str | None,
        Query(
            description=(
                "Words the comment must all have, in any case (the last may be the start "
                'of a word); "a phrase" in double quotes. Up to '
                f"{MAX_SEARCH_LENGTH} characters."
            )
        ),
    ] = None,
) -> CommentSearch | None:
    """The comment search; text without a word in it searches nothing."""
    try:
        return parse_search(search)
    except SearchError as exc:
        raise invalid({"search": [str(exc)]}) from None


SearchDep = Annotated[CommentSearch | None, Depends(comment_search)]
