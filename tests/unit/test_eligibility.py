from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from promoter.domain.eligibility import PastSurvey, decide, history_window

NOW = datetime(2026, 6, 10, 12, tzinfo=UTC)


def check(history: list[PastSurvey], status: str = "active", email: bool = True):  # type: ignore[no-untyped-def]
    return decide(
        contact_status=status,
        has_email=email,
        campaign_id=1,
        throttle_days=90,
        history=history,
        now=NOW,
    )


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def test_a_fresh_contact_is_eligible() -> None:
    assert check([]).eligible


@pytest.mark.parametrize("status", ["unsubscribed", "bounced", "inactive"])
def test_suppressed_contacts_never_are(status: str) -> None:
    decision = check([], status=status)
    assert not decision.eligible and status in decision.reason


def test_no_email_no_survey() -> None:
    assert not check([], email=False).eligible


def test_throttle_within_campaign() -> None:
    decision = check([PastSurvey(1, "answered", ago(days=89))])
    assert not decision.eligible and "every 90 days" in decision.reason
    assert check([PastSurvey(1, "answered", ago(days=91))]).eligible


def test_twenty_four_hour_floor_across_campaigns() -> None:
    decision = check([PastSurvey(2, "sent", ago(hours=23))])
    assert not decision.eligible and "24 hours" in decision.reason
    assert check([PastSurvey(2, "sent", ago(hours=25))]).eligible


def test_one_pending_survey_per_campaign() -> None:
    decision = check([PastSurvey(1, "scheduled", ago(days=200))])
    assert not decision.eligible and "already scheduled" in decision.reason


def test_cancelled_and_failed_surveys_do_not_count() -> None:
    assert check(
        [PastSurvey(1, "cancelled", ago(hours=1)), PastSurvey(2, "failed", ago(hours=1))]
    ).eligible


def test_history_window_covers_the_longest_rule() -> None:
    assert history_window([30, 90]) == timedelta(days=90)
    assert history_window([]) == timedelta(hours=24)


def test_the_cooldown_spans_campaigns_and_channels() -> None:
    def cooled(history: list[PastSurvey], days: int = 30) -> bool:
        return not decide(
            contact_status="active",
            has_email=True,
            campaign_id=1,
            throttle_days=90,
            history=history,
            now=NOW,
            cooldown_days=days,
        ).eligible

    assert cooled([PastSurvey(2, "sent", ago(days=29))])
    assert cooled([PastSurvey(2, "dismissed", ago(days=29))])  # dismissed in the app
    assert not cooled([PastSurvey(2, "sent", ago(days=31))])
    assert not cooled([PastSurvey(2, "cancelled", ago(days=1))])
    # 0 leaves the 24-hour floor.
    assert not cooled([PastSurvey(2, "sent", ago(hours=25))], days=0)
    assert cooled([PastSurvey(2, "sent", ago(hours=23))], days=0)
    assert history_window([7], 30) == timedelta(days=30)


def test_the_web_survey_needs_no_email() -> None:
    assert decide(
        contact_status="active",
        has_email=False,
        campaign_id=1,
        throttle_days=90,
        history=[],
        now=NOW,
        needs_email=False,
    ).eligible
