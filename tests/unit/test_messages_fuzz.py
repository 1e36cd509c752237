"""Property tests: any JSON value is either parsed or refused with a reason, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from promoter.domain.errors import InvalidMessage
from promoter.domain.messages import Envelope, Identify, Ignored, Track, parse_message
from promoter.ingest.pipeline import DESTINATION_TYPES, TRACKING_API_TYPES

NOW = datetime(2026, 3, 1, tzinfo=UTC)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
types = st.sampled_from(
    ["identify", "track", "page", "screen", "group", "alias", "delete", "Identify", "x", ""]
)
dates = st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat) | st.text(max_size=25)

messages = st.fixed_dictionaries(
    {},
    optional={
        "type": types | json_values,
        "action": types,
        "userId": st.text(max_size=20) | st.integers() | json_values,
        "messageId": st.text(max_size=120) | json_values,
        "event": st.text(max_size=40) | json_values,
        "traits": st.dictionaries(st.text(max_size=12), json_values, max_size=6) | json_values,
        "properties": st.dictionaries(st.text(max_size=12), json_values, max_size=6),
        "timestamp": dates,
        "sentAt": dates,
        "originalTimestamp": dates,
        "context": st.dictionaries(st.text(max_size=8), json_values, max_size=3) | json_values,
        "integrations": st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    },
)


def _check(message: Any, allowed: frozenset[str], correct_clock: bool) -> None:
    envelope = Envelope(received_at=NOW, sent_at=NOW, correct_clock=correct_clock)
    try:
        op = parse_message(message, envelope, allowed=allowed)
    except InvalidMessage as exc:
        assert str(exc)
        return
    assert isinstance(op, Identify | Track | Ignored) or op.user_id
    if isinstance(op, Identify | Track):
        assert op.timestamp.tzinfo is not None
        assert 0 < len(op.message_id) <= 100 and 0 < len(op.user_id) <= 255


@settings(max_examples=400, deadline=None)
@given(message=messages, clock=st.booleans())
@example(
    message={
        "type": "track",
        "userId": "u",
        "event": "E",
        "timestamp": "0001-01-01T00:00:00Z",
        "sentAt": "9999-12-31T00:00:00Z",
    },
    clock=True,
)
def test_structured_messages_parse_or_say_why(message: dict[str, Any], clock: bool) -> None:
    _check(message, TRACKING_API_TYPES, clock)
    _check(message, DESTINATION_TYPES, clock)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_arbitrary_json_parses_or_says_why(value: Any) -> None:
    _check(value, TRACKING_API_TYPES, True)
