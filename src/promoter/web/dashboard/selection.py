"""The Feedback list's selection: the feedback ticked on a page tagged, untagged, closed or
reopened at once (``feedback.bulk``), then back to the same list."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from promoter.domain.ids import MAX_BIGINT_ID
from promoter.feedback.bulk import (
    MAX_SELECTED,
    BulkAction,
    InvalidSelection,
    act_on_many,
    bulk_action,
)
from promoter.feedback.followup import InvalidTag
from promoter.web.dashboard.feedback import not_found
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.session import (
    SessionDep,
    check_csrf,
    render,
    safe_next,
    see_other,
    with_done,
)
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread

router = APIRouter(include_in_schema=False)


#: What each action of the selection's form says once done.
BULK_DONE: dict[BulkAction, str] = {
    "tag": "bulk-tagged",
    "untag": "bulk-untagged",
    "close": "bulk-closed",
    "reopen": "bulk-reopened",
}


def _selected(values: list[str]) -> list[int]:
    """The ids ticked; one that cannot be a response's id is a mistake of the form."""
    if not all(v.isascii() and v.isdigit() and 1 <= int(v) <= MAX_BIGINT_ID for v in values):
        raise InvalidSelection("the selection holds something that is not a feedback")
    return [int(v) for v in values]


@router.post("/feedback/bulk")
async def act_on_selected(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    """The selected feedback (``id``, repeated) tagged, untagged, closed or reopened
    (``action``), then back to the list it was selected on."""
    form = await read_form(request)
    check_csrf(request, session, form)

    def run() -> tuple[int, BulkAction] | str:
        try:
            action = bulk_action(form.get("action"))
            ids = _selected(form.getlist("id")[: MAX_SELECTED + 1])
            with services.database.write() as conn:
                changed = act_on_many(
                    conn,
                    organization_id=session.user.organization_id,
                    response_ids=ids,
                    action=action,
                    tag=form.get("tag"),
                    now=datetime.now(UTC),
                )
            return changed, action
        except (InvalidSelection, InvalidTag) as exc:
            return str(exc)

    outcome = await in_thread(run)
    if isinstance(outcome, str):
        return render(
            request, "error.html", session, status=400, heading="Not changed", message=outcome
        )
    changed, action = outcome
    if changed == 0:
        return not_found(request, session)
    back = safe_next(form.get("return") or "/feedback")
    return see_other(with_done(back, BULK_DONE[action]))
