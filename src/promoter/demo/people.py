"""The demo's customers: companies (country, industry, plan and its changes) and the
people who work there, with the traits Segment sends about them."""

from __future__ import annotations

import math
import random
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from promoter.demo.clock import Clock, between

Plan = Literal["Free", "Starter", "Pro", "Enterprise"]
PLANS: tuple[Plan, ...] = ("Free", "Starter", "Pro", "Enterprise")
PLAN_WEIGHTS = (40, 30, 22, 8)
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


@dataclass(frozen=True, slots=True)
class PlanChange:
    at: datetime
    plan: Plan
    seats: int


@dataclass(slots=True)
class Company:
    name: str
    domain: str
    industry: str
    country: str
    zones: tuple[str, ...]
    currency: str
    signed_up: datetime
    mood: float
    #: The plan from sign-up, then each change, in time order.
    plans: list[PlanChange]

    def plan_at(self, at: datetime) -> PlanChange:
        current = self.plans[0]
        for change in self.plans[1:]:
            if change.at <= at:
                current = change
        return current

    def size(self, plan: Plan) -> str:
        sizes = SIZES[plan]
        return sizes[sum(map(ord, self.name)) % len(sizes)]


@dataclass(slots=True)
class Person:
    user_id: str
    email: str
    first_name: str
    last_name: str
    role: str
    company: Company
    timezone: str
    joined: datetime
    mood: float
    habit: float
    activity: float
    language: str
    #: When mail to this address starts bouncing (they left the company), if ever.
    bounces_at: datetime | None
    events: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)


def _weighted(rng: random.Random, options: Sequence[Any], weights: Sequence[float]) -> Any:
    return rng.choices(options, weights=weights, k=1)[0]


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def _seats(rng: random.Random, plan: Plan) -> int:
    low, high = SEATS[plan]
    return round(math.exp(rng.uniform(math.log(low), math.log(high))))


def _companies(rng: random.Random, clock: Clock) -> Iterator[Company]:
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
        company = Company(
            name=name,
            domain=f"{_ascii(base)}-{code.lower()}.example",
            industry=rng.choice(list(INDUSTRIES)),
            country=code,
            zones=zones,
            currency=currency,
            signed_up=signed_up,
            mood=rng.gauss(0, 0.5),
            plans=[PlanChange(signed_up, plan, _seats(rng, plan))],
        )
        _change_plan(rng, clock, company)
        yield company


def _change_plan(rng: random.Random, clock: Clock, company: Company) -> None:
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
        at = between(rng, earliest, latest)
    elif draw < 0.2 and first.plan in ("Starter", "Pro"):
        plan = PLANS[index - 1]
        after = max(earliest, clock.pricing_change)
        at = between(rng, after, min(latest, after + timedelta(days=90)))
        if at <= earliest:
            return
    else:
        return
    seats = max(_seats(rng, plan), first.seats) if index < PLANS.index(plan) else first.seats
    seats = min(seats, SEATS[plan][1]) if plan == "Free" else seats
    company.plans.append(PlanChange(at.replace(microsecond=0), plan, seats))


def make_people(rng: random.Random, clock: Clock, count: int) -> list[Person]:
    """``count`` people, a company's team at a time."""
    people: list[Person] = []
    emails: set[str] = set()
    companies = _companies(rng, clock)
    while len(people) < count:
        company = next(companies)
        plan = company.plans[0].plan
        team = min(rng.randint(*TEAM[plan]), count - len(people))
        for member in range(team):
            people.append(_person(rng, clock, company, member, len(people), emails))
    return people


def _person(
    rng: random.Random, clock: Clock, company: Company, member: int, number: int, emails: set[str]
) -> Person:
    """The team's ``member``-th person (the first one signed the company up)."""
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
    return Person(
        user_id=f"usr_{number:04d}{rng.getrandbits(32):08x}",
        email=email,
        first_name=first,
        last_name=last,
        role=role,
        company=company,
        timezone=rng.choice(company.zones),
        joined=joined,
        mood=rng.gauss(0, 0.8),
        habit=max(0.2, min(1.8, rng.gauss(1, 0.35))),
        activity=rng.lognormvariate(0, 0.5),
        language=language if rng.random() < 0.6 else "en",
        bounces_at=between(rng, clock.start, clock.now) if rng.random() < 0.02 else None,
    )


def teams(people: list[Person]) -> list[list[Person]]:
    """People by company, in the order the companies first appear."""
    found: dict[str, list[Person]] = {}
    for person in people:
        found.setdefault(person.company.name, []).append(person)
    return list(found.values())


def _traits(person: Person, clock: Clock, at: datetime) -> dict[str, Any]:
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


def identify(person: Person, clock: Clock, at: datetime, number: int) -> dict[str, Any]:
    return {
        "type": "identify",
        "messageId": f"demo-identify-{number}",
        "userId": person.user_id,
        "timestamp": at.isoformat(),
        "context": {"timezone": person.timezone},
        "traits": _traits(person, clock, at),
    }
