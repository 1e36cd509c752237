"""The surveys the demo's campaigns sent each person, under the service's rules, and what
became of each: answered (a score, maybe a comment the team tags and closes), bounced,
or unsubscribed."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from promoter.demo.campaigns import IMPROVEMENTS, Campaigns
from promoter.demo.clock import Clock
from promoter.demo.comments import COMMENTS, Category, Comment
from promoter.demo.people import INDUSTRIES, PLANS, ROLES, Person, Plan
from promoter.domain.nps import score_type

#: The mean score of each plan before any other effect (Enterprise and Pro are happier).
PLAN_MEAN: dict[Plan, float] = {"Free": 7.3, "Starter": 7.9, "Pro": 8.5, "Enterprise": 8.9}
#: How much the pricing change lowered each plan's mean score at first.
PRICING_DIP: dict[Plan, float] = {"Free": 1.9, "Starter": 2.2, "Pro": 1.0, "Enterprise": 0.3}
#: The chance that a survey of each plan's contacts is answered (before personal habits).
ANSWER_RATE: dict[Plan, float] = {"Free": 0.34, "Starter": 0.4, "Pro": 0.46, "Enterprise": 0.5}
COUNTRY_EFFECT = {"JP": -0.6, "DE": -0.2, "NL": -0.1, "BR": 0.3, "MX": 0.3, "IN": 0.2}


@dataclass(slots=True)
class Survey:
    person: Person
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
    #: Answers to the campaign's follow-up questions: question id -> values.
    answers: dict[str, list[str]] = field(default_factory=dict)

    @property
    def at(self) -> datetime:
        """When this survey's last effect happened (its answer, or its sending)."""
        moments = [self.answered_at, self.unsubscribed_at, self.sent_at, self.scheduled_at]
        return max(m for m in moments if m is not None)


def schedule(rng: random.Random, clock: Clock, made: Campaigns, person: Person) -> list[Survey]:
    """The surveys the campaigns sent this person, with what became of them; the rules
    are the service's: per-campaign throttles, one survey a day at most, none once the
    address bounced or the person unsubscribed."""
    last: dict[str, datetime] = {}
    last_any: datetime | None = None
    found: list[Survey] = []
    for at, kind, delay in _candidates(rng, clock, person):
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
        survey = Survey(person, made.ids[kind], kind, at, scheduled, None)
        found.append(survey)
        if person.bounces_at is not None and scheduled >= person.bounces_at:
            return found  # refused by the mail server: the contact is bounced
        sent_at = survey.sent_at = scheduled + timedelta(seconds=rng.randint(2, 90))
        _answer(rng, clock, survey, sent_at)
        if _unsubscribes(rng, clock, survey, sent_at):
            return found
    return found


def _candidates(
    rng: random.Random, clock: Clock, person: Person
) -> list[tuple[datetime, str, timedelta]]:
    """Each moment a campaign would survey ``person``, its kind and its delay, in time order."""
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
    return candidates


def _answer(rng: random.Random, clock: Clock, survey: Survey, sent_at: datetime) -> None:
    """Whether and when the person answers, with what score and comment."""
    person = survey.person
    plan = person.company.plan_at(survey.scheduled_at).plan
    rate = ANSWER_RATE[plan] * person.habit * (1.1 if survey.kind == "purchase" else 1.0)
    if not rng.random() < rate:
        return
    delay_minutes = min(rng.lognormvariate(math.log(150), 1.4), 7 * 24 * 60)
    answered = sent_at + timedelta(minutes=delay_minutes)
    if not answered < clock.now:
        return
    answered_at = survey.answered_at = answered.replace(microsecond=0)
    mean = _mean_score(person, clock, survey.kind, answered)
    score = survey.score = max(0, min(10, round(rng.gauss(mean, 1.6))))
    category = score_type(score)
    if survey.kind == "purchase":
        _purchase_answers(survey, score)
    if _comment(rng, clock, survey, category, answered_at):
        _follow_up(rng, clock, survey, category, answered_at)


def _purchase_answers(survey: Survey, score: int) -> None:
    """The purchase survey's follow-up answers: the delivery's ease follows the score;
    detractors most often blame delivery time. Drawn from a generator of their own, so
    the rest of the demo is the same with or without them."""
    own = random.Random(f"{survey.person.user_id}:{survey.scheduled_at.isoformat()}")
    if own.random() < 0.8:
        survey.answers["delivery"] = [str(max(1, min(5, round(score / 2 + own.gauss(0, 0.7)))))]
    if score <= 6 and own.random() < 0.75:
        weights = (0.45, 0.15, 0.3, 0.1)
        survey.answers["improve"] = own.choices(IMPROVEMENTS, weights=weights)


def _unsubscribes(rng: random.Random, clock: Clock, survey: Survey, sent_at: datetime) -> bool:
    """Whether the person unsubscribes (from the survey, answered or not)."""
    unsubscribe_rate = 0.004 if survey.score is None else 0.03 if survey.score <= 4 else 0
    if not rng.random() < unsubscribe_rate:
        return False
    moment = (survey.answered_at or sent_at) + timedelta(minutes=2)
    if not moment < clock.now:
        return False
    survey.unsubscribed_at = moment
    return True


def _mean_score(person: Person, clock: Clock, kind: str, at: datetime) -> float:
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


def _comment(
    rng: random.Random, clock: Clock, survey: Survey, category: Category, answered_at: datetime
) -> bool:
    """Whether the person comments, and what: around the pricing change, the unhappy
    talk about pricing."""
    if rng.random() >= {"detractor": 0.62, "passive": 0.4, "promoter": 0.45}[category]:
        return False
    pool = COMMENTS.get(survey.person.language, COMMENTS["en"])[category]
    since = (answered_at - clock.pricing_change).total_seconds() / 86400
    if category != "promoter" and 0 <= since < 75 and rng.random() < 0.6:
        pool = tuple(c for c in pool if "pricing" in c[1]) or pool
    survey.comment = rng.choice(pool)
    return True


def _follow_up(
    rng: random.Random, clock: Clock, survey: Survey, category: Category, answered_at: datetime
) -> None:
    """The team reads feedback and tags it, mostly within a week; older feedback is more
    likely to have been dealt with (closed)."""
    assert survey.comment is not None
    age = clock.now - answered_at
    if survey.comment[1] and rng.random() < (0.9 if age > timedelta(days=7) else 0.3):
        survey.tagged_at = min(answered_at + timedelta(hours=rng.uniform(1, 96)), clock.now)
    close = {"detractor": 0.7, "passive": 0.35, "promoter": 0.2}[category]
    if age > timedelta(days=10) and rng.random() < close:
        survey.closed_at = min(answered_at + timedelta(days=rng.uniform(0.5, 10)), clock.now)
