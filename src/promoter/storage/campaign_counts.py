"""Counts of each campaign's surveys and responses per channel and UTC day, kept by the
database itself: triggers on ``surveys`` and ``responses`` add a row of changes
(``campaign_day_counts``) in the transaction of every write, cascades and erasures included,
so a count never disagrees with the rows it counts. The campaigns page and the overview's
delivery counts sum these rows instead of reading every survey and response.

A write only ever inserts (a survey sent adds ``sent = 1``; its erasure, ``sent = -1``), so
concurrent writers on PostgreSQL never wait for one another; ``compact`` merges each key's
rows into one from time to time (the server's ten-minute housekeeping round).

What a row of ``surveys`` adds, under the day it was sent (created, if never sent):

- ``sent``: sent (``sent_at`` set); ``answered``: sent and answered;
- ``shown``: shown in the app (``shown_at`` set, or sent on the web channel);
  ``dismissed``: shown and dismissed there.

A row of ``responses`` adds ``responses``, ``promoters`` and ``detractors`` under the day it
was given.

A migration that recreates ``surveys`` or ``responses`` on SQLite (a batch ALTER) drops
their triggers: it must create them again (``sqlite_triggers``).
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, insert, select, tuple_

from promoter.domain.nps import DETRACTOR_MAX, PROMOTER_MIN
from promoter.storage.tables import campaign_day_counts

KEY = ("organization_id", "campaign_id", "channel", "day")
SURVEY_COUNTS = ("sent", "answered", "shown", "dismissed")
RESPONSE_COUNTS = ("responses", "promoters", "detractors")
COUNTS = SURVEY_COUNTS + RESPONSE_COUNTS
PG_FUNCTIONS = ("surveys_campaign_counts", "responses_campaign_counts")
#: The columns whose change can change what a row adds.
SURVEY_COLUMNS = (
    "organization_id, campaign_id, channel, created_at, sent_at, status, shown_at, dismissed_at"
)
RESPONSE_COLUMNS = "organization_id, campaign_id, channel, created_at, score"


def _flag(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


def _survey_values(row: str, sign: str, day: str) -> list[str]:
    """The key and the counts a survey ``row`` (``new`` or ``old``) adds, times ``sign``."""
    shown = f"({row}.shown_at IS NOT NULL OR ({row}.channel = 'web' AND {row}.sent_at IS NOT NULL))"
    counts = [
        _flag(f"{row}.sent_at IS NOT NULL"),
        _flag(f"{row}.sent_at IS NOT NULL AND {row}.status = 'answered'"),
        _flag(shown),
        _flag(f"{shown} AND {row}.dismissed_at IS NOT NULL"),
        "0",
        "0",
        "0",
    ]
    key = [f"{row}.organization_id", f"{row}.campaign_id", f"{row}.channel", day]
    return key + [f"{sign}{count}" for count in counts]


def _response_values(row: str, sign: str, day: str) -> list[str]:
    counts = [
        "0",
        "0",
        "0",
        "0",
        "1",
        _flag(f"{row}.score >= {PROMOTER_MIN}"),
        _flag(f"{row}.score <= {DETRACTOR_MAX}"),
    ]
    key = [f"{row}.organization_id", f"{row}.campaign_id", f"{row}.channel", day]
    return key + [f"{sign}{count}" for count in counts]


def _survey_counts(row: str) -> str:
    """The survey ``row`` counts at all (sent or shown)."""
    return f"({row}.sent_at IS NOT NULL OR {row}.shown_at IS NOT NULL)"


_INSERT = f"INSERT INTO campaign_day_counts ({', '.join(KEY + COUNTS)})"


def _coalesce(row: str, times: tuple[str, ...]) -> str:
    named = [f"{row}.{t}" for t in times]
    return named[0] if len(named) == 1 else f"coalesce({', '.join(named)})"


def _sqlite_day(row: str, *times: str) -> str:
    return f"date({_coalesce(row, times)})"


def sqlite_triggers() -> dict[str, str]:
    """The SQLite triggers, by name."""

    def survey(row: str, sign: str) -> str:
        return ", ".join(_survey_values(row, sign, _sqlite_day(row, "sent_at", "created_at")))

    def response(row: str, sign: str) -> str:
        return ", ".join(_response_values(row, sign, _sqlite_day(row, "created_at")))

    return {
        "surveys_campaign_counts_insert": (
            "CREATE TRIGGER surveys_campaign_counts_insert AFTER INSERT ON surveys "
            f"WHEN {_survey_counts('new')} BEGIN {_INSERT} VALUES ({survey('new', '')}); END"
        ),
        "surveys_campaign_counts_update": (
            "CREATE TRIGGER surveys_campaign_counts_update "
            f"AFTER UPDATE OF {SURVEY_COLUMNS} ON surveys "
            f"WHEN {_survey_counts('old')} OR {_survey_counts('new')} BEGIN "
            f"{_INSERT} SELECT {survey('old', '-')} WHERE {_survey_counts('old')}; "
            f"{_INSERT} SELECT {survey('new', '')} WHERE {_survey_counts('new')}; END"
        ),
        "surveys_campaign_counts_delete": (
            "CREATE TRIGGER surveys_campaign_counts_delete AFTER DELETE ON surveys "
            f"WHEN {_survey_counts('old')} BEGIN {_INSERT} VALUES ({survey('old', '-')}); END"
        ),
        "responses_campaign_counts_insert": (
            "CREATE TRIGGER responses_campaign_counts_insert AFTER INSERT ON responses "
            f"BEGIN {_INSERT} VALUES ({response('new', '')}); END"
        ),
        "responses_campaign_counts_update": (
            "CREATE TRIGGER responses_campaign_counts_update "
            f"AFTER UPDATE OF {RESPONSE_COLUMNS} ON responses BEGIN "
            f"{_INSERT} VALUES ({response('old', '-')}); "
            f"{_INSERT} VALUES ({response('new', '')}); END"
        ),
        "responses_campaign_counts_delete": (
            "CREATE TRIGGER responses_campaign_counts_delete AFTER DELETE ON responses "
            f"BEGIN {_INSERT} VALUES ({response('old', '-')}); END"
        ),
    }


def _pg_day(row: str, *times: str) -> str:
    return f"CAST({_coalesce(row, times)} AS date)"


def postgresql_statements() -> list[str]:
    """The PostgreSQL functions and their triggers."""

    def survey(row: str, sign: str) -> str:
        return ", ".join(_survey_values(row, sign, _pg_day(row, "sent_at", "created_at")))

    def response(row: str, sign: str) -> str:
        return ", ".join(_response_values(row, sign, _pg_day(row, "created_at")))

    surveys_body = (
        "BEGIN "
        f"IF TG_OP <> 'INSERT' AND {_survey_counts('OLD')} THEN "
        f"{_INSERT} VALUES ({survey('OLD', '-')}); END IF; "
        f"IF TG_OP <> 'DELETE' AND {_survey_counts('NEW')} THEN "
        f"{_INSERT} VALUES ({survey('NEW', '')}); END IF; "
        "RETURN NULL; END"
    )
    responses_body = (
        "BEGIN "
        f"IF TG_OP <> 'INSERT' THEN {_INSERT} VALUES ({response('OLD', '-')}); END IF; "
        f"IF TG_OP <> 'DELETE' THEN {_INSERT} VALUES ({response('NEW', '')}); END IF; "
        "RETURN NULL; END"
    )
    surveys_when = f"{_survey_counts('OLD')} OR {_survey_counts('NEW')}"
    return [
        "CREATE FUNCTION surveys_campaign_counts() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ {surveys_body} $$",
        "CREATE FUNCTION responses_campaign_counts() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ {responses_body} $$",
        "CREATE TRIGGER surveys_campaign_counts_insert AFTER INSERT ON surveys FOR EACH ROW "
        f"WHEN ({_survey_counts('NEW')}) EXECUTE FUNCTION surveys_campaign_counts()",
        f"CREATE TRIGGER surveys_campaign_counts_update AFTER UPDATE OF {SURVEY_COLUMNS} "
        f"ON surveys FOR EACH ROW WHEN ({surveys_when}) "
        "EXECUTE FUNCTION surveys_campaign_counts()",
        "CREATE TRIGGER surveys_campaign_counts_delete AFTER DELETE ON surveys FOR EACH ROW "
        f"WHEN ({_survey_counts('OLD')}) EXECUTE FUNCTION surveys_campaign_counts()",
        "CREATE TRIGGER responses_campaign_counts AFTER INSERT OR DELETE OR UPDATE OF "
        f"{RESPONSE_COLUMNS} ON responses FOR EACH ROW "
        "EXECUTE FUNCTION responses_campaign_counts()",
    ]


def postgresql_drops() -> list[str]:
    return [f"DROP FUNCTION IF EXISTS {name}() CASCADE" for name in PG_FUNCTIONS]


def backfill_statements(dialect: str) -> list[str]:
    """One row per key for the surveys and the responses already there."""

    def day(*times: str) -> str:
        return (_sqlite_day if dialect == "sqlite" else _pg_day)("s", *times)

    survey = _survey_values("s", "", day("sent_at", "created_at"))
    response = _response_values("s", "", day("created_at"))

    def grouped(values: list[str], table: str, where: str) -> str:
        key, counts = values[:4], values[4:]
        summed = ", ".join(f"sum({count})" for count in counts)
        return (
            f"{_INSERT} SELECT {', '.join(key)}, {summed} FROM {table} AS s WHERE {where} "
            f"GROUP BY {', '.join(key)}"
        )

    return [
        grouped(survey, "surveys", _survey_counts("s")),
        grouped(response, "responses", "1 = 1"),
    ]


def compact(conn: Connection) -> int:
    """Merge each key's rows into one; returns how many rows went. Rows another
    transaction is still writing are left for the next time (only the rows deleted here
    are summed, so nothing is counted twice or lost)."""
    c = campaign_day_counts.c
    key = [c[name] for name in KEY]
    several = select(*key).group_by(*key).having(func.count() > 1)
    gone = conn.execute(
        delete(campaign_day_counts)
        .where(tuple_(*key).in_(several))
        .returning(*key, *(c[name] for name in COUNTS))
    ).all()
    if not gone:
        return 0
    merged: dict[tuple[object, ...], list[int]] = {}
    for row in gone:
        sums = merged.setdefault(tuple(row[: len(KEY)]), [0] * len(COUNTS))
        for index, value in enumerate(row[len(KEY) :]):
            sums[index] += value
    conn.execute(
        insert(campaign_day_counts),
        [dict(zip(KEY + COUNTS, (*key_, *sums), strict=True)) for key_, sums in merged.items()],
    )
    return len(gone) - len(merged)
