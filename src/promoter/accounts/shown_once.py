"""What a dashboard page shows once (a new API key, a signing secret, an invitation's
link), kept in the database between the form that made it and the page it redirects to.

Any server process may answer the redirect, so it cannot wait in one process's memory.
The row is found by an HMAC of the page under the session's cookie value, and its content
is encrypted (AES-256-GCM) with another key derived from that value. The database holds
only the cookie's SHA-256 (``user_sessions.id``), so neither whose row it is nor what it
says can be read from the database alone. The first view takes (deletes) it; what is not
taken within KEEP goes at the next housekeeping round.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, delete, select

from promoter.storage.dialect import insert_for
from promoter.storage.tables import shown_once

#: How long a secret waits for its page: the redirect follows at once.
KEEP = timedelta(seconds=300)
_NONCE_BYTES = 12


def _derived(session_token: str, purpose: bytes) -> bytes:
    return hmac.new(session_token.encode("utf-8", "replace"), purpose, hashlib.sha256).digest()


def _row_id(session_token: str, page: str) -> str:
    return _derived(session_token, b"shown-once row\0" + page.encode()).hex()


def _cipher(session_token: str) -> AESGCM:
    return AESGCM(_derived(session_token, b"shown-once key"))


def keep(
    conn: Connection, *, session_token: str, page: str, context: dict[str, Any], now: datetime
) -> None:
    """Keep ``context`` (JSON values) for the next view of ``page`` in this session,
    replacing what was waiting there."""
    row_id = _row_id(session_token, page)
    nonce = os.urandom(_NONCE_BYTES)
    sealed = nonce + _cipher(session_token).encrypt(
        nonce, json.dumps(context).encode(), row_id.encode()
    )
    values = {"sealed": sealed, "expires_at": now + KEEP}
    conn.execute(
        insert_for(conn, shown_once)
        .values(id=row_id, **values)
        .on_conflict_do_update(index_elements=["id"], set_=values)
    )


def waiting(conn: Connection, *, session_token: str, page: str, now: datetime) -> bool:
    """Whether something waits for ``page`` in this session (a read: no writer's turn)."""
    found = conn.execute(
        select(shown_once.c.expires_at).where(shown_once.c.id == _row_id(session_token, page))
    ).first()
    return found is not None and found.expires_at > now


def take(conn: Connection, *, session_token: str, page: str, now: datetime) -> dict[str, Any]:
    """What was kept for ``page`` in this session, once (it is deleted); else an empty
    dict. Of two views at the same moment, one gets it."""
    row_id = _row_id(session_token, page)
    found = conn.execute(
        delete(shown_once)
        .where(shown_once.c.id == row_id)
        .returning(shown_once.c.sealed, shown_once.c.expires_at)
    ).first()
    if found is None or found.expires_at <= now:
        return {}
    sealed = bytes(found.sealed)
    try:
        plain = _cipher(session_token).decrypt(
            sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], row_id.encode()
        )
    except InvalidTag:  # not sealed under this session: nothing to show
        return {}
    context: dict[str, Any] = json.loads(plain)
    return context


def purge_expired(conn: Connection, *, now: datetime) -> int:
    """Forget what waited past KEEP without being shown."""
    return conn.execute(delete(shown_once).where(shown_once.c.expires_at <= now)).rowcount
