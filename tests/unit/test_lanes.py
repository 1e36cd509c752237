"""How a request's operations are split across PostgreSQL's write lanes."""

from __future__ import annotations

from datetime import UTC, datetime

from promoter.domain.messages import Delete, Identify, Ignored, Operation, Track
from promoter.ingest.pipeline import split_by_lane
from promoter.ingest.service import IngestRequest
from promoter.ingest.writes import USER_LOCK_BUCKETS, user_bucket, user_lane

AT = datetime(2026, 12, 7, tzinfo=UTC)


def _users_in_lanes() -> tuple[str, str]:
    """A userId of lane 0 and one of lane 1 (of 2)."""
    found: dict[int, str] = {}
    for i in range(100):
        found.setdefault(user_lane(f"user-{i}", 2), f"user-{i}")
    return found[0], found[1]


def _identify(message_id: str, user: str) -> Identify:
    return Identify(message_id, user, AT, f"{user}@x.co", None, None, None)


def _track(message_id: str, user: str) -> Track:
    return Track(message_id, user, AT, "Logged In", {}, None, None)


def test_a_users_operations_stay_together_in_order_in_its_lane() -> None:
    a, b = _users_in_lanes()
    ops: list[tuple[int, Operation]] = [
        (0, _track("m0", b)),
        (1, _identify("m1", a)),
        (2, Ignored("m2", "page calls are not used")),
        (3, _identify("m3", b)),
        (4, _track("m4", a)),
        (5, Delete("m5", b, AT)),
    ]
    request = IngestRequest(7, ops, AT)
    parts = split_by_lane(request, 2)
    assert [lane for lane, _ in parts] == [0, 1]
    zero, one = (part for _, part in parts)
    # Ignored messages go with the first part, in index order.
    assert [i for i, _ in zero.operations] == [1, 2, 4]
    assert [i for i, _ in one.operations] == [0, 3, 5]
    assert zero.organization_id == one.organization_id == 7
    assert zero.received_at == one.received_at == AT


def test_messages_sharing_a_message_id_go_with_the_first() -> None:
    """The first is applied and the others are duplicates, as in one transaction."""
    a, b = _users_in_lanes()
    ops: list[tuple[int, Operation]] = [(0, _track("same", b)), (1, _identify("same", a))]
    parts = split_by_lane(IngestRequest(1, ops, AT), 2)
    assert [(lane, [i for i, _ in part.operations]) for lane, part in parts] == [(1, [0, 1])]


def test_one_lane_or_nothing_to_split_keeps_the_request() -> None:
    a, b = _users_in_lanes()
    request = IngestRequest(1, [(0, _track("m0", a)), (1, _track("m1", b))], AT)
    assert split_by_lane(request, 1) == [(0, request)]
    only_ignored = IngestRequest(1, [(0, Ignored("m0", "screen"))], AT)
    assert split_by_lane(only_ignored, 2) == [(0, only_ignored)]
    one_user = IngestRequest(1, [(0, _track("m0", b)), (1, _identify("m1", b))], AT)
    assert split_by_lane(one_user, 2) == [(1, one_user)]


def test_lanes_never_share_a_lock_bucket() -> None:
    users = [f"u{i}" for i in range(2000)] + ["", "ünïcødé ✓", "x" * 300]
    buckets: dict[int, set[int]] = {0: set(), 1: set()}
    for user in users:
        assert 0 <= user_bucket(user) < USER_LOCK_BUCKETS
        buckets[user_lane(user, 2)].add(user_bucket(user))
    assert not buckets[0] & buckets[1]
    assert len(buckets[0]) + len(buckets[1]) == USER_LOCK_BUCKETS  # every bucket is used
