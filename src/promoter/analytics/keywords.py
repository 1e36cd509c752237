"""Comment keywords: the phrases the comments of a window use (``keyword_text.py``), each
with the number of comments that use it, their NPS with its interval, its change against
the window before (``change.py``) and a weekly trend; the organization's rules
(``keyword_rules.py``) hide, rename and merge them.

The statistic: a keyword's count is the number of comments that contain it; a phrase found
in fewer than ``MIN_COMMENTS`` comments is left out, and so is a phrase found only where a
longer phrase containing it is (it is that phrase's part: "customer" when every comment
saying it says "customer support")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, func, select

from promoter.analytics.change import NpsChange, TooFewToCompare, nps_change
from promoter.analytics.keyword_rules import Rules
from promoter.analytics.keyword_text import FALLBACK, PhraseCache, parts
from promoter.analytics.query import Scope, Window, matching
from promoter.domain.languages import choose_language
from promoter.domain.nps import DETRACTOR_MAX, PROMOTER_MIN, NpsSummary
from promoter.storage.tables import campaigns, email_templates, response_attributes, responses

#: A phrase is a keyword when at least this many comments use it.
MIN_COMMENTS = 2
#: A keyword's NPS is given from this many comments on ("not enough answers" below it):
#: under 10 its 95% interval is wider than about ±50 points.
MIN_NPS = 10
DEFAULT_TOP = 30
MAX_TOP = 200


class KeywordsError(ValueError):
    """A keywords question that cannot be answered as asked (a 400)."""


@dataclass(frozen=True, slots=True)
class Said:
    """One comment: its response, score, week (its Monday, local) and phrases."""

    response_id: int
    score: int
    week: date
    phrases: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Week:
    start: date
    summary: NpsSummary

    def to_json(self) -> dict[str, object]:
        enough = self.summary.responses >= MIN_NPS
        return {
            "week": self.start.isoformat(),
            "comments": self.summary.responses,
            "nps": self.summary.nps if enough else None,
        }


class Counted:
    """What a keyword and a theme share: a group of comments with its NPS (``summary``),
    the window before's, the change between them and the weekly trend."""

    __slots__ = ()
    summary: NpsSummary
    before: NpsSummary
    change: NpsChange | TooFewToCompare | None
    weeks: list[Week]

    @property
    def enough(self) -> bool:
        return self.summary.responses >= MIN_NPS

    @property
    def compared(self) -> NpsChange | None:
        """The change, when both windows had enough comments to give one."""
        return self.change if isinstance(self.change, NpsChange) else None

    def counted_json(self) -> dict[str, object]:
        """The group as the API gives it: its count, NPS (null under MIN_NPS comments),
        the window before, the change and the weekly trend."""
        shown = self.summary.to_json()
        if not self.enough:
            shown |= {"nps": None, "margin_of_error": None, "confidence_interval": None}
        return {
            "comments": self.summary.responses,
            "enough": self.enough,
            **shown,
            "before": {"comments": self.before.responses, "nps": self.before.nps},
            "change": change_json(self.change),
            "weeks": [w.to_json() for w in self.weeks],
        }


@dataclass(frozen=True, slots=True)
class Keyword(Counted):
    """A keyword (or the group rules made of several): ``phrases``, those counted in it."""

    name: str
    phrases: tuple[str, ...]
    summary: NpsSummary
    before: NpsSummary
    change: NpsChange | TooFewToCompare | None
    weeks: list[Week]

    def to_json(self) -> dict[str, object]:
        return {"keyword": self.name, "phrases": list(self.phrases), **self.counted_json()}


def change_json(change: NpsChange | TooFewToCompare | None) -> dict[str, object] | None:
    if change is None:
        return None
    if isinstance(change, TooFewToCompare):
        return {"points": None, "margin": None, "significant": None, "too_few": True}
    return {
        "points": change.points,
        "margin": change.margin,
        "significant": change.significant,
        "too_few": False,
    }


@dataclass(frozen=True, slots=True)
class Keywords:
    window: Window
    before: Window
    comments: int
    keywords: list[Keyword]
    #: Keywords with enough comments beyond ``top``.
    more: int = 0
    #: Matching responses with a comment in the window before.
    comments_before: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "window": self.window.to_json(),
            "previous": {"window": self.before.to_json(), "comments": self.comments_before},
            "comments": self.comments,
            "keywords": [k.to_json() for k in self.keywords],
            "more": self.more,
            "min_comments": MIN_COMMENTS,
            "min_nps": MIN_NPS,
        }


@lru_cache(maxsize=4096)
def language_of(language: str | None, locale: str | None, template: str | None) -> str:
    """The response's language: its ``language`` trait, else its ``locale`` trait, else
    its campaign's email language (as surveys choose it), else English."""
    chosen = choose_language(template, FALLBACK)
    for trait in (locale, language):
        chosen = choose_language(trait, chosen)
    return chosen


def read_comments(conn: Connection, scope: Scope, cache: PhraseCache, zone: ZoneInfo) -> list[Said]:
    """The matching responses with a comment, their phrases from ``cache``: one read."""
    found = matching(scope, "campaign_id")
    language = response_attributes.alias("language_trait")
    locale = response_attributes.alias("locale_trait")
    r = responses.c
    joined = (
        found.join(responses, r.id == found.c.id)
        .outerjoin(
            language, and_(language.c.response_id == found.c.id, language.c.name == "language")
        )
        .outerjoin(locale, and_(locale.c.response_id == found.c.id, locale.c.name == "locale"))
        .outerjoin(campaigns, campaigns.c.id == found.c.campaign_id)
        .outerjoin(email_templates, email_templates.c.id == campaigns.c.email_template_id)
    )
    rows = conn.execute(
        select(
            found.c.id,
            found.c.score,
            found.c.created_at,
            r.comment,
            language.c.value_text,
            locale.c.value_text,
            email_templates.c.language,
        )
        .select_from(joined)
        .where(r.comment.is_not(None), func.length(func.trim(r.comment)) > 0)
    ).all()
    return [
        Said(
            row[0],
            row[1],
            monday(row[2], zone),
            cache.phrases(row[0], row[3], language_of(*row[4:])),
        )
        for row in rows
    ]


def summary_of(said: Sequence[Said], indexes: Iterable[int]) -> NpsSummary:
    total = promoters = detractors = 0
    for i in indexes:
        score = said[i].score
        total += 1
        promoters += score >= PROMOTER_MIN
        detractors += score <= DETRACTOR_MAX
    return NpsSummary.of(total, promoters, detractors)


def _where(said: Sequence[Said]) -> dict[str, list[int]]:
    """Each phrase's comments, by their index."""
    found: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(said):
        for phrase in s.phrases:
            found[phrase].append(i)
    return found


def groups(where: dict[str, list[int]], rules: Rules) -> dict[str, list[str]]:
    """The phrases counted in each group, by the group's name: phrases in fewer than
    MIN_COMMENTS comments, parts of a longer kept phrase found in the same comments, and
    hidden phrases are left out; names differing only in case are one group."""
    subsumed: set[str] = set()
    for phrase, found in where.items():
        if " " in phrase and len(found) >= MIN_COMMENTS and rules.shown(phrase) is not None:
            subsumed.update(p for p in parts(phrase) if len(where.get(p, ())) == len(found))
    named: dict[str, list[str]] = defaultdict(list)
    for phrase in where:
        name = None if phrase in subsumed else rules.shown(phrase)
        if name is not None:
            named[name.lower()].append(phrase)
    return named


def _display(key: str, phrases: list[str], rules: Rules) -> str:
    names = sorted({n for p in phrases if (n := rules.shown(p)) is not None and n != key})
    return names[0] if names else key


def _weeks(said: Sequence[Said], indexes: list[int], weeks: list[date]) -> list[Week]:
    by_week: dict[date, list[int]] = defaultdict(list)
    for i in indexes:
        by_week[said[i].week].append(i)
    return [Week(start, summary_of(said, by_week.get(start, []))) for start in weeks]


def monday(at: datetime, zone: ZoneInfo) -> date:
    """The Monday (local) of the week of ``at``."""
    day = at.astimezone(zone).date()
    return day - timedelta(days=day.weekday())


def week_starts(window: Window, zone: ZoneInfo) -> list[date]:
    """The Mondays (local) of the weeks the window touches."""
    start = monday(window.since, zone)
    last = (window.until - timedelta(microseconds=1)).astimezone(zone).date()
    found = []
    while start <= last:
        found.append(start)
        start += timedelta(days=7)
    return found


def previous(scope: Scope) -> Scope:
    """The same question over the window of equal length just before."""
    length = scope.window.until - scope.window.since
    return replace(scope, window=Window(scope.window.since - length, scope.window.since))


def keywords(
    conn: Connection,
    scope: Scope,
    *,
    rules: Rules,
    cache: PhraseCache,
    zone: ZoneInfo,
    top: int = DEFAULT_TOP,
    vanished: bool = False,
) -> Keywords:
    """The ``top`` keywords of the scope's comments, the most used first; with
    ``vanished``, also those in MIN_COMMENTS comments of the window before only."""
    if not 1 <= top <= MAX_TOP:
        raise KeywordsError(f"top is from 1 to {MAX_TOP}")
    before_scope = previous(scope)
    said = read_comments(conn, scope, cache, zone)
    said_before = read_comments(conn, before_scope, cache, zone)
    where, where_before = _where(said), _where(said_before)
    named = groups(_where([*said, *said_before]) if vanished else where, rules)
    weeks = week_starts(scope.window, zone)
    found: list[Keyword] = []
    for key, phrases in named.items():
        indexes = sorted({i for p in phrases for i in where.get(p, ())})
        earlier = {i for p in phrases for i in where_before.get(p, ())}
        if len(indexes) < MIN_COMMENTS and not (vanished and len(earlier) >= MIN_COMMENTS):
            continue
        summary, before = summary_of(said, indexes), summary_of(said_before, earlier)
        found.append(
            Keyword(
                _display(key, phrases, rules),
                tuple(sorted(phrases)),
                summary,
                before,
                nps_change(summary, before),
                _weeks(said, indexes, weeks),
            )
        )
    found.sort(key=lambda k: (-k.summary.responses, k.name))
    more = max(0, len(found) - top)
    return Keywords(
        scope.window, before_scope.window, len(said), found[:top], more, len(said_before)
    )
