"""A planted dataset for the drivers: 200 answers where plan=Enterprise has an NPS 70
points below the other plans' (-50 against +20), ``tier`` follows the plan (Gold for 2 in
3 of Enterprise, 1 in 3 of Pro, none of Free) but within each plan Gold answers exactly as
the rest do, 30 Free contacts did "Exported" (none of them detractors), and ``seats`` is
a number with 40 values (automatic buckets)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from promoter.campaigns.service import list_campaigns
from promoter.domain.messages import Envelope
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.service import Ingestor
from promoter.storage.engine import Database
from promoter.storage.tables import contacts
from tests.analytics.dataset import NOW, answer_survey
from tests.conftest import Org

#: Per tenth of a plan's answers: promoters, passives, detractors.
ENTERPRISE = (1, 3, 6)  # NPS -50
OTHERS = (5, 2, 3)  # NPS +20
#: (plan, Gold answers, Silver answers); Free, the largest, is the regression's reference.
PLANS = (("Enterprise", 40, 20), ("Pro", 20, 40), ("Free", 0, 80))
EXPORTED = "Exported"


def _scores(count: int, shares: tuple[int, int, int]) -> list[int]:
    """``count`` scores (a multiple of 10) in the proportions ``shares`` (per ten)."""
    promoters, passives, detractors = (count * s // 10 for s in shares)
    return [10] * promoters + [8] * passives + [2] * detractors


def answers() -> list[dict[str, Any]]:
    """One answer per contact: user id, traits, score, and whether it did EXPORTED."""
    found: list[dict[str, Any]] = []
    for plan, gold, other in PLANS:
        shares = ENTERPRISE if plan == "Enterprise" else OTHERS
        for tier, count in (("Gold", gold), ("Silver", other)):
            for score in _scores(count, shares) if count else []:
                i = len(found)
                traits = {"plan": plan, "tier": tier, "seats": (i * 7) % 40 + 1}
                found.append({"user": f"u{i}", "traits": traits, "score": score})
    free = [a for a in found if a["traits"]["plan"] == "Free"]
    doers = [a for a in free if a["score"] == 10][:20] + [a for a in free if a["score"] == 8][:10]
    for a in found:
        a["exported"] = a in doers
    return found


def plant(database: Database, org: Org) -> list[dict[str, Any]]:
    planted = answers()
    messages: list[dict[str, Any]] = [
        {
            "type": "identify",
            "userId": a["user"],
            "traits": {"email": f"{a['user']}@example.com", **a["traits"]},
        }
        for a in planted
    ]
    messages += [
        {"type": "track", "userId": a["user"], "event": EXPORTED} for a in planted if a["exported"]
    ]
    results = ingest_messages(
        database=database,
        ingestor=Ingestor(),
        organization_id=org.id,
        messages=messages,
        envelope=Envelope(received_at=NOW),
        allowed=TRACKING_API_TYPES,
    )
    assert [r for r in results if r.status != "accepted"] == []
    with database.write() as conn:
        campaign_id = list_campaigns(conn, organization_id=org.id)[0].id
        ids = dict(
            conn.execute(
                select(contacts.c.user_id, contacts.c.id).where(
                    contacts.c.organization_id == org.id
                )
            ).all()
        )
        for a in planted:
            answer_survey(conn, org.id, ids[a["user"]], campaign_id, a["score"], NOW)
    return planted
