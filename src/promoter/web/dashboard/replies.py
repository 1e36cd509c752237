"""Replying to a respondent by email from a piece of feedback's page: the form's answer.

The reply is queued in the outbox with its note (and the loop closed when asked) in one
transaction; a reply that cannot be sent comes back on the page with what was written and
why."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.feedback.replies import Replier, ReplyRefused, SentReply, send_reply
from promoter.web.dashboard.feedback import ResponseId, load_one, not_found, render_one
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.session import SessionDep, check_csrf, see_other, with_done
from promoter.web.state import ServicesDep
from promoter.web.threads import read, write

router = APIRouter(include_in_schema=False)


@router.post("/feedback/{response_id}/reply")
async def send(
    request: Request, services: ServicesDep, session: SessionDep, response_id: ResponseId
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    subject, body, close = form.get("subject"), form.get("body"), form.get("close") == "1"

    def run(conn: Connection) -> SentReply | str | None:
        try:
            return send_reply(
                conn,
                organization_id=session.user.organization_id,
                response_id=response_id,
                replier=Replier(session.user.email, session.user.name),
                subject=subject,
                body=body,
                close=close,
                now=datetime.now(UTC),
            )
        except ReplyRefused as exc:  # refused before anything is written
            return str(exc)

    outcome = await write(services, run)
    if isinstance(outcome, str):
        found = await read(services, load_one, session=session, response_id=response_id)
        if found is not None:
            draft = {"subject": subject, "body": body, "close": close, "error": outcome}
            return render_one(request, services, session, found, status=400, draft=draft)
    if outcome is None or isinstance(outcome, str):
        return not_found(request, session)
    return see_other(with_done(f"/feedback/{response_id}#reply", "reply-queued"))
