"""Who takes the digest (each user's choice, else their role's default) and the digest
rendered as an email, phone-first like the survey email."""

from __future__ import annotations

import jinja2
from sqlalchemy import Connection, and_, or_, select, update

from promoter.analytics.change import NpsChange, TooFewToCompare
from promoter.delivery.notices import Notice
from promoter.digest.keywords import KeywordMover
from promoter.digest.report import Digest, Mover
from promoter.domain.roles import Role
from promoter.storage.tables import users

#: The roles whose users take the digest unless they said no.
DEFAULT_ON = (Role.ADMIN.value, Role.MEMBER.value)


def recipients(conn: Connection, *, organization_id: int) -> list[str]:
    c = users.c
    rows = conn.execute(
        select(c.email)
        .where(
            c.organization_id == organization_id,
            or_(
                c.digest_emails.is_(True),
                and_(c.digest_emails.is_(None), c.role.in_(DEFAULT_ON)),
            ),
        )
        .order_by(c.id)
    )
    return list(rows.scalars())


def takes_digest_emails(conn: Connection, *, user_id: int) -> bool:
    row = conn.execute(
        select(users.c.digest_emails, users.c.role).where(users.c.id == user_id)
    ).one()
    return bool(row.digest_emails) if row.digest_emails is not None else row.role in DEFAULT_ON


def set_digest_emails(conn: Connection, *, user_id: int, organization_id: int, on: bool) -> None:
    conn.execute(
        update(users)
        .where(users.c.id == user_id, users.c.organization_id == organization_id)
        .values(digest_emails=on)
    )


def signed(value: float | None) -> str:
    if value is None:
        return "none"
    number = round(value)
    return f"+{number}" if number > 0 else str(number)


def change_words(change: NpsChange | TooFewToCompare | None) -> str:
    if change is None:
        return "No change to give: a week had no answers."
    if isinstance(change, TooFewToCompare):
        return (
            f"Too few answers to compare ({change.now} and {change.before}; "
            f"{change.minimum} a week needed)."
        )
    low, high = change.points - change.margin, change.points + change.margin
    verdict = "beyond chance" if change.significant else "within chance"
    return f"{signed(change.points)} points ({signed(low)} to {signed(high)}, 95%): {verdict}."


def mover_words(mover: Mover) -> str:
    change = mover.change
    low, high = change.points - change.margin, change.points + change.margin
    verdict = "beyond chance" if mover.significant else "within chance"
    return (
        f"{signed(change.points)} points ({signed(low)} to {signed(high)}, 95%; "
        f"q = {mover.q_value:.2g}): {verdict}."
    )


def keyword_words(mover: KeywordMover) -> str:
    verdict = "beyond chance" if mover.significant else "within chance"
    if mover.moved == "nps":
        told = f"NPS {signed(mover.before.nps)} -> {signed(mover.now.nps)}"
    else:
        told = (
            f"in {mover.share_before:.0f}% -> {mover.share_now:.0f}% of the comments "
            f"({mover.before.responses} -> {mover.now.responses})"
        )
    return f"{told} (q = {mover.q_value:.2g}): {verdict}."


class DigestEmails:
    def __init__(self) -> None:
        loader = jinja2.PackageLoader("promoter.digest", "templates")
        filters = {
            "signed": signed,
            "change_words": change_words,
            "mover_words": mover_words,
            "keyword_words": keyword_words,
        }
        self._html = jinja2.Environment(loader=loader, autoescape=True)
        self._text = jinja2.Environment(loader=loader, autoescape=False)
        for env in (self._html, self._text):
            env.filters.update(filters)

    def text(self, digest: Digest) -> str:
        return self._text.get_template("digest.txt").render(digest=digest)

    def notice(self, digest: Digest, *, to_address: str) -> Notice:
        week = digest.week.label
        subject = f"{digest.organization}: NPS {signed(digest.now.nps)}, week of {week}"
        return Notice(
            to_address=to_address,
            from_name="Promoter weekly digest",
            subject=subject[:300],
            text=self.text(digest),
            html=self._html.get_template("digest.html").render(digest=digest),
        )
