"""A demo organization, "Demo Inc.", with a year of realistic data.

Contacts and their events (orders included) go through the real ingestion path; surveys
are answered through the real answer path, at past times, so analytics, breakdowns and
trends show what a year of use looks like. Everything is drawn from a seeded
``random.Random`` and dated relative to ``now``: the same seed gives the same data, and
the last twelve months are always filled.

The organization is built under a provisional name and takes its real name, together
with its demo user, in one last transaction: an organization named "Demo Inc." with
that user is a complete demo, and a build that was interrupted is discarded and made
again.
"""

from __future__ import annotations

import math
import random
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, delete, insert, select, update

from promoter.accounts.passwords import Passwords
from promoter.accounts.users import create_user, normalise_email
from promoter.campaigns import service as campaigns
from promoter.campaigns.models import CampaignSettings, TemplateSettings
from promoter.domain.messages import Envelope
from promoter.domain.nps import score_type
from promoter.feedback.followup import add_tags, set_status
from promoter.ingest.pipeline import TRACKING_API_TYPES, ingest_messages
from promoter.ingest.service import Ingestor
from promoter.orgs import service as orgs
from promoter.storage.engine import Database
from promoter.storage.tables import (
    campaigns as campaigns_table,
)
from promoter.storage.tables import (
    contact_lists,
    contacts,
    deliveries,
    email_templates,
    events,
    orders,
    organizations,
    processed_messages,
    response_attributes,
    response_tags,
    responses,
    surveys,
    users,
)
from promoter.surveys.responses import find_survey, record_comment, record_score, unsubscribe
from promoter.surveys.trigger import new_token

DEMO_ORGANIZATION = "Demo Inc."
DEMO_EMAIL = "demo@promoter.example"
DEMO_PASSWORD = "demo-password"
DEFAULT_SEED = 20260101
DEFAULT_CONTACTS = 560
#: The name the organization has until its build is complete.
INCOMPLETE_NAME = "Demo Inc. (incomplete)"

#: Messages per ``ingest_messages`` call; surveys per answering transaction.
INGEST_BATCH = 500
ANSWER_BATCH = 250

Plan = Literal["Free", "Starter", "Pro", "Enterprise"]
PLANS: tuple[Plan, ...] = ("Free", "Starter", "Pro", "Enterprise")
PLAN_WEIGHTS = (40, 30, 22, 8)
#: The mean score of each plan before any other effect (Enterprise and Pro are happier).
PLAN_MEAN: dict[Plan, float] = {"Free": 7.3, "Starter": 7.9, "Pro": 8.5, "Enterprise": 8.9}
#: How much the pricing change lowered each plan's mean score at first.
PRICING_DIP: dict[Plan, float] = {"Free": 1.9, "Starter": 2.2, "Pro": 1.0, "Enterprise": 0.3}
#: The chance that a survey of each plan's contacts is answered (before personal habits).
ANSWER_RATE: dict[Plan, float] = {"Free": 0.34, "Starter": 0.4, "Pro": 0.46, "Enterprise": 0.5}
SEATS: dict[Plan, tuple[int, int]] = {
    "Free": (1, 3),
    "Starter": (3, 15),
    "Pro": (10, 60),
    "Enterprise": (80, 600),
}
PRICE_PER_SEAT: dict[Plan, float] = {"Free": 0, "Starter": 12, "Pro": 25, "Enterprise": 32}
TEAM: dict[Plan, tuple[int, int]] = {
    "Free": (1, 2),
    "Starter": (1, 3),
    "Pro": (2, 5),
    "Enterprise": (3, 8),
}
SIZES: dict[Plan, tuple[str, ...]] = {
    "Free": ("1-10", "1-10", "11-50"),
    "Starter": ("1-10", "11-50", "11-50"),
    "Pro": ("11-50", "51-200", "51-200"),
    "Enterprise": ("201-1000", "1000+", "1000+"),
}
#: Logins per month; the other events follow from it.
ACTIVITY: dict[Plan, float] = {"Free": 1.6, "Starter": 3.2, "Pro": 4.5, "Enterprise": 5.0}
#: Orders (add-ons, seat packs, services) per contact and month.
ORDER_RATE: dict[Plan, float] = {"Free": 0.04, "Starter": 0.2, "Pro": 0.28, "Enterprise": 0.32}

COUNTRIES: tuple[tuple[str, int, tuple[str, ...], str, str], ...] = (
    # code, weight, time zones, currency, a company's legal form
    ("US", 28, ("America/New_York", "America/Chicago", "America/Los_Angeles"), "USD", "Inc."),
    ("GB", 12, ("Europe/London",), "GBP", "Ltd"),
    ("DE", 12, ("Europe/Berlin",), "EUR", "GmbH"),
    ("FR", 8, ("Europe/Paris",), "EUR", "SAS"),
    ("CA", 6, ("America/Toronto", "America/Vancouver"), "CAD", "Inc."),
    ("NL", 5, ("Europe/Amsterdam",), "EUR", "B.V."),
    ("ES", 5, ("Europe/Madrid",), "EUR", "S.L."),
    ("BR", 5, ("America/Sao_Paulo",), "BRL", "Ltda."),
    ("IN", 5, ("Asia/Kolkata",), "INR", "Pvt Ltd"),
    ("AU", 4, ("Australia/Sydney",), "AUD", "Pty Ltd"),
    ("JP", 3, ("Asia/Tokyo",), "JPY", "K.K."),
    ("SE", 3, ("Europe/Stockholm",), "EUR", "AB"),
    ("AT", 2, ("Europe/Vienna",), "EUR", "GmbH"),
    ("MX", 2, ("America/Mexico_City",), "MXN", "S.A. de C.V."),
)
COUNTRY_EFFECT = {"JP": -0.6, "DE": -0.2, "NL": -0.1, "BR": 0.3, "MX": 0.3, "IN": 0.2}
#: The language some contacts of a country comment in (others write in English).
COUNTRY_LANGUAGE = {
    "DE": "de",
    "AT": "de",
    "FR": "fr",
    "ES": "es",
    "MX": "es",
    "BR": "pt",
    "JP": "ja",
}
VAT = {"GB": 0.2, "DE": 0.19, "FR": 0.2, "NL": 0.21, "ES": 0.21, "SE": 0.25, "AT": 0.2}

INDUSTRIES: dict[str, float] = {
    "Software": 0.2,
    "E-commerce": 0.0,
    "Financial services": -0.2,
    "Healthcare": -0.3,
    "Education": 0.1,
    "Media": 0.0,
    "Manufacturing": -0.1,
    "Marketing agency": 0.1,
    "Non-profit": 0.3,
}
ROLES: dict[str, float] = {
    "Engineer": -0.3,
    "Product manager": 0.0,
    "Marketing": 0.1,
    "Customer success": 0.3,
    "Operations": 0.0,
    "Designer": 0.1,
    "Sales": 0.0,
    "Data analyst": -0.1,
}
OWNER_ROLES = ("Founder", "Founder", "Operations", "Product manager", "Customer success")

FIRST_NAMES = (
    "Ada", "Aiko", "Alex", "Amara", "Ana", "Anders", "Arjun", "Ben", "Carla", "Chen",
    "Chloé", "Daniel", "Diego", "Elena", "Emma", "Fatima", "Felix", "Grace", "Hannah",
    "Hiroshi", "Ines", "Isaac", "Jakob", "Jana", "Javier", "João", "Julia", "Kai", "Kenji",
    "Laura", "Leon", "Lucas", "Lucía", "Maja", "Marco", "Maria", "Mateo", "Mei", "Mia",
    "Nadia", "Noah", "Olivia", "Omar", "Pedro", "Priya", "Rafael", "Rahul", "Sara",
    "Sofia", "Sven", "Tariq", "Thomas", "Valentina", "Wei", "Yuki", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Andersson", "Bauer", "Brown", "Costa", "Dubois", "Fernández", "Fischer", "García",
    "Gupta", "Hansen", "Ito", "Jansen", "Johnson", "Kim", "Kowalski", "Lefebvre", "Li",
    "López", "Martin", "Meyer", "Moreau", "Müller", "Nakamura", "Nguyen", "Novak",
    "O'Brien", "Patel", "Rossi", "Santos", "Schmidt", "Silva", "Singh", "Smith", "Suzuki",
    "Taylor", "Tanaka", "Van Dijk", "Wagner", "Wang", "Williams", "Yamamoto", "Zhang",
)  # fmt: skip
COMPANY_STARTS = (
    "North", "Blue", "Bright", "Iron", "Silver", "Cedar", "Harbor", "Summit", "Pixel",
    "Quantum", "Maple", "Atlas", "Nimbus", "Coral", "Orbit", "Lumen", "Vertex", "Granite",
    "Willow", "Falcon", "Copper", "Juniper", "Beacon", "Meadow", "Polar",
)  # fmt: skip
COMPANY_ENDS = (
    "wind", "stone", " Labs", "works", "soft", " Systems", "hub", "forge", "field",
    "point", " Analytics", " Health", " Studio", "line", " Partners", "ware",
)  # fmt: skip

FEATURES = (
    "Dashboards", "Segments", "Automations", "Reports", "Slack integration", "API",
    "Custom fields", "SSO", "Mobile app", "Alerts",
)  # fmt: skip
REPORTS = ("Monthly summary", "Churn risk", "Revenue by plan", "Team activity", "Pipeline")
PRODUCTS: tuple[tuple[str, str, str, float], ...] = (
    # product_id, name, category, price
    ("seat-pack-5", "5 extra seats", "Seats", 60.0),
    ("seat-pack-20", "20 extra seats", "Seats", 220.0),
    ("addon-automations", "Automations add-on", "Add-ons", 49.0),
    ("addon-api", "API access add-on", "Add-ons", 79.0),
    ("support-premium", "Premium support (1 year)", "Services", 990.0),
    ("workshop-onboarding", "Onboarding workshop", "Services", 450.0),
    ("storage-100", "100 GB extra storage", "Add-ons", 19.0),
)
COUPONS = ("SPRING15", "PARTNER10", "ANNUAL20")

TAGS = ("pricing", "bug", "onboarding", "support", "praise")

Category = Literal["detractor", "passive", "promoter"]
Comment = tuple[str, tuple[str, ...]]
#: Feedback by language and category, with the tags the team gives it.
COMMENTS: dict[str, dict[Category, tuple[Comment, ...]]] = {
    "en": {
        "detractor": (
            ("The price increase hit us hard. For a five-person team the new tiers are "
             "too expensive.", ("pricing",)),
            ("We pay more for the same features since the pricing change. Looking at "
             "alternatives.", ("pricing",)),
            ("SSO only on Enterprise is a dealbreaker for our IT team.", ("pricing",)),
            ("Exports keep timing out on large reports. Very frustrating.", ("bug",)),
            ("Dashboards take ages to load since the last update.", ("bug",)),
            ("The mobile app crashes whenever I open a report.", ("bug",)),
            ("Support took four days to answer a simple billing question.", ("support",)),
            ("I was charged twice this month and nobody has replied yet.", ("support",)),
            ("The Slack integration stopped posting and support could not tell us why.",
             ("bug", "support")),
            ("Setup was confusing: it took us weeks to get the Segment data right.",
             ("onboarding",)),
            ("Hard to get started without a proper onboarding guide.", ("onboarding",)),
            ("Too many clicks for simple things.", ()),
            ("Not what we expected.", ()),
        ),
        "passive": (
            ("Good product, a bit pricey for what we use.", ("pricing",)),
            ("Fine for now, but the new pricing is hard to justify for a small team.",
             ("pricing",)),
            ("Does the job. Reporting could be more flexible.", ()),
            ("Solid overall. The CSV export is clunky.", ("bug",)),
            ("Works well most of the time, with the occasional sync delay.", ("bug",)),
            ("Onboarding was OK; the docs could use more examples.", ("onboarding",)),
            ("Support was helpful, if a bit slow.", ("support",)),
            ("We like it. A proper API for custom fields would make it great.", ()),
            ("Nice interface. I wish segments could be shared between teams.", ()),
            ("OK", ()),
        ),
        "promoter": (
            ("Love it! Our whole team uses it every day.", ("praise",)),
            ("Support is amazing: Priya fixed our issue within the hour.",
             ("praise", "support")),
            ("Setup took ten minutes. The best onboarding I have seen.",
             ("praise", "onboarding")),
            ("The automations save us hours every week.", ("praise",)),
            ("Great value for the money.", ("praise", "pricing")),
            ("The reports are exactly what our board wants to see.", ("praise",)),
            ("Rock solid, never had an outage.", ("praise",)),
            ("The new dashboards are a big step up. Keep it coming!", ("praise",)),
            ("Easy to use, and the API is well documented.", ("praise",)),
            ("Great product", ()),
            ("👍 Keep up the good work", ("praise",)),
        ),
    },
    "de": {
        "detractor": (
            ("Die neuen Preise sind für kleine Teams viel zu hoch.", ("pricing",)),
            ("Der Export bricht bei großen Berichten immer wieder ab.", ("bug",)),
        ),
        "passive": (
            ("Gutes Produkt, aber der Support antwortet langsam.", ("support",)),
            ("Ganz ordentlich, die Einrichtung war etwas mühsam.", ("onboarding",)),
        ),
        "promoter": (
            ("Super Tool, unser ganzes Team arbeitet täglich damit!", ("praise",)),
            ("In wenigen Minuten eingerichtet. Sehr empfehlenswert.",
             ("praise", "onboarding")),
        ),
    },
    "fr": {
        "detractor": (
            ("Beaucoup trop cher depuis le changement de tarifs.", ("pricing",)),
            ("L'application est lente depuis la dernière mise à jour.", ("bug",)),
        ),
        "passive": (("Bon outil, mais la documentation manque d'exemples.", ("onboarding",)),),
        "promoter": (
            ("Excellent produit, et le support est très réactif.", ("praise", "support")),
        ),
    },
    "es": {
        "detractor": (("El precio subió demasiado para lo que ofrece.", ("pricing",)),),
        "passive": (("Funciona bien, aunque los informes podrían ser más flexibles.", ()),),
        "promoter": (("¡Nos encanta! Muy fácil de usar.", ("praise",)),),
    },
    "pt": {
        "detractor": (("O suporte demorou muito para responder.", ("support",)),),
        "passive": (("Bom produto, mas o preço aumentou bastante.", ("pricing",)),),
        "promoter": (("Ferramenta excelente, recomendo a todos.", ("praise",)),),
    },
    "ja": {
        "detractor": (("レポートの読み込みがとても遅いです。", ("bug",)),),
        "passive": (("便利ですが、料金が少し高いと思います。", ("pricing",)),),
        "promoter": (("使いやすくて、チーム全員が毎日使っています。", ("praise",)),),
    },
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class DemoLogin:
    """Where to sign in to the demo, and its API key if it was made just now."""

    organization_id: int
    organization_name: str
    email: str
    password: str
    created: bool
    api_key: str | None = None
    contacts: int = 0
    events: int = 0
    responses: int = 0


# --- the generated world -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _PlanChange:
    at: datetime
    plan: Plan
    seats: int


@dataclass(slots=True)
class _Company:
    name: str
    domain: str
    industry: str
    country: str
    zones: tuple[str, ...]
    currency: str
    signed_up: datetime
    mood: float
    #: The plan from sign-up, then each change, in time order.
    plans: list[_PlanChange]

    def plan_at(self, at: datetime) -> _PlanChange:
        current = self.plans[0]
        for change in self.plans[1:]:
            if change.at <= at:
                current = change
        return current

    def size(self, plan: Plan) -> str:
        sizes = SIZES[plan]
        return sizes[sum(map(ord, self.name)) % len(sizes)]


@dataclass(slots=True)
class _Person:
    user_id: str
    email: str
    first_name: str
    last_name: str
    role: str
    company: _Company
    timezone: str
    joined: datetime
    mood: float
    habit: float
    activity: float
    language: str
    #: When mail to this address starts bouncing (they left the company), if ever.
    bounces_at: datetime | None
    events: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Campaigns:
    """The demo's campaigns by the kind of survey they send: ids and throttles (days)."""

    ids: dict[str, int]
    throttle_days: dict[str, int]


@dataclass(slots=True)
class _Survey:
    person: _Person
    campaign_id: int
    kind: str
    created_at: datetime
    scheduled_at: datetime
    sent_at: datetime | None
    token: str = ""
    answered_at: datetime | None = None
    score: int | None = None
    comment: Comment | None = None
    tagged_at: datetime | None = None
    closed_at: datetime | None = None
    unsubscribed_at: datetime | None = None

    @property
    def at(self) -> datetime:
        """When this survey's last effect happened (its answer, or its sending)."""
        moments = [self.answered_at, self.unsubscribed_at, self.sent_at, self.scheduled_at]
        return max(m for m in moments if m is not None)


@dataclass(frozen=True, slots=True)
class _Clock:
    now: datetime
    #: The start of the generated history (a little over a year, so 12 full months).
    start: datetime
    #: The pricing change that made scores dip for a while.
    pricing_change: datetime
    #: Relationship surveys, sent each month to a sample of contacts.
    blasts: tuple[datetime, ...]

    @classmethod
    def at(cls, now: datetime) -> _Clock:
        day = now.replace(hour=14, minute=0, second=0, microsecond=0)
        return cls(
            now=now,
            start=now - timedelta(days=395),
            pricing_change=(now - timedelta(days=200)).replace(
                day=1, hour=9, minute=0, second=0, microsecond=0
            ),
            blasts=tuple(day - timedelta(days=25 + 30 * i) for i in range(12)),
        )


def _weighted(rng: random.Random, options: Sequence[Any], weights: Sequence[float]) -> Any:
    return rng.choices(options, weights=weights, k=1)[0]


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + (end - start) * rng.random()


def _seats(rng: random.Random, plan: Plan) -> int:
    low, high = SEATS[plan]
    return round(math.exp(rng.uniform(math.log(low), math.log(high))))


def _companies(rng: random.Random, clock: _Clock) -> Iterator[_Company]:
    """An endless supply of customers."""
    names: set[str] = set()
    while True:
        code, _, zones, currency, form = _weighted(rng, COUNTRIES, [c[1] for c in COUNTRIES])
        base = name = ""
        while not name or name in names:
            base = rng.choice(COMPANY_STARTS) + rng.choice(COMPANY_ENDS)
            if len(names) > len(COMPANY_STARTS) * len(COMPANY_ENDS):
                base += f" {len(names)}"
            name = f"{base} {form}"
        names.add(name)
        plan: Plan = _weighted(rng, PLANS, PLAN_WEIGHTS)
        # A growing business: more sign-ups recently; some customers for years.
        signed_up = clock.now - timedelta(days=5 + 895 * rng.random() ** 1.2)
        signed_up = signed_up.replace(microsecond=0)
        company = _Company(
            name=name,
            domain=f"{_ascii(base)}-{code.lower()}.example",
            industry=rng.choice(list(INDUSTRIES)),
            country=code,
            zones=zones,
            currency=currency,
            signed_up=signed_up,
            mood=rng.gauss(0, 0.5),
            plans=[_PlanChange(signed_up, plan, _seats(rng, plan))],
        )
        _change_plan(rng, clock, company)
        yield company


def _change_plan(rng: random.Random, clock: _Clock, company: _Company) -> None:
    """Some customers upgrade during the year; some downgrade after the pricing change."""
    first = company.plans[0]
    earliest = max(company.signed_up + timedelta(days=30), clock.start)
    latest = clock.now - timedelta(days=10)
    if earliest >= latest:
        return
    index = PLANS.index(first.plan)
    draw = rng.random()
    if draw < 0.14 and index < len(PLANS) - 1:
        plan = PLANS[index + 1]
        at = _between(rng, earliest, latest)
    elif draw < 0.2 and first.plan in ("Starter", "Pro"):
        plan = PLANS[index - 1]
        after = max(earliest, clock.pricing_change)
        at = _between(rng, after, min(latest, after + timedelta(days=90)))
        if at <= earliest:
            return
    else:
        return
    seats = max(_seats(rng, plan), first.seats) if index < PLANS.index(plan) else first.seats
    seats = min(seats, SEATS[plan][1]) if plan == "Free" else seats
    company.plans.append(_PlanChange(at.replace(microsecond=0), plan, seats))


def _people(rng: random.Random, clock: _Clock, count: int) -> list[_Person]:
    people: list[_Person] = []
    emails: set[str] = set()
    companies = _companies(rng, clock)
    while len(people) < count:
        company = next(companies)
        plan = company.plans[0].plan
        team = min(rng.randint(*TEAM[plan]), count - len(people))
        for member in range(team):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            local = f"{_ascii(first)}.{_ascii(last)}"
            email = f"{local}@{company.domain}"
            suffix = 2
            while email in emails:
                email = f"{local}{suffix}@{company.domain}"
                suffix += 1
            emails.add(email)
            joined = company.signed_up
            if member:
                later = company.signed_up + timedelta(days=rng.uniform(1, 150))
                joined = min(later, clock.now - timedelta(days=1)).replace(microsecond=0)
            role = rng.choice(OWNER_ROLES) if member == 0 else rng.choice(list(ROLES))
            language = COUNTRY_LANGUAGE.get(company.country, "en")
            people.append(
                _Person(
                    user_id=f"usr_{len(people):04d}{rng.getrandbits(32):08x}",
                    email=email,
                    first_name=first,
                    last_name=last,
                    role=role,
                    company=company,
                    timezone=rng.choice(company.zones),
                    joined=joined,
                    mood=rng.gauss(0, 0.8),
                    habit=_clamp(rng.gauss(1, 0.35), 0.2, 1.8),
                    activity=rng.lognormvariate(0, 0.5),
                    language=language if rng.random() < 0.6 else "en",
                    bounces_at=(
                        _between(rng, clock.start, clock.now) if rng.random() < 0.02 else None
                    ),
                )
            )
    return people


def _traits(person: _Person, clock: _Clock, at: datetime) -> dict[str, Any]:
    company = person.company
    state = company.plan_at(at)
    return {
        "email": person.email,
        "firstName": person.first_name,
        "lastName": person.last_name,
        "plan": state.plan,
        "country": company.country,
        "role": person.role,
        "seats": state.seats,
        "mrr": round(state.seats * PRICE_PER_SEAT[state.plan], 2),
        "signed_up_at": company.signed_up.date().isoformat(),
        "trial": state.plan != "Free" and clock.now - company.signed_up < timedelta(days=30),
        "company": {
            "name": company.name,
            "industry": company.industry,
            "size": company.size(state.plan),
        },
    }


def _identify(person: _Person, clock: _Clock, at: datetime, number: int) -> dict[str, Any]:
    return {
        "type": "identify",
        "messageId": f"demo-identify-{number}",
        "userId": person.user_id,
        "timestamp": at.isoformat(),
        "context": {"timezone": person.timezone},
        "traits": _traits(person, clock, at),
    }


def _order(rng: random.Random, person: _Person, number: int, plan: Plan) -> dict[str, Any]:
    company = person.company
    choices = PRODUCTS if plan != "Free" else PRODUCTS[-2:]
    items: list[dict[str, Any]] = []
    for product_id, name, category, price in rng.sample(choices, rng.choice((1, 1, 1, 2))):
        quantity = rng.choice((1, 1, 1, 2, 3)) if category != "Services" else 1
        items.append(
            {
                "product_id": product_id,
                "sku": product_id.upper(),
                "name": name,
                "category": category,
                "price": price,
                "quantity": quantity,
            }
        )
    subtotal = round(sum(i["price"] * i["quantity"] for i in items), 2)
    props: dict[str, Any] = {
        "order_id": f"DI-{number:06d}",
        "subtotal": subtotal,
        "currency": company.currency,
        "products": items,
    }
    discount = 0.0
    if rng.random() < 0.12:
        props["coupon"] = rng.choice(COUPONS)
        discount = round(subtotal * int(props["coupon"][-2:]) / 100, 2)
        props["discount"] = discount
    tax = round((subtotal - discount) * VAT.get(company.country, 0.0), 2)
    props["tax"] = tax
    props["revenue"] = round(subtotal - discount, 2)
    props["total"] = round(subtotal - discount + tax, 2)
    return props


def _times(rng: random.Random, start: datetime, end: datetime, per_month: float) -> list[datetime]:
    """Moments of a Poisson process of ``per_month`` between ``start`` and ``end``."""
    out: list[datetime] = []
    if per_month <= 0:
        return out
    at = start
    mean_gap = 30.4 * 86400 / per_month
    while True:
        at += timedelta(seconds=rng.expovariate(1 / mean_gap))
        if at >= end:
            return out
        # People work in the daytime, mostly on weekdays.
        if at.weekday() >= 5 and rng.random() < 0.7:
            continue
        out.append(at.replace(microsecond=0))


def _activity(rng: random.Random, clock: _Clock, people: list[_Person]) -> None:
    """Each person's events in the generated history (orders included)."""
    orders_made = 0
    for person in people:
        start = max(person.joined, clock.start)
        end = clock.now - timedelta(minutes=5)
        found: list[tuple[datetime, str, dict[str, Any]]] = []
        if person.joined >= clock.start:
            found.append((person.joined, "Signed Up", {"method": rng.choice(("email", "google"))}))
        plan = person.company.plan_at(end).plan
        rate = ACTIVITY[plan] * person.activity
        method = "sso" if plan == "Enterprise" else rng.choice(("password", "google"))
        for at in _times(rng, start, end, rate):
            found.append((at, "Logged In", {"method": method}))
        favourites = rng.sample(FEATURES, 3)
        for at in _times(rng, start, end, rate * 0.6):
            feature = rng.choice(favourites) if rng.random() < 0.7 else rng.choice(FEATURES)
            found.append((at, "Feature Used", {"feature": feature}))
        for at in _times(rng, start, end, rate * 0.15):
            found.append(
                (
                    at,
                    "Exported Report",
                    {"report": rng.choice(REPORTS), "format": rng.choice(("csv", "pdf", "xlsx"))},
                )
            )
        for at in _times(rng, start, end, ORDER_RATE[plan]):
            orders_made += 1
            order_plan = person.company.plan_at(at).plan
            found.append((at, "Order Completed", _order(rng, person, orders_made, order_plan)))
        person.events = found
    # The first member of each team invites the others as they join.
    for team in _teams(people):
        owner = team[0]
        for member in team[1:]:
            if member.joined >= clock.start:
                invited = member.joined - timedelta(minutes=rng.randint(5, 600))
                props = {"invitee_email": member.email, "invitee_role": member.role}
                owner.events.append((max(invited, owner.joined), "Invited Teammate", props))
    for person in people:
        person.events.sort(key=lambda e: e[0])


# --- surveys and answers -----------------------------------------------------------------


def _mean_score(person: _Person, clock: _Clock, kind: str, at: datetime) -> float:
    company = person.company
    plan = company.plan_at(at).plan
    mean = PLAN_MEAN[plan] + company.mood + person.mood
    mean += INDUSTRIES[company.industry] + ROLES.get(person.role, 0.1)
    mean += COUNTRY_EFFECT.get(company.country, 0.0)
    mean += {"purchase": 0.4, "onboarding": 0.2, "relationship": -0.2}.get(kind, 0.0)
    if company.plans[0].plan != plan and PLANS.index(plan) < PLANS.index(company.plans[0].plan):
        mean -= 0.6  # downgraded: less happy
    # The pricing change: a dip that lasts forty days, then fades over five weeks.
    since = (at - clock.pricing_change).total_seconds() / 86400
    if 0 <= since < 75:
        mean -= PRICING_DIP[plan] * (1.0 if since < 40 else (75 - since) / 35)
    # What the team shipped since: better and better over the last quarter.
    recent = (at - (clock.now - timedelta(days=90))).total_seconds() / 86400
    if recent > 0:
        mean += 0.7 * min(recent, 90) / 90
    return mean


def _category(score: int) -> Category:
    return score_type(score)


def _comment(rng: random.Random, person: _Person, clock: _Clock, survey: _Survey) -> None:
    assert survey.score is not None and survey.answered_at is not None
    category = _category(survey.score)
    if rng.random() >= {"detractor": 0.62, "passive": 0.4, "promoter": 0.45}[category]:
        return
    pool = COMMENTS.get(person.language, COMMENTS["en"])[category]
    since = (survey.answered_at - clock.pricing_change).total_seconds() / 86400
    if category != "promoter" and 0 <= since < 75 and rng.random() < 0.6:
        # Around the pricing change, that is what the unhappy talk about.
        pool = tuple(c for c in pool if "pricing" in c[1]) or pool
    survey.comment = rng.choice(pool)
    # The team reads feedback and tags it, mostly within a week; older feedback is
    # more likely to have been dealt with.
    age = clock.now - survey.answered_at
    if survey.comment[1] and rng.random() < (0.9 if age > timedelta(days=7) else 0.3):
        survey.tagged_at = min(survey.answered_at + timedelta(hours=rng.uniform(1, 96)), clock.now)
    close = {"detractor": 0.7, "passive": 0.35, "promoter": 0.2}[category]
    if age > timedelta(days=10) and rng.random() < close:
        survey.closed_at = min(survey.answered_at + timedelta(days=rng.uniform(0.5, 10)), clock.now)


def _schedule(
    rng: random.Random, clock: _Clock, made: _Campaigns, person: _Person
) -> list[_Survey]:
    """The surveys the campaigns sent this person, with what became of them; the rules
    are the service's: per-campaign throttles, one survey a day at most, none once the
    address bounced or the person unsubscribed."""
    candidates: list[tuple[datetime, str, timedelta]] = []
    for at, name, _ in person.events:
        if at < clock.start:
            continue
        candidates.append((at, "default", timedelta(0)))
        if name == "Order Completed":
            candidates.append((at, "purchase", timedelta(days=1)))
        if name == "Invited Teammate":
            candidates.append((at, "onboarding", timedelta(days=3)))
    for blast in clock.blasts:
        if person.joined < blast - timedelta(days=30) and rng.random() < 0.5:
            candidates.append((blast, "relationship", timedelta(0)))
    candidates.sort(key=lambda c: c[0])
    last: dict[str, datetime] = {}
    last_any: datetime | None = None
    found: list[_Survey] = []
    for at, kind, delay in candidates:
        previous = last.get(kind)
        if previous is not None and at - previous < timedelta(days=made.throttle_days[kind]):
            continue
        if last_any is not None and at - last_any < timedelta(hours=24):
            continue
        scheduled = (
            at + delay + timedelta(seconds=rng.randint(0, 3600) if kind == "relationship" else 0)
        )
        if scheduled >= clock.now - timedelta(minutes=10):
            continue
        last[kind] = last_any = at
        survey = _Survey(person, made.ids[kind], kind, at, scheduled, None)
        found.append(survey)
        if person.bounces_at is not None and scheduled >= person.bounces_at:
            return found  # refused by the mail server: the contact is bounced
        survey.sent_at = scheduled + timedelta(seconds=rng.randint(2, 90))
        plan = person.company.plan_at(scheduled).plan
        rate = ANSWER_RATE[plan] * person.habit * (1.1 if kind == "purchase" else 1.0)
        if rng.random() < rate:
            delay_minutes = min(rng.lognormvariate(math.log(150), 1.4), 7 * 24 * 60)
            answered = survey.sent_at + timedelta(minutes=delay_minutes)
            if answered < clock.now:
                survey.answered_at = answered.replace(microsecond=0)
                mean = _mean_score(person, clock, kind, answered)
                survey.score = int(_clamp(round(rng.gauss(mean, 1.6)), 0, 10))
                _comment(rng, person, clock, survey)
        unsubscribe_rate = 0.004 if survey.score is None else 0.03 if survey.score <= 4 else 0
        if rng.random() < unsubscribe_rate:
            moment = (survey.answered_at or survey.sent_at) + timedelta(minutes=2)
            if moment < clock.now:
                survey.unsubscribed_at = moment
                return found
    return found


# --- writing -----------------------------------------------------------------------------


def _ingest(
    database: Database,
    ingestor: Ingestor,
    organization_id: int,
    messages: list[dict[str, Any]],
    received_at: datetime,
) -> None:
    results = ingest_messages(
        database=database,
        ingestor=ingestor,
        organization_id=organization_id,
        messages=messages,
        envelope=Envelope(received_at=received_at),
        allowed=TRACKING_API_TYPES,
    )
    refused = [r for r in results if r.status != "accepted"]
    if refused:
        raise RuntimeError(f"demo messages were not accepted: {refused[:3]}")


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _write_surveys(
    conn: Connection,
    organization_id: int,
    batch: list[_Survey],
    contact_ids: dict[str, int],
) -> None:
    for survey in batch:
        survey.token = new_token()
    rows = conn.execute(
        insert(surveys).returning(surveys.c.id, surveys.c.token),
        [
            {
                "organization_id": organization_id,
                "campaign_id": s.campaign_id,
                "contact_id": contact_ids[s.person.user_id],
                "status": "sent" if s.sent_at else "failed",
                "token": s.token,
                "trigger_event_id": None,
                "attributes": {},
                "scheduled_at": s.scheduled_at,
                "sent_at": s.sent_at,
                "created_at": s.created_at,
            }
            for s in batch
        ],
    ).all()
    survey_ids = {r.token: r.id for r in rows}
    conn.execute(
        insert(deliveries),
        [
            {
                "organization_id": organization_id,
                "survey_id": survey_ids[s.token],
                "kind": "survey",
                "status": "sent" if s.sent_at else "failed",
                "due_at": s.scheduled_at,
                "attempts": 1,
                "last_error": None
                if s.sent_at
                else f"550 5.1.1 <{s.person.email}>: Recipient address rejected: User unknown",
                "message_id": f"<{s.token[:20]}@promoter.example>" if s.sent_at else None,
                "sent_at": s.sent_at,
                "created_at": s.created_at,
            }
            for s in batch
        ],
    )
    for survey in batch:
        _answer(conn, organization_id, survey, contact_ids)


def _answer(
    conn: Connection, organization_id: int, survey: _Survey, contact_ids: dict[str, int]
) -> None:
    """What the contact did with the survey, through the service's own answer path."""
    if survey.sent_at is None:  # refused by the mail server
        conn.execute(
            update(contacts)
            .where(contacts.c.id == contact_ids[survey.person.user_id])
            .values(status="bounced", updated_at=survey.scheduled_at)
        )
        return
    if survey.score is None and survey.unsubscribed_at is None:
        return
    view = find_survey(conn, token=survey.token)
    assert view is not None
    if survey.score is not None and survey.answered_at is not None:
        record_score(conn, view, score=survey.score, now=survey.answered_at)
        view = replace(view, score=survey.score)
        response_id = int(
            conn.execute(
                select(responses.c.id).where(responses.c.survey_id == view.survey_id)
            ).scalar_one()
        )
        if survey.comment is not None:
            record_comment(conn, view, comment=survey.comment[0], now=survey.answered_at)
            if survey.tagged_at is not None:
                add_tags(
                    conn,
                    organization_id=organization_id,
                    response_id=response_id,
                    tags=survey.comment[1],
                    now=survey.tagged_at,
                )
        if survey.closed_at is not None:
            set_status(
                conn,
                organization_id=organization_id,
                response_id=response_id,
                status="CLOSED",
                now=survey.closed_at,
            )
    if survey.unsubscribed_at is not None:
        unsubscribe(conn, view, now=survey.unsubscribed_at)


def _setup_campaigns(conn: Connection, organization_id: int) -> _Campaigns:
    """The default campaign (made with the organization) and three more."""
    (default,) = campaigns.list_campaigns(conn, organization_id=organization_id)
    common = {"from_name": DEMO_ORGANIZATION, "brand_name": DEMO_ORGANIZATION}
    reply_to = "feedback@demo-inc.example"
    campaigns.update_template(
        conn,
        organization_id=organization_id,
        template_id=default.email_template_id,
        changes={
            **common,
            "subject": f"How likely are you to recommend {DEMO_ORGANIZATION}?",
            "reply_to": reply_to,
            "intro_message": "Thanks for using Demo Inc. One quick question, one click:",
        },
    )
    purchase_template = campaigns.create_template(
        conn,
        organization_id=organization_id,
        name="After a purchase",
        settings=TemplateSettings(
            subject="How was your order?",
            reply_to=reply_to,
            intro_message="Thank you for your order! How did it go?",
            **common,
        ),
    )
    purchase = campaigns.create_campaign(
        conn,
        organization_id=organization_id,
        settings=CampaignSettings(
            name="After a purchase",
            trigger_events=["Order Completed"],
            delay_minutes=24 * 60,
            throttle_days=30,
        ),
        template_id=purchase_template.id,
    )
    onboarding = campaigns.create_campaign(
        conn,
        organization_id=organization_id,
        settings=CampaignSettings(
            name="Onboarding check-in",
            trigger_events=["Invited Teammate"],
            delay_minutes=3 * 24 * 60,
            throttle_days=365,
        ),
        template_id=default.email_template_id,
    )
    relationship = campaigns.create_campaign(
        conn,
        organization_id=organization_id,
        settings=CampaignSettings(name="Relationship survey", kind="manual", throttle_days=50),
        template_id=default.email_template_id,
    )
    made = {
        "default": default,
        "purchase": purchase,
        "onboarding": onboarding,
        "relationship": relationship,
    }
    return _Campaigns(
        ids={kind: c.id for kind, c in made.items()},
        throttle_days={kind: c.throttle_days for kind, c in made.items()},
    )


def find_demo(conn: Connection) -> DemoLogin | None:
    """The demo, if it was made: its organization is the demo user's."""
    row = conn.execute(
        select(users.c.organization_id, organizations.c.name)
        .join(organizations, organizations.c.id == users.c.organization_id)
        .where(users.c.email == normalise_email(DEMO_EMAIL))
    ).first()
    if row is None:
        return None
    return DemoLogin(
        organization_id=row.organization_id,
        organization_name=row.name,
        email=DEMO_EMAIL,
        password=DEMO_PASSWORD,
        created=False,
    )


def discard_incomplete(database: Database) -> int:
    """Delete what interrupted builds left (organizations still named INCOMPLETE_NAME);
    return how many there were."""
    with database.write() as conn:
        found = list(
            conn.execute(
                select(organizations.c.id).where(organizations.c.name == INCOMPLETE_NAME)
            ).scalars()
        )
        for org_id in found:
            # Children first, so that no foreign key depends on cascades.
            for table in (
                response_tags,
                response_attributes,
                responses,
                deliveries,
                surveys,
                orders,
                events,
                processed_messages,
                campaigns_table,
                email_templates,
                contacts,
                contact_lists,
            ):
                conn.execute(delete(table).where(table.c.organization_id == org_id))
            conn.execute(delete(organizations).where(organizations.c.id == org_id))
    return len(found)


def ensure_demo(
    database: Database,
    passwords: Passwords,
    *,
    now: datetime,
    seed: int = DEFAULT_SEED,
    size: int = DEFAULT_CONTACTS,
) -> DemoLogin:
    """The demo organization: found if it exists, built otherwise."""
    with database.read() as conn:
        found = find_demo(conn)
    if found is not None:
        return found
    discard_incomplete(database)
    return build_demo(database, passwords, now=now, seed=seed, size=size)


def build_demo(
    database: Database,
    passwords: Passwords,
    *,
    now: datetime,
    seed: int = DEFAULT_SEED,
    size: int = DEFAULT_CONTACTS,
) -> DemoLogin:
    """Build the demo organization (use :func:`ensure_demo` to build it only once)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    clock = _Clock.at(now)
    people = _people(rng, clock, size)
    _activity(rng, clock, people)
    with database.write() as conn:
        org, key = orgs.create_organization(conn, name=INCOMPLETE_NAME)
        ids = _setup_campaigns(conn, org.id)
    sent = [s for person in people for s in _schedule(rng, clock, ids, person)]
    ingestor = Ingestor()
    numbers = iter(range(1, 10**9))

    # Sign-ups, a week at a time, received when the week's first one happened.
    weeks: dict[tuple[int, int], list[_Person]] = {}
    for person in sorted(people, key=lambda p: p.joined):
        year, week, _ = person.joined.isocalendar()
        weeks.setdefault((year, week), []).append(person)
    for joined in weeks.values():
        for chunk in _chunks(joined, INGEST_BATCH):
            messages = [_identify(p, clock, p.joined, next(numbers)) for p in chunk]
            _ingest(database, ingestor, org.id, messages, chunk[0].joined)

    # Their events, in time order, each batch received once its last event happened.
    tracks = sorted(
        ((at, name, props, p) for p in people for at, name, props in p.events),
        key=lambda e: e[0],
    )
    for chunk in _chunks(tracks, INGEST_BATCH):
        messages = [
            {
                "type": "track",
                "messageId": f"demo-track-{next(numbers)}",
                "userId": person.user_id,
                "event": name,
                "properties": props,
                "timestamp": at.isoformat(),
                "context": {"timezone": person.timezone},
            }
            for at, name, props, person in chunk
        ]
        _ingest(database, ingestor, org.id, messages, min(chunk[-1][0] + timedelta(minutes=1), now))

    with database.read() as conn:
        contact_ids = {
            str(r.user_id): int(r.id)
            for r in conn.execute(
                select(contacts.c.user_id, contacts.c.id).where(
                    contacts.c.organization_id == org.id
                )
            )
        }

    # Surveys and answers in time order, with plan changes where they happened, so each
    # answer keeps the attributes its contact had then.
    timeline: list[tuple[datetime, _Survey | list[_Person]]] = [(s.at, s) for s in sent]
    for members in _teams(people):
        for change in members[0].company.plans[1:]:
            changed = [p for p in members if p.joined < change.at]
            if changed:
                timeline.append((change.at, changed))
    timeline.sort(key=lambda item: item[0])
    batch: list[_Survey] = []

    def flush() -> None:
        if batch:
            with database.write() as conn:
                _write_surveys(conn, org.id, batch, contact_ids)
            batch.clear()

    for at, item in timeline:
        if isinstance(item, _Survey):
            batch.append(item)
            if len(batch) >= ANSWER_BATCH:
                flush()
            continue
        flush()
        messages = [_identify(p, clock, at, next(numbers)) for p in item]
        _ingest(database, ingestor, org.id, messages, at)
    flush()

    founded = min(p.joined for p in people) - timedelta(days=10)
    with database.write() as conn:
        # The company has used Promoter since before its first customer.
        conn.execute(
            update(organizations)
            .where(organizations.c.id == org.id)
            .values(name=DEMO_ORGANIZATION, created_at=founded)
        )
        for table in (campaigns_table, email_templates):
            conn.execute(
                update(table)
                .where(table.c.organization_id == org.id)
                .values(created_at=founded, updated_at=founded)
            )
        conn.execute(
            update(contact_lists)
            .where(contact_lists.c.organization_id == org.id)
            .values(created_at=founded)
        )
        create_user(
            conn,
            passwords,
            organization_id=org.id,
            email=DEMO_EMAIL,
            password=DEMO_PASSWORD,
            name="Demo User",
            now=now,
        )
    return DemoLogin(
        organization_id=org.id,
        organization_name=DEMO_ORGANIZATION,
        email=DEMO_EMAIL,
        password=DEMO_PASSWORD,
        created=True,
        api_key=key.key,
        contacts=len(contact_ids),
        events=len(tracks),
        responses=sum(1 for s in sent if s.score is not None),
    )


def _teams(people: list[_Person]) -> list[list[_Person]]:
    """People by company, in the order the companies first appear."""
    teams: dict[str, list[_Person]] = {}
    for person in people:
        teams.setdefault(person.company.name, []).append(person)
    return list(teams.values())
