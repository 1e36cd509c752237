"""The Users page (Settings, admins only): the organization's users with their roles and
last sign-in, changing a role, removing a user, and inviting someone by email with a
one-time link (emailed, and shown once to the admin to copy)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from sqlalchemy import Connection
from starlette.responses import Response

from promoter.accounts.invites import (
    Invite,
    InviteUnknown,
    NewInvite,
    create_invite,
    pending_invites,
    withdraw_invite,
)
from promoter.accounts.sessions import Session
from promoter.accounts.team import TeamError, UserNotFound, remove_user, set_role
from promoter.accounts.users import User, UserError, list_users
from promoter.delivery.mailers import PermanentFailure, TemporaryFailure, mailer_from_url
from promoter.delivery.render import InviteNote
from promoter.domain.ids import MAX_INT_ID
from promoter.domain.roles import ROLES, Role, parse_role
from promoter.orgs.service import get_organization
from promoter.services import Services
from promoter.web.dashboard.forms import read_form
from promoter.web.dashboard.session import (
    SessionDep,
    check_csrf,
    render,
    see_other,
    with_done,
)
from promoter.web.dashboard.shown_once import keep_for_page, take_for_page
from promoter.web.state import ServicesDep
from promoter.web.threads import in_thread, read, write

log = logging.getLogger("promoter.web.dashboard.users")
router = APIRouter(include_in_schema=False)

PAGE = "/settings/users"
RowId = Annotated[int, Path(ge=1, le=MAX_INT_ID)]


def _sentence(exc: Exception) -> str:
    message = str(exc)
    return message[:1].upper() + message[1:] + "."


@dataclass(frozen=True)
class UsersView:
    users: list[User]
    invites: list[Invite]
    timezone: str


def _load(conn: Connection, organization_id: int) -> UsersView:
    return UsersView(
        users=list_users(conn, organization_id=organization_id),
        invites=pending_invites(conn, organization_id=organization_id, now=datetime.now(UTC)),
        timezone=get_organization(conn, organization_id=organization_id).timezone,
    )


async def _page(
    request: Request, services: Services, session: Session, *, status: int = 200, **context: Any
) -> Response:
    view = await read(services, _load, session.user.organization_id)
    context.setdefault("error", "")
    context.setdefault("invite_email", "")
    context.setdefault("invite_role", Role.MEMBER.value)
    context.setdefault("new_invite", None)
    return render(
        request,
        "settings_users.html",
        session,
        status=status,
        section="settings",
        extra_css=["settings.css"],
        extra_js=["settings.js"],
        view=view,
        roles=ROLES,
        **context,
    )


def _not_found(request: Request, session: Session, what: str) -> Response:
    return render(request, "error.html", session, status=404, heading="Not found", message=what)


@router.get(PAGE)
async def users_page(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    return await _page(request, services, session, **await take_for_page(request, PAGE))


async def _email(services: Services, new: NewInvite, link: str) -> bool:
    """Send the invitation; False when the mail backend refuses it (the admin still has
    the link to pass on)."""
    note = InviteNote(
        to_address=new.invite.email,
        organization=new.invite.organization_name,
        invited_by=new.invite.invited_by,
        role=new.invite.role.label.lower(),
        link=link,
        expires_at=new.invite.expires_at,
    )
    try:
        mailer = mailer_from_url(services.settings.email_url)
        message = await in_thread(services.renderer().render_invite, note)
        try:
            await mailer.send(message)
        finally:
            await mailer.close()
    except (ValueError, TemporaryFailure, PermanentFailure) as exc:
        log.warning("the invitation to %s was not emailed: %s", new.invite.email, exc)
        return False
    return True


@router.post(PAGE + "/invite")
async def invite(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    email = form.get("email").strip()[:320]
    try:
        role = parse_role(form.get("role"))
    except ValueError as exc:
        return await _page(
            request, services, session, status=400, error=_sentence(exc), invite_email=email
        )

    def make(conn: Connection) -> NewInvite:
        return create_invite(
            conn,
            organization_id=session.user.organization_id,
            email=email,
            role=role,
            invited_by=session.user.email,
            now=datetime.now(UTC),
        )

    try:
        new = await write(services, make)
    except UserError as exc:
        return await _page(
            request,
            services,
            session,
            status=400,
            error=_sentence(exc),
            invite_email=email,
            invite_role=role.value,
        )
    link = f"{services.settings.public_url}/invite/{new.token}"
    emailed = await _email(services, new, link)
    # The link is shown once by the page redirected to: never in a URL, never stored.
    await keep_for_page(
        request,
        PAGE,
        {"new_invite": {"email": new.invite.email, "link": link, "emailed": emailed}},
    )
    return see_other(PAGE + "#invite-h")


async def _change_team(
    request: Request,
    services: Services,
    session: Session,
    change: Callable[[Connection], object],
    done: str,
) -> Response:
    """Apply ``change`` (a role, a removal) to a user of the session's organization, for
    the form just read."""
    try:
        await write(services, change)
    except UserNotFound:
        return _not_found(request, session, "There is no such user in your organization.")
    except (TeamError, ValueError) as exc:
        return await _page(request, services, session, status=400, error=_sentence(exc))
    return see_other(with_done(PAGE, done))


@router.post(PAGE + "/{user_id}/role")
async def change_role(
    request: Request, services: ServicesDep, session: SessionDep, user_id: RowId
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    wanted = form.get("role")

    def change(conn: Connection) -> object:
        role = parse_role(wanted)
        org = session.user.organization_id
        return set_role(conn, organization_id=org, user_id=user_id, role=role)

    return await _change_team(request, services, session, change, "role-saved")


@router.post(PAGE + "/{user_id}/remove")
async def remove(
    request: Request, services: ServicesDep, session: SessionDep, user_id: RowId
) -> Response:
    check_csrf(request, session, await read_form(request))

    def change(conn: Connection) -> object:
        org, me = session.user.organization_id, session.user.id
        remove_user(conn, organization_id=org, user_id=user_id, acting_user_id=me)
        return None

    return await _change_team(request, services, session, change, "user-removed")


@router.post(PAGE + "/invites/{invite_id}/withdraw")
async def withdraw(
    request: Request, services: ServicesDep, session: SessionDep, invite_id: RowId
) -> Response:
    form = await read_form(request)
    check_csrf(request, session, form)
    try:
        await write(
            services,
            lambda conn: withdraw_invite(
                conn,
                organization_id=session.user.organization_id,
                invite_id=invite_id,
                now=datetime.now(UTC),
            ),
        )
    except InviteUnknown:
        return _not_found(request, session, "There is no such waiting invitation.")
    return see_other(with_done(PAGE, "invite-withdrawn"))
