"""Keeping an organization's comment themes up to date, a batch at a time: new and edited
comments are embedded (``embedding.py``) and their vectors stored, each joins the nearest
theme when near enough (``theme_clusters.py``), and the comments left over are clustered
into new themes, labelled with their keywords (``keyword_text.py``). Existing themes keep
their comments: a theme's centroid follows the comments that joined it."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    update,
)

from promoter.analytics.embedding import DIMENSIONS, Embedder
from promoter.analytics.keyword_rules import Rules
from promoter.analytics.keyword_text import phrases
from promoter.analytics.keywords import groups, language_of
from promoter.analytics.theme_clusters import (
    Vectors,
    centroid_bytes,
    centroids_from_bytes,
    cluster,
    from_bytes,
    mean_direction,
    nearest,
    to_bytes,
)
from promoter.analytics.themes import ThemeError, ThemeNotFound
from promoter.storage.engine import Database
from promoter.storage.instance import claim_turn
from promoter.storage.tables import (
    comment_vectors,
    organizations,
    response_attributes,
    responses,
    themes,
)

#: Comments embedded per round and organization (about 10 s of one CPU): the rest wait
#: for the next round.
BATCH = 512
#: At most this many unassigned comments (the latest) are clustered at once: clustering
#: holds n²/2 distances.
MAX_CLUSTERED = 4000
#: Keyword phrases in a theme's label.
LABEL_PHRASES = 2
NO_RULES = Rules({}, {}, frozenset())
#: The turn (storage/instance.py) an organization's round takes, so two at once queue.
TURN = "themes_round:"
#: A process's round looks at the responses changed since its last round began, less this
#: margin (transactions still open then, other processes' clocks)...
LOOK_BACK = timedelta(minutes=10)
#: ... and this often at every response, for whatever the margin could miss.
FULL_LOOK_EVERY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Update:
    """What one round did for one organization."""

    embedded: int
    assigned: int
    created: int
    removed: int
    #: A whole batch was taken: more comments may be waiting.
    more: bool = False

    def to_json(self) -> dict[str, int]:
        return {
            "embedded": self.embedded,
            "assigned": self.assigned,
            "created": self.created,
            "removed": self.removed,
        }


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _has_comment() -> list[ColumnElement[bool]]:
    r = responses.c
    return [r.comment.is_not(None), func.length(func.trim(r.comment)) > 0]


def _to_embed() -> ColumnElement[bool]:
    """A response (outer-joined with its vector) whose comment has no vector, or was
    edited since its vector was computed."""
    r, v = responses.c, comment_vectors.c
    return and_(
        *_has_comment(),
        or_(
            v.response_id.is_(None),
            and_(r.comment_updated_at.is_not(None), r.comment_updated_at > v.embedded_at),
        ),
    )


def _to_forget() -> ColumnElement[bool]:
    """A response (outer-joined with its vector) whose comment was emptied since."""
    return and_(not_(and_(*_has_comment())), comment_vectors.c.response_id.is_not(None))


def _pending(conn: Connection, organization_id: int, limit: int) -> list[tuple[int, str, str]]:
    """Comments with no vector, or edited since theirs was computed: the oldest first."""
    r, v = responses.c, comment_vectors.c
    rows = conn.execute(
        select(r.id, r.comment, v.text_hash)
        .select_from(responses.outerjoin(comment_vectors, v.response_id == r.id))
        .where(r.organization_id == organization_id, _to_embed())
        .order_by(r.id)
        .limit(limit)
    ).all()
    return [(row[0], row[2] or "", row[1]) for row in rows]


def changed_only(pending: Sequence[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """The comments whose text is not the one embedded (a comment saved again unchanged
    keeps its vector)."""
    return [p for p in pending if p[1] != text_hash(p[2])]


def _forget_removed(conn: Connection, organization_id: int) -> int:
    """Vectors of comments since emptied go."""
    r, v = responses.c, comment_vectors.c
    emptied = select(r.id).where(
        r.organization_id == organization_id,
        or_(r.comment.is_(None), func.length(func.trim(r.comment)) == 0),
    )
    done = conn.execute(
        delete(comment_vectors).where(
            v.organization_id == organization_id, v.response_id.in_(emptied)
        )
    )
    return done.rowcount or 0


def _store(
    conn: Connection,
    organization_id: int,
    pending: Sequence[tuple[int, str, str]],
    vectors: Vectors,
    now: datetime,
) -> int:
    """The new vectors, unassigned; a comment saved again unchanged keeps its vector and
    theme. Returns how many were stored."""
    if not pending:
        return 0
    ids = [response_id for response_id, _, _ in pending]
    changed = [
        (response_id, text, blob)
        for (response_id, _, text), blob in zip(
            changed_only(pending), to_bytes(vectors), strict=True
        )
    ]
    v = comment_vectors.c
    conn.execute(update(comment_vectors).where(v.response_id.in_(ids)).values(embedded_at=now))
    if not changed:
        return 0
    gone = [response_id for response_id, _, _ in changed]
    conn.execute(delete(comment_vectors).where(v.response_id.in_(gone)))
    conn.execute(
        insert(comment_vectors),
        [
            {
                "response_id": response_id,
                "organization_id": organization_id,
                "text_hash": text_hash(text),
                "vector": blob,
                "theme_id": None,
                "embedded_at": now,
            }
            for response_id, text, blob in changed
        ],
    )
    return len(changed)


def _unassigned(conn: Connection, organization_id: int) -> tuple[list[int], np.ndarray]:
    v = comment_vectors.c
    rows = conn.execute(
        select(v.response_id, v.vector)
        .where(v.organization_id == organization_id, v.theme_id.is_(None))
        .order_by(v.response_id.desc())
        .limit(MAX_CLUSTERED)
    ).all()
    return [row[0] for row in rows], from_bytes([row[1] for row in rows], DIMENSIONS)


def _assign(conn: Connection, theme_id: int, response_ids: Sequence[int]) -> None:
    for start in range(0, len(response_ids), 500):
        conn.execute(
            update(comment_vectors)
            .where(comment_vectors.c.response_id.in_(response_ids[start : start + 500]))
            .values(theme_id=theme_id)
        )


def _join_nearest(conn: Connection, organization_id: int) -> int:
    """Unassigned comments join the nearest theme near enough; returns how many did."""
    t = themes.c
    known = conn.execute(
        select(t.id, t.centroid).where(t.organization_id == organization_id).order_by(t.id)
    ).all()
    if not known:
        return 0
    ids, vectors = _unassigned(conn, organization_id)
    centroids = centroids_from_bytes([row[1] for row in known], DIMENSIONS)
    found = nearest(vectors, centroids)
    joined = 0
    for index, row in enumerate(known):
        chosen = [ids[i] for i in np.flatnonzero(found == index)]
        if chosen:
            _assign(conn, row[0], chosen)
            joined += len(chosen)
    return joined


def _texts(conn: Connection, response_ids: Sequence[int]) -> list[tuple[str, str]]:
    """Each comment with its language (as the keywords read it)."""
    language = response_attributes.alias("language_trait")
    locale = response_attributes.alias("locale_trait")
    r = responses.c
    rows = conn.execute(
        select(r.comment, language.c.value_text, locale.c.value_text)
        .select_from(
            responses.outerjoin(
                language, and_(language.c.response_id == r.id, language.c.name == "language")
            ).outerjoin(locale, and_(locale.c.response_id == r.id, locale.c.name == "locale"))
        )
        .where(r.id.in_(response_ids))
    ).all()
    return [(row[0] or "", language_of(row[1], row[2], None)) for row in rows]


def label_of(comments: Sequence[tuple[str, str]]) -> str:
    """The theme's most used keyword phrases (as the keywords page finds them)."""
    where: dict[str, list[int]] = {}
    for i, (text, language) in enumerate(comments):
        for phrase in phrases(text, language):
            where.setdefault(phrase, []).append(i)
    counted = Counter(
        {
            name: len({i for p in found for i in where[p]})
            for name, found in groups(where, NO_RULES).items()
        }
    )
    ranked = sorted(counted.items(), key=lambda p: (-p[1], -len(p[0].split()), p[0]))
    chosen: list[str] = []
    for name, _ in ranked:
        if not any(name in c or c in name for c in chosen):
            chosen.append(name)
        if len(chosen) == LABEL_PHRASES:
            break
    return " · ".join(chosen)[:200] or "(no keyword)"


def _create_themes(conn: Connection, organization_id: int, now: datetime) -> int:
    """Clusters of the unassigned comments become themes; returns how many."""
    ids, vectors = _unassigned(conn, organization_id)
    found = cluster(vectors)
    created = 0
    for number in range(int(found.max(initial=-1)) + 1):
        members = np.flatnonzero(found == number)
        chosen = [ids[i] for i in members]
        theme_id = conn.execute(
            insert(themes)
            .values(
                organization_id=organization_id,
                label=label_of(_texts(conn, chosen)),
                centroid=centroid_bytes(mean_direction(vectors[members])),
                size=len(chosen),
                created_at=now,
                updated_at=now,
            )
            .returning(themes.c.id)
        ).scalar_one()
        _assign(conn, theme_id, chosen)
        created += 1
    return created


def _refresh_centroids(conn: Connection, organization_id: int, now: datetime) -> None:
    """Each theme's centroid and size from the comments in it now."""
    t, v = themes.c, comment_vectors.c
    for (theme_id,) in conn.execute(select(t.id).where(t.organization_id == organization_id)):
        blobs = conn.scalars(select(v.vector).where(v.theme_id == theme_id)).all()
        values: dict[str, object] = {"size": len(blobs), "updated_at": now}
        if blobs:
            values["centroid"] = centroid_bytes(mean_direction(from_bytes(blobs, DIMENSIONS)))
        conn.execute(update(themes).where(t.id == theme_id).values(**values))


def update_themes(
    database: Database,
    *,
    organization_id: int,
    embedder: Embedder,
    now: datetime,
    batch: int = BATCH,
    recluster: bool = True,
) -> Update:
    """One round for one organization: embed up to ``batch`` new or edited comments (read
    in one transaction, embedded outside any, so writers never wait for the model), then
    in one write transaction store them, let every unassigned comment join its nearest
    theme and (``recluster``) make themes of the comments still left. Two rounds for one
    organization at once (two processes) take turns, the second finding the first's work
    done."""
    with database.read() as conn:
        pending = _pending(conn, organization_id, batch)
    vectors = embedder.embed([text for _, _, text in changed_only(pending)])
    with database.write() as conn:
        claim_turn(conn, key=f"{TURN}{organization_id}", now=now, every=timedelta(0))
        removed = _forget_removed(conn, organization_id)
        stored = _store(conn, organization_id, pending, vectors, now)
        assigned = _join_nearest(conn, organization_id)
        created = _create_themes(conn, organization_id, now) if recluster else 0
        if stored or assigned or created or removed:
            _refresh_centroids(conn, organization_id, now)
    return Update(stored, assigned, created, removed, more=len(pending) >= batch)


@dataclass(slots=True)
class Rounds:
    """What a process's rounds remember from one to the next, so that a round reads the
    responses changed since the last (``ix_responses_org_updated``), not every response
    of every organization each minute."""

    #: Responses changed at or after this are looked at (none: look at every response).
    since: datetime | None = None
    #: When a round last looked at every response.
    full_at: datetime | None = None
    #: Organizations whose last round took a whole batch: more may be waiting.
    behind: set[int] = field(default_factory=set)

    def look_since(self, now: datetime) -> datetime | None:
        """Responses changed at or after this are looked at by a round at ``now``; None:
        every response (the first round, and once every FULL_LOOK_EVERY)."""
        if self.full_at is None or now - self.full_at >= FULL_LOOK_EVERY:
            return None
        return self.since

    def ended(self, now: datetime, behind: set[int], *, full: bool) -> None:
        """Remember a round that began at ``now``."""
        self.since, self.behind = now - LOOK_BACK, behind
        if full:
            self.full_at = now


def update_all(
    database: Database,
    *,
    embedder: Embedder,
    now: datetime,
    rounds: Rounds | None = None,
    batch: int = BATCH,
) -> int:
    """A round for every organization with a comment not yet embedded (or edited, or
    emptied): how many comments were embedded. With ``rounds`` (a process's memory of
    its earlier rounds), only the responses changed since the last round are looked at,
    and every response once every FULL_LOOK_EVERY."""
    since = None if rounds is None else rounds.look_since(now)
    earlier = set() if rounds is None else rounds.behind
    with database.read() as conn:
        waiting = _waiting(conn) if since is None else _waiting_since(conn, since) | earlier
    embedded = 0
    behind: set[int] = set()
    for organization_id in sorted(waiting):
        done = update_themes(
            database, organization_id=organization_id, embedder=embedder, now=now, batch=batch
        )
        embedded += done.embedded
        if done.more:
            behind.add(organization_id)
    if rounds is not None:
        rounds.ended(now, behind, full=since is None)
    return embedded


def _waiting(conn: Connection) -> set[int]:
    """Organizations with a comment to embed or to forget, looking at every response."""
    r, v = responses.c, comment_vectors.c
    waiting = conn.scalars(
        select(r.organization_id)
        .select_from(responses.outerjoin(comment_vectors, v.response_id == r.id))
        .where(_to_embed())
        .distinct()
    ).all()
    emptied = conn.scalars(
        select(v.organization_id)
        .select_from(comment_vectors.join(responses, r.id == v.response_id))
        .where(not_(and_(*_has_comment())))
        .distinct()
    ).all()
    return set(waiting) | set(emptied)


def _waiting_since(conn: Connection, since: datetime) -> set[int]:
    """Organizations with a response changed at or after ``since`` whose comment is to
    embed or to forget: a range of ``ix_responses_org_updated`` per organization."""
    r, v = responses.c, comment_vectors.c
    found: set[int] = set()
    for organization_id in conn.scalars(select(organizations.c.id)):
        hit = conn.execute(
            select(literal(1))
            .select_from(responses.outerjoin(comment_vectors, v.response_id == r.id))
            .where(
                r.organization_id == organization_id,
                r.updated_at >= since,
                or_(_to_embed(), _to_forget()),
            )
            .limit(1)
        ).first()
        if hit is not None:
            found.add(organization_id)
    return found


def merge_theme(
    conn: Connection, *, organization_id: int, theme_id: int, into: int, now: datetime
) -> None:
    """Theme ``theme_id``'s comments go to theme ``into`` (its name, label and visibility
    stay), and the first theme is deleted; the centroid of ``into`` follows its comments."""
    t = themes.c
    found = set(
        conn.scalars(
            select(t.id).where(t.organization_id == organization_id, t.id.in_([theme_id, into]))
        )
    )
    if theme_id not in found:
        raise ThemeNotFound("no such theme")
    if theme_id == into:
        raise ThemeError("into: a theme cannot be merged into itself")
    if into not in found:
        raise ThemeError("into: no such theme")
    v = comment_vectors.c
    conn.execute(update(comment_vectors).where(v.theme_id == theme_id).values(theme_id=into))
    conn.execute(delete(themes).where(t.id == theme_id))
    _refresh_centroids(conn, organization_id, now)
