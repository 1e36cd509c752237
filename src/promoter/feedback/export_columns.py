"""The CSV export's columns: the snapshot attribute names and the follow-up questions of
the exported responses, found without reading them all, so that the header line (and the
first rows behind it) leave at once.

Each name the organization's responses carry is found by one seek on
``ix_response_attributes_org_name_text`` (the next name after the last one), then kept when
some matching response has it: a query that stops at the first one found. Likewise each
campaign with follow-up questions is kept when some matching response answered it.
"""

from __future__ import annotations

from sqlalchemy import Connection, Subquery, exists, func, select

from promoter.analytics.query import Scope, matching
from promoter.campaigns.service import questions_of
from promoter.storage.tables import campaigns, response_attributes


def attribute_names(conn: Connection, scope: Scope) -> list[str]:
    """The snapshot attribute names of the matching responses, sorted."""
    found = matching(scope)
    if scope.query.count != "all":
        # Each contact's latest response is ranked over the whole window: decided once.
        return sorted(
            conn.execute(
                select(response_attributes.c.name)
                .distinct()
                .where(response_attributes.c.response_id.in_(select(found.c.id)))
            ).scalars()
        )
    return [
        name for name in _organization_names(conn, scope) if _answered(conn, scope, found, name)
    ]


def _organization_names(conn: Connection, scope: Scope) -> list[str]:
    """Every attribute name of the organization's responses, one index seek each."""
    ra = response_attributes
    mine = ra.c.organization_id == scope.query.organization_id
    names: list[str] = []
    name = conn.scalar(select(func.min(ra.c.name)).where(mine))
    while name is not None:
        names.append(name)
        name = conn.scalar(select(func.min(ra.c.name)).where(mine, ra.c.name > name))
    return names


def _answered(conn: Connection, scope: Scope, found: Subquery, name: str) -> bool:
    """Some matching response has the attribute ``name`` in its snapshot."""
    ra = response_attributes
    organization_id = scope.query.organization_id
    return bool(
        conn.scalar(
            select(
                exists().where(
                    ra.c.organization_id == organization_id,
                    ra.c.name == name,
                    ra.c.response_id == found.c.id,
                )
            )
        )
    )


def question_columns(conn: Connection, scope: Scope) -> list[str]:
    """One column per follow-up question of the campaigns answered, headed by its text
    (campaigns asking the same question share its column)."""
    query = scope.query
    mine = select(campaigns.c.id).where(campaigns.c.organization_id == query.organization_id)
    if query.campaign_ids:
        mine = mine.where(campaigns.c.id.in_(query.campaign_ids))
    every = questions_of(
        conn, organization_id=query.organization_id, campaign_ids=conn.execute(mine).scalars().all()
    )
    candidates = sorted(c for c, questions in every.items() if questions)
    if not candidates:
        return []
    found = matching(scope, "campaign_id")
    if query.count == "all":
        answered = [
            c for c in candidates if conn.scalar(select(exists().where(found.c.campaign_id == c)))
        ]
    else:
        answered = list(
            conn.execute(
                select(found.c.campaign_id).distinct().where(found.c.campaign_id.in_(candidates))
            ).scalars()
        )
    texts = (q.text for campaign_id in sorted(answered) for q in every[campaign_id])
    return list(dict.fromkeys(texts))
