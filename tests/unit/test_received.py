"""The in-memory window of each organization's latest messages (the live Segment view)."""

from __future__ import annotations

from datetime import UTC, datetime

from promoter.ingest.received import ReceivedLog
from promoter.ingest.results import MessageResult

AT = datetime(2026, 5, 1, tzinfo=UTC)


def _record(log: ReceivedLog, org: int, ids: range) -> None:
    messages = [
        {"type": "track", "event": f"E{i}", "userId": f"u{i}", "messageId": f"m{i}"} for i in ids
    ]
    results = [MessageResult(n, f"m{i}", "accepted") for n, i in enumerate(ids)]
    log.record(org, way="tracking", at=AT, messages=messages, results=results)


def test_newest_first_and_bounded_per_organization() -> None:
    log = ReceivedLog(keep=5)
    _record(log, 1, range(3))
    _record(log, 1, range(3, 6))
    latest = log.latest(1, limit=10)
    assert [r.message_id for r in latest] == ["m5", "m4", "m3", "m2", "m1"]
    assert (latest[0].type, latest[0].event, latest[0].user_id) == ("track", "E5", "u5")
    assert log.latest(1, limit=2)[-1].message_id == "m4"
    assert log.latest(2) == []


def test_a_request_larger_than_the_window_keeps_its_newest_messages() -> None:
    log = ReceivedLog(keep=4)
    _record(log, 1, range(10))
    assert [r.message_id for r in log.latest(1)] == ["m9", "m8", "m7", "m6"]
    assert [r.event for r in log.latest(1)] == ["E9", "E8", "E7", "E6"]


def test_the_least_recently_active_organization_is_forgotten_first() -> None:
    log = ReceivedLog(keep=3, organizations=2)
    _record(log, 1, range(1))
    _record(log, 2, range(1))
    _record(log, 1, range(1, 2))  # 1 is now the most recently active
    log.refused(3, way="destination", at=AT, reason="bad signature")
    assert log.latest(2) == []
    assert [r.message_id for r in log.latest(1)] == ["m1", "m0"]
    (refused,) = log.latest(3)
    assert (refused.status, refused.reason, refused.way) == (
        "rejected",
        "bad signature",
        "destination",
    )
