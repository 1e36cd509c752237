"""Comment keywords over many comments: how many comments a second the keywords question
reads, lemmatizes and counts, the first time (every comment lemmatized) and again (the
phrases of comments already read come from the in-process cache).

Writes ``--comments`` responses with a comment (seeded: English, and a quarter French,
German or Spanish by their ``language`` trait) to a SQLite file in a temporary directory,
then asks for the keywords of all of them.

    PYTHONPATH=src .venv/bin/python benchmarks/keywords.py [--comments 50000] [--seed 20261207]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from promoter.analytics.keyword_rules import Rules
from promoter.analytics.keyword_text import PhraseCache, phrases
from promoter.analytics.keywords import keywords
from promoter.analytics.query import NpsQuery, scope
from promoter.campaigns.service import list_campaigns
from promoter.orgs.service import create_organization
from promoter.storage.engine import Database
from promoter.storage.migrate import upgrade
from promoter.storage.tables import contacts, response_attributes, responses, surveys

START = datetime(2026, 1, 5, tzinfo=UTC)
DAYS = 90
WORDS = {
    "en": (
        ["The prices are", "Customer support was", "The new dashboard is", "Exports are"],
        ["too high", "slow", "really helpful", "great", "confusing", "better than before"],
        ["", " and the onboarding emails", ", the mobile app crashes", " but billing is fine"],
    ),
    "fr": (
        ["Les prix sont", "Le support client est", "Le tableau de bord est"],
        ["trop élevés", "lent", "très utile", "confus"],
        ["", " et les exports sont lents"],
    ),
    "de": (
        ["Die Preise sind", "Der Kundenservice ist", "Das neue Dashboard ist"],
        ["zu hoch", "langsam", "sehr hilfreich", "verwirrend"],
        ["", " und die Exporte sind langsam"],
    ),
    "es": (
        ["Los precios son", "El soporte al cliente es", "El nuevo panel es"],
        ["muy altos", "lento", "muy útil", "confuso"],
        ["", " y las exportaciones son lentas"],
    ),
}


def comment(rng: random.Random, language: str) -> str:
    first, middle, last = WORDS[language]
    return f"{rng.choice(first)} {rng.choice(middle)}{rng.choice(last)}."


def write(database: Database, count: int, seed: int) -> int:
    rng = random.Random(seed)
    with database.write() as conn:
        org, _ = create_organization(conn, name="Bench")
        campaign_id = list_campaigns(conn, organization_id=org.id)[0].id
        for start in range(0, count, 5000):
            batch = range(start, min(count, start + 5000))
            at = [START + timedelta(minutes=rng.randrange(DAYS * 24 * 60)) for _ in batch]
            people = [
                {
                    "organization_id": org.id,
                    "user_id": f"u{i}",
                    "email": f"u{i}@example.com",
                    "email_key": f"u{i}@example.com",
                    "created_at": at[n],
                    "updated_at": at[n],
                }
                for n, i in enumerate(batch)
            ]
            conn.execute(insert(contacts), people)
            ids = dict(
                conn.execute(
                    select(contacts.c.user_id, contacts.c.id).where(
                        contacts.c.user_id.in_([p["user_id"] for p in people])
                    )
                ).all()
            )
            sent = [
                {
                    "organization_id": org.id,
                    "campaign_id": campaign_id,
                    "contact_id": ids[f"u{i}"],
                    "status": "answered",
                    "token": f"t{i}",
                    "attributes": {},
                    "scheduled_at": at[n],
                    "created_at": at[n],
                }
                for n, i in enumerate(batch)
            ]
            conn.execute(insert(surveys), sent)
            survey_ids = dict(
                conn.execute(
                    select(surveys.c.token, surveys.c.id).where(
                        surveys.c.token.in_([s["token"] for s in sent])
                    )
                ).all()
            )
            languages = [
                rng.choice(["fr", "de", "es"]) if rng.random() < 0.25 else "en" for _ in batch
            ]
            answered = [
                {
                    "organization_id": org.id,
                    "survey_id": survey_ids[f"t{i}"],
                    "campaign_id": campaign_id,
                    "contact_id": ids[f"u{i}"],
                    "score": rng.randint(0, 10),
                    "comment": comment(rng, languages[n]),
                    "contact_snapshot": {"language": languages[n]},
                    "survey_attributes": {},
                    "created_at": at[n],
                    "updated_at": at[n],
                }
                for n, i in enumerate(batch)
            ]
            conn.execute(insert(responses), answered)
            response_ids = conn.execute(
                select(responses.c.id, responses.c.survey_id).where(
                    responses.c.survey_id.in_(survey_ids.values())
                )
            ).all()
            by_survey = {survey: response for response, survey in response_ids}
            traits = [
                {
                    "response_id": by_survey[survey_ids[f"t{i}"]],
                    "name": "language",
                    "organization_id": org.id,
                    "value_type": "string",
                    "value_text": languages[n],
                }
                for n, i in enumerate(batch)
                if languages[n] != "en"
            ]
            if traits:
                conn.execute(insert(response_attributes), traits)
    return int(org.id)


def measure(database: Database, organization_id: int, cache: PhraseCache) -> tuple[float, int, int]:
    question = NpsQuery(
        organization_id=organization_id, since=START, until=START + timedelta(days=DAYS)
    )
    started = time.perf_counter()
    with database.read() as conn:
        s = scope(conn, question)
        found = keywords(
            conn, s, rules=Rules({}, {}, frozenset()), cache=cache, zone=ZoneInfo("UTC")
        )
    return time.perf_counter() - started, found.comments, len(found.keywords)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        database = Database.from_url(f"sqlite:///{Path(folder) / 'keywords.sqlite3'}")
        upgrade(database.engine)
        started = time.perf_counter()
        organization_id = write(database, args.comments, args.seed)
        print(f"wrote {args.comments} comments in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        for language in WORDS:  # simplemma reads a language's dictionary on first use
            phrases("prices", language)
        print(
            f"dictionaries of {len(WORDS)} languages loaded in "
            f"{time.perf_counter() - started:.1f} s"
        )
        cache = PhraseCache()
        for label in ("first (lemmatized)", "again (cached)"):
            seconds, comments, found = measure(database, organization_id, cache)
            print(
                f"{label:20} {comments} comments, {found} keywords: {seconds:.2f} s, "
                f"{comments / seconds:,.0f} comments/s"
            )
        database.dispose()


if __name__ == "__main__":
    main()
