"""The year of events the demo's people send: sign-ups, logins, features used, reports
exported, orders (with products, coupons and tax), and teammates invited."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import count
from typing import Any

from promoter.demo.clock import Clock, moments
from promoter.demo.people import Person, Plan, teams

Event = tuple[datetime, str, dict[str, Any]]

#: Logins per month; the other events follow from it.
ACTIVITY: dict[Plan, float] = {"Free": 1.6, "Starter": 3.2, "Pro": 4.5, "Enterprise": 5.0}
#: Orders (add-ons, seat packs, services) per contact and month.
ORDER_RATE: dict[Plan, float] = {"Free": 0.04, "Starter": 0.2, "Pro": 0.28, "Enterprise": 0.32}

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
VAT = {"GB": 0.2, "DE": 0.19, "FR": 0.2, "NL": 0.21, "ES": 0.21, "SE": 0.25, "AT": 0.2}


def _order(rng: random.Random, person: Person, number: int, plan: Plan) -> dict[str, Any]:
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


def add_activity(rng: random.Random, clock: Clock, people: list[Person]) -> None:
    """Each person's events in the generated history (orders included), in time order."""
    order_numbers = count(1)
    for person in people:
        person.events = _events(rng, clock, person, order_numbers)
    _invitations(rng, clock, people)
    for person in people:
        person.events.sort(key=lambda e: e[0])


def _events(
    rng: random.Random, clock: Clock, person: Person, order_numbers: Iterator[int]
) -> list[Event]:
    """What ``person`` did, but for inviting teammates."""
    start = max(person.joined, clock.start)
    end = clock.now - timedelta(minutes=5)
    found: list[Event] = []
    if person.joined >= clock.start:
        found.append((person.joined, "Signed Up", {"method": rng.choice(("email", "google"))}))
    plan = person.company.plan_at(end).plan
    rate = ACTIVITY[plan] * person.activity
    method = "sso" if plan == "Enterprise" else rng.choice(("password", "google"))
    for at in moments(rng, start, end, rate):
        found.append((at, "Logged In", {"method": method}))
    favourites = rng.sample(FEATURES, 3)
    for at in moments(rng, start, end, rate * 0.6):
        feature = rng.choice(favourites) if rng.random() < 0.7 else rng.choice(FEATURES)
        found.append((at, "Feature Used", {"feature": feature}))
    for at in moments(rng, start, end, rate * 0.15):
        found.append(
            (
                at,
                "Exported Report",
                {"report": rng.choice(REPORTS), "format": rng.choice(("csv", "pdf", "xlsx"))},
            )
        )
    for at in moments(rng, start, end, ORDER_RATE[plan]):
        order_plan = person.company.plan_at(at).plan
        found.append((at, "Order Completed", _order(rng, person, next(order_numbers), order_plan)))
    return found


def _invitations(rng: random.Random, clock: Clock, people: list[Person]) -> None:
    """The first member of each team invites the others as they join."""
    for team in teams(people):
        owner = team[0]
        for member in team[1:]:
            if member.joined >= clock.start:
                invited = member.joined - timedelta(minutes=rng.randint(5, 600))
                props = {"invitee_email": member.email, "invitee_role": member.role}
                owner.events.append((max(invited, owner.joined), "Invited Teammate", props))


def track(person: Person, event: Event, number: int) -> dict[str, Any]:
    """The Segment message of one of ``person``'s events."""
    at, name, props = event
    return {
        "type": "track",
        "messageId": f"demo-track-{number}",
        "userId": person.user_id,
        "event": name,
        "properties": props,
        "timestamp": at.isoformat(),
        "context": {"timezone": person.timezone},
    }
