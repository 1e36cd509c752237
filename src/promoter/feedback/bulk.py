"""Acting on several pieces of feedback at once: a tag added or removed, the loop closed or
reopened, each response through the same functions as one alone (``followup``), so each
change stamps it and announces the same webhook events.

The caller's connection; nothing is committed here.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import Connection, select

from promoter.feedback.followup import (
    FeedbackStatus,
    add_tags,
    clean_tag,
    remove_tags,
    set_status,
)
from promoter.storage.tables import responses

BulkAction = Literal["tag", "untag", "close", "reopen"]
BULK_ACTIONS: tuple[BulkAction, ...] = get_args(BulkAction)
#: Responses one request may change (a dashboard page shows 25).
MAX_SELECTED = 100


class InvalidSelection(ValueError):
    """Nothing selected, too much, or an unknown action; the message says which."""


def bulk_action(text: str) -> BulkAction:
    """The action named ``text``."""
    for action in BULK_ACTIONS:
        if action == text:
            return action
    raise InvalidSelection(f"choose an action: {', '.join(BULK_ACTIONS)}")


def act_on_many(
    conn: Connection,
    *,
    organization_id: int,
    response_ids: Collection[int],
    action: BulkAction,
    tag: str | None = None,
    now: datetime,
) -> int:
    """Apply ``action`` (``tag``/``untag``: with ``tag``) to the organization's responses
    among ``response_ids``; the ids of responses it does not have are left out. How many
    it had."""
    if not response_ids:
        raise InvalidSelection("select at least one feedback")
    if len(response_ids) > MAX_SELECTED:
        raise InvalidSelection(f"select at most {MAX_SELECTED} feedback at a time")
    named = clean_tag(tag or "") if action in ("tag", "untag") else ""
    owned = list(
        conn.execute(
            select(responses.c.id)
            .where(
                responses.c.organization_id == organization_id,
                responses.c.id.in_(sorted(set(response_ids))),
            )
            .order_by(responses.c.id)
        ).scalars()
    )
    for response_id in owned:
        _act(conn, organization_id, response_id, action, named, now)
    return len(owned)


def _act(
    conn: Connection,
    organization_id: int,
    response_id: int,
    action: BulkAction,
    tag: str,
    now: datetime,
) -> None:
    if action == "tag":
        add_tags(
            conn, organization_id=organization_id, response_id=response_id, tags=[tag], now=now
        )
    elif action == "untag":
        remove_tags(
            conn, organization_id=organization_id, response_id=response_id, tags=[tag], now=now
        )
    else:
        status: FeedbackStatus = "CLOSED" if action == "close" else "OPEN"
        set_status(
            conn, organization_id=organization_id, response_id=response_id, status=status, now=now
        )
