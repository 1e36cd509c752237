"""Sign-in sessions, kept in the database.

The browser holds a random token; the database holds only its SHA-256, the user, a
CSRF token for the session's forms and an expiry. Signing in always makes a new
session (no fixation); signing out deletes it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select

from promoter.accounts.users import User, get_user
from promoter.storage.tables import user_sessions

LIFETIME = timedelta(days=14)


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    csrf_token: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def start_session(conn: Connection, *, user_id: int, now: datetime) -> str:
    """A new session for the user; returns the cookie value (shown to nobody else)."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(user_sessions).values(
            id=_digest(token),
            user_id=user_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    return token


def find_session(conn: Connection, *, token: str, now: datetime) -> Session | None:
    if not token or len(token) > 200:
        return None
    row = conn.execute(
        select(
            user_sessions.c.user_id, user_sessions.c.csrf_token, user_sessions.c.expires_at
        ).where(user_sessions.c.id == _digest(token))
    ).first()
    if row is None or row.expires_at <= now:
        return None
    user = get_user(conn, user_id=row.user_id)
    if user is None:
        return None
    return Session(user=user, csrf_token=row.csrf_token, expires_at=row.expires_at)


def end_session(conn: Connection, *, token: str) -> None:
    conn.execute(delete(user_sessions).where(user_sessions.c.id == _digest(token)))


def end_user_sessions(conn: Connection, *, user_id: int) -> int:
    return conn.execute(delete(user_sessions).where(user_sessions.c.user_id == user_id)).rowcount


def purge_expired(conn: Connection, *, now: datetime) -> int:
    return conn.execute(delete(user_sessions).where(user_sessions.c.expires_at <= now)).rowcount
