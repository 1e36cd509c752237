"""Comment themes as asked: the themes of the matching comments (``theme_store.py`` keeps
them), each with its number of comments, their NPS with its interval, its change against
the window before (``change.py``) and a weekly trend, as keywords have (``keywords.py``);
one theme's comments; renaming and hiding a theme."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select, update

from promoter.analytics.change import NpsChange, TooFewToCompare, nps_change
from promoter.analytics.keyword_text import PhraseCache
from promoter.analytics.keywords import (
    MIN_NPS,
    Counted,
    Said,
    Week,
    previous,
    read_comments,
    summary_of,
    week_starts,
)
from promoter.analytics.query import Scope, Window
from promoter.domain.nps import NpsSummary
from promoter.storage.tables import comment_vectors, responses, themes

MAX_NAME = 200
#: Comments listed with one theme, the latest first.
DEFAULT_COMMENTS = 50
MAX_COMMENTS = 500


class ThemeError(ValueError):
    """A themes question or change that cannot be done as asked (a 400)."""


class ThemeNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class Theme(Counted):
    id: int
    label: str
    name: str | None
    hidden: bool
    #: Comments in the theme, whatever their date (the clustering's).
    size: int
    summary: NpsSummary
    before: NpsSummary
    change: NpsChange | TooFewToCompare | None
    weeks: list[Week]

    @property
    def shown(self) -> str:
        return self.name or self.label

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "theme": self.shown,
            "label": self.label,
            "name": self.name,
            "hidden": self.hidden,
            "size": self.size,
            **self.counted_json(),
        }


@dataclass(frozen=True, slots=True)
class Comment:
    response_id: int
    score: int
    comment: str
    created_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "response_id": self.response_id,
            "score": self.score,
            "comment": self.comment,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class Themes:
    window: Window
    before: Window
    comments: int
    #: Matching comments in no theme yet (not yet embedded, or in no cluster).
    unthemed: int
    themes: list[Theme]
    comments_before: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "window": self.window.to_json(),
            "previous": {"window": self.before.to_json(), "comments": self.comments_before},
            "comments": self.comments,
            "unthemed": self.unthemed,
            "themes": [t.to_json() for t in self.themes],
            "min_nps": MIN_NPS,
        }


@dataclass(frozen=True, slots=True)
class Stored:
    id: int
    label: str
    name: str | None
    hidden: bool
    size: int

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "theme": self.name or self.label,
            "label": self.label,
            "name": self.name,
            "hidden": self.hidden,
            "size": self.size,
        }


def stored_themes(conn: Connection, *, organization_id: int) -> dict[int, Stored]:
    t = themes.c
    rows = conn.execute(
        select(t.id, t.label, t.name, t.hidden, t.size)
        .where(t.organization_id == organization_id)
        .order_by(t.id)
    ).all()
    return {r.id: Stored(r.id, r.label, r.name, bool(r.hidden), r.size) for r in rows}


def _theme_of(conn: Connection, organization_id: int) -> dict[int, int]:
    v = comment_vectors.c
    rows = conn.execute(
        select(v.response_id, v.theme_id).where(
            v.organization_id == organization_id, v.theme_id.is_not(None)
        )
    ).all()
    return {row[0]: row[1] for row in rows}


def _by_theme(said: list[Said], theme_of: dict[int, int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    for i, s in enumerate(said):
        theme_id = theme_of.get(s.response_id)
        if theme_id is not None:
            found[theme_id].append(i)
    return found


def _weeks(said: list[Said], indexes: list[int], starts: list[date]) -> list[Week]:
    by_week: dict[date, list[int]] = defaultdict(list)
    for i in indexes:
        by_week[said[i].week].append(i)
    return [Week(start, summary_of(said, by_week.get(start, []))) for start in starts]


def themes_report(
    conn: Connection,
    scope: Scope,
    *,
    cache: PhraseCache,
    zone: ZoneInfo,
    hidden: bool = False,
    only: int | None = None,
) -> Themes:
    """The themes of the scope's comments, the most commented first (themes with no
    matching comment are left out); ``hidden`` includes the hidden ones; ``only`` that
    theme alone (shown even when no comment matches)."""
    organization_id = scope.query.organization_id
    stored = stored_themes(conn, organization_id=organization_id)
    before_scope = previous(scope)
    said = read_comments(conn, scope, cache, zone)
    said_before = read_comments(conn, before_scope, cache, zone)
    theme_of = _theme_of(conn, organization_id)
    now, earlier = _by_theme(said, theme_of), _by_theme(said_before, theme_of)
    starts = week_starts(scope.window, zone)
    found: list[Theme] = []
    for theme_id, theme in stored.items():
        if only is not None and theme_id != only:
            continue
        if only is None and ((theme.hidden and not hidden) or theme_id not in now):
            continue
        indexes = now.get(theme_id, [])
        summary, before = (
            summary_of(said, indexes),
            summary_of(said_before, earlier.get(theme_id, [])),
        )
        found.append(
            Theme(
                theme_id,
                theme.label,
                theme.name,
                theme.hidden,
                theme.size,
                summary,
                before,
                nps_change(summary, before),
                _weeks(said, indexes, starts),
            )
        )
    found.sort(key=lambda t: (-t.summary.responses, t.shown.lower(), t.id))
    themed = sum(len(v) for v in now.values())
    return Themes(
        scope.window, before_scope.window, len(said), len(said) - themed, found, len(said_before)
    )


def theme_comments(
    conn: Connection,
    scope: Scope,
    *,
    theme_id: int,
    cache: PhraseCache,
    zone: ZoneInfo,
    limit: int = DEFAULT_COMMENTS,
) -> tuple[Theme, list[Comment]]:
    """One theme of the organization with its matching comments, the latest first."""
    if not 1 <= limit <= MAX_COMMENTS:
        raise ThemeError(f"limit is from 1 to {MAX_COMMENTS}")
    report = themes_report(conn, scope, cache=cache, zone=zone, only=theme_id)
    if not report.themes:
        raise ThemeNotFound("no such theme")
    said = read_comments(conn, scope, cache, zone)
    v, r = comment_vectors.c, responses.c
    ids = [s.response_id for s in said]
    in_theme = set(
        conn.scalars(
            select(v.response_id).where(
                v.organization_id == scope.query.organization_id, v.theme_id == theme_id
            )
        )
    )
    chosen = [i for i in ids if i in in_theme]
    rows = (
        conn.execute(
            select(r.id, r.score, r.comment, r.created_at)
            .where(r.id.in_(chosen))
            .order_by(r.created_at.desc(), r.id.desc())
            .limit(limit)
        ).all()
        if chosen
        else []
    )
    return report.themes[0], [Comment(row[0], row[1], row[2] or "", row[3]) for row in rows]


def change_theme(
    conn: Connection,
    *,
    organization_id: int,
    theme_id: int,
    name: str | None = None,
    rename: bool = False,
    hidden: bool | None = None,
) -> Stored:
    """Rename the theme (``rename``: ``name``, None or blank for its label again) and/or
    hide or show it."""
    values: dict[str, object] = {}
    if rename:
        if name is not None and (len(name) > MAX_NAME or "\x00" in name):
            raise ThemeError(f"name: at most {MAX_NAME} characters")
        cleaned = " ".join(name.split()) if name is not None else ""
        values["name"] = cleaned or None
    if hidden is not None:
        values["hidden"] = hidden
    t = themes.c
    where = (t.organization_id == organization_id, t.id == theme_id)
    if values:
        conn.execute(update(themes).where(*where).values(**values))
    found = stored_themes(conn, organization_id=organization_id).get(theme_id)
    if found is None:
        raise ThemeNotFound("no such theme")
    return found
