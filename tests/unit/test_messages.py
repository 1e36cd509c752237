from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from promoter.domain.attributes import AttributeValue
from promoter.domain.errors import InvalidMessage, UnsupportedType
from promoter.domain.messages import Delete, Envelope, Identify, Ignored, Track, parse_message
from promoter.ingest.pipeline import DESTINATION_TYPES, TRACKING_API_TYPES

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ENVELOPE = Envelope(received_at=NOW)


def parse(message: object, envelope: Envelope = ENVELOPE, allowed=TRACKING_API_TYPES):  # type: ignore[no-untyped-def]
    return parse_message(message, envelope, allowed=allowed)


def test_seed_example_with_legacy_action_is_an_identify() -> None:
    op = parse(
        {
            "userId": "12345",
            "action": "identify",
            "traits": {
                "email": "ted@mosbiusdesigns.com",
                "firstName": "Ted",
                "lastName": "Mosby",
                "plan": "Premium",
            },
        }
    )
    assert isinstance(op, Identify)
    assert (op.user_id, op.email, op.first_name, op.last_name) == (
        "12345",
        "ted@mosbiusdesigns.com",
        "Ted",
        "Mosby",
    )
    assert op.attributes == {"plan": AttributeValue("string", text="Premium")}
    assert op.timestamp == NOW


def test_type_wins_over_action_and_is_case_insensitive() -> None:
    op = parse({"type": "Track", "action": "identify", "userId": "u", "event": "Signed Up"})
    assert isinstance(op, Track)


@pytest.mark.parametrize(
    ("traits", "first", "last"),
    [
        ({"first_name": "Ada", "last_name": "Lovelace"}, "Ada", "Lovelace"),
        ({"name": "Ada King Lovelace"}, "Ada", "King Lovelace"),
        ({"name": "Cher"}, "Cher", None),
        ({"firstName": "Ada", "name": "Someone Else"}, "Ada", None),
    ],
)
def test_names_from_every_spelling(traits: dict[str, str], first: str, last: str | None) -> None:
    op = parse({"type": "identify", "userId": "u", "traits": {"email": "a@b.co", **traits}})
    assert isinstance(op, Identify)
    assert (op.first_name, op.last_name) == (first, last)
    assert op.attributes == {}


def test_traits_keep_their_json_types_and_nested_objects_flatten() -> None:
    op = parse(
        {
            "type": "identify",
            "userId": "u",
            "traits": {
                "email": "a@b.co",
                "seats": 12,
                "mrr": 99.5,
                "trial": False,
                "createdAt": "2024-05-06T07:08:09Z",
                "birthday": "1990-01-02",
                "company": {"name": "Acme", "plan": {"tier": "gold"}, "empty": {}},
                "tags": ["a", "b"],
                "nothing": [],
                "plan": None,
            },
        }
    )
    assert isinstance(op, Identify)
    attrs = op.attributes
    assert attrs["seats"] == AttributeValue("number", text="12", number=12.0)
    assert attrs["mrr"].number == 99.5  # type: ignore[union-attr]
    assert attrs["trial"] == AttributeValue("boolean", text="false", number=0.0)
    assert attrs["createdAt"].type == "date"  # type: ignore[union-attr]
    assert attrs["createdAt"].date == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)  # type: ignore[union-attr]
    assert attrs["birthday"].date == datetime(1990, 1, 2, tzinfo=UTC)  # type: ignore[union-attr]
    assert attrs["company.name"].text == "Acme"  # type: ignore[union-attr]
    assert attrs["company.plan.tier"].text == "gold"  # type: ignore[union-attr]
    assert attrs["tags"] == AttributeValue("list", text='["a","b"]')
    assert "nothing" not in attrs and "company.empty" not in attrs
    assert attrs["plan"] is None  # explicit null removes the attribute
    assert attrs["seats"].to_json() == 12  # type: ignore[union-attr]
    assert attrs["trial"].to_json() is False  # type: ignore[union-attr]


def test_a_string_that_only_looks_like_a_date_stays_a_string() -> None:
    op = parse({"type": "identify", "userId": "u", "traits": {"code": "2024-13-45"}})
    assert isinstance(op, Identify)
    assert op.attributes["code"] == AttributeValue("string", text="2024-13-45")


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"type": "identify", "traits": {"email": "a@b.co"}}, "`userId` is required"),
        ({"type": "identify", "userId": "  ", "traits": {}}, "`userId` is required"),
        ({"type": "identify", "userId": "u", "traits": {"email": "nope"}}, "not a valid address"),
        ({"type": "identify", "userId": "u", "traits": {"email": 42}}, "must be a string"),
        ({"type": "identify", "userId": "u", "traits": "x"}, "`traits` must be an object"),
        ({"type": "track", "userId": "u"}, "needs an `event`"),
        ({"type": "track", "userId": "u", "event": "x" * 300}, "longer than 255"),
        ({"type": "track", "userId": "u", "event": "E", "properties": [1]}, "must be an object"),
        ({"userId": "u"}, "no `type`"),
        ([1, 2], "JSON object"),
        ({"type": "track", "userId": "u", "event": "E", "messageId": "m" * 101}, "messageId"),
        ({"type": "track", "userId": "u", "event": "E", "timestamp": "yesterday"}, "ISO-8601"),
        ({"type": "track", "userId": "u", "event": "E", "context": "x"}, "`context`"),
        ({"type": "identify", "userId": "u", "traits": {"": 1}}, "must not be empty"),
        ({"type": "identify", "userId": "u", "traits": {"x" * 300: 1}}, "exceeds 255"),
        ({"type": "identify", "userId": "u", "traits": {"big": "x" * 10_001}}, "limited"),
    ],
)
def test_invalid_messages_say_why(message: object, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason.replace("`", ".").replace("(", ".")):
        parse(message)


def test_identify_without_email_parses_so_an_existing_contact_can_be_updated() -> None:
    op = parse({"type": "identify", "userId": "u", "traits": {"plan": "Pro"}})
    assert isinstance(op, Identify) and op.email is None


def test_numeric_user_id_is_read_as_text() -> None:
    op = parse({"type": "track", "userId": 42, "event": "E"})
    assert isinstance(op, Track) and op.user_id == "42"


def test_destination_answers_unsupported_for_page_and_tracking_api_ignores_it() -> None:
    with pytest.raises(UnsupportedType):
        parse({"type": "page", "userId": "u"}, allowed=DESTINATION_TYPES)
    with pytest.raises(UnsupportedType):
        parse({"type": "launch", "userId": "u"})
    assert isinstance(parse({"type": "alias", "userId": "u", "previousId": "a"}), Ignored)


def test_delete_is_keyed_by_user_id() -> None:
    op = parse({"type": "delete", "userId": "u", "messageId": "del-1"}, allowed=DESTINATION_TYPES)
    assert op == Delete("del-1", "u", NOW)


@pytest.mark.parametrize(
    ("integrations", "enabled"),
    [
        ({"All": False}, False),
        ({"All": False, "Promoter": True}, True),
        ({"All": True, "Promoter.io": False}, False),
        ({"Promoter": {"some": "setting"}}, True),
        ({}, True),
    ],
)
def test_integrations_switch(integrations: dict[str, object], enabled: bool) -> None:
    op = parse({"type": "track", "userId": "u", "event": "E", "integrations": integrations})
    assert isinstance(op, Track) is enabled


def test_batch_context_and_integrations_merge_into_messages() -> None:
    envelope = Envelope(
        received_at=NOW,
        context={"timezone": "Europe/Paris", "ip": "1.2.3.4"},
        integrations={"All": False},
    )
    op = parse(
        {"type": "track", "userId": "u", "event": "E", "integrations": {"Promoter": True}},
        envelope,
    )
    assert isinstance(op, Track) and op.timezone == "Europe/Paris"
    own = parse(
        {
            "type": "track",
            "userId": "u",
            "event": "E",
            "integrations": {"Promoter": True},
            "context": {"timezone": "Asia/Tokyo"},
        },
        envelope,
    )
    assert isinstance(own, Track) and own.timezone == "Asia/Tokyo"
    assert isinstance(parse({"type": "track", "userId": "u", "event": "E"}, envelope), Ignored)


def test_an_identifys_context_traits_are_traits_and_its_own_traits_win() -> None:
    op = parse(
        {
            "type": "identify",
            "userId": "u",
            "context": {"traits": {"email": "a@b.co", "language": "ja", "locale": "ja-JP"}},
            "traits": {"locale": "pt-BR"},
        }
    )
    assert isinstance(op, Identify) and op.email == "a@b.co"
    assert op.attributes == {
        "language": AttributeValue("string", text="ja"),
        "locale": AttributeValue("string", text="pt-BR"),
    }
    only_context = parse(
        {"type": "identify", "userId": "u", "context": {"traits": {"firstName": "Ann"}}}
    )
    assert isinstance(only_context, Identify) and only_context.first_name == "Ann"


def test_invalid_timezone_is_dropped() -> None:
    op = parse(
        {"type": "identify", "userId": "u", "traits": {"timezone": "Mars/Olympus"}},
    )
    assert isinstance(op, Identify) and op.timezone is None


def test_clock_skew_is_corrected_on_the_tracking_api() -> None:
    # The device clock is 1 hour fast; the event happened 5 s before it was sent.
    device_event = NOW + timedelta(hours=1) - timedelta(seconds=5)
    device_sent = NOW + timedelta(hours=1)
    envelope = Envelope(received_at=NOW, sent_at=device_sent, correct_clock=True)
    op = parse(
        {"type": "track", "userId": "u", "event": "E", "timestamp": device_event.isoformat()},
        envelope,
    )
    assert isinstance(op, Track) and op.timestamp == NOW - timedelta(seconds=5)


def test_destination_timestamps_are_taken_as_given() -> None:
    ts = "2025-01-01T00:00:00.000Z"
    op = parse(
        {
            "type": "track",
            "userId": "u",
            "event": "E",
            "timestamp": ts,
            "sentAt": "2026-01-01T00:00:00Z",
            "originalTimestamp": "2020-01-01T00:00:00Z",
        }
    )
    assert isinstance(op, Track) and op.timestamp == datetime(2025, 1, 1, tzinfo=UTC)


def test_historical_import_keeps_a_past_timestamp_without_sent_at() -> None:
    envelope = Envelope(received_at=NOW, correct_clock=True)
    op = parse(
        {"type": "track", "userId": "u", "event": "E", "timestamp": "2019-06-01T10:00:00+02:00"},
        envelope,
    )
    assert isinstance(op, Track) and op.timestamp == datetime(2019, 6, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize("event", ["Order Completed", "Completed Order", "order completed"])
def test_order_events_carry_order_facts_in_either_casing(event: str) -> None:
    v2 = {
        "order_id": "o-1",
        "checkout_id": "c-1",
        "total": 30.5,
        "subtotal": 25,
        "currency": "EUR",
        "products": [{"product_id": "p1", "price": 10, "quantity": 2}],
    }
    v1 = {"orderId": "o-1", "checkoutId": "c-1", "revenue": "30.5", "products": [{"id": "p1"}]}
    for props in (v2, v1):
        op = parse({"type": "track", "userId": "u", "event": event, "properties": props})
        assert isinstance(op, Track) and op.order is not None
        assert op.order.order_id == "o-1" and op.order.checkout_id == "c-1"
        assert op.order.total == 30.5 and op.order.revenue == 30.5
        assert op.order.products[0]["product_id"] == "p1"


def test_other_events_have_no_order() -> None:
    op = parse({"type": "track", "userId": "u", "event": "Order Viewed", "properties": {}})
    assert isinstance(op, Track) and op.order is None


def test_missing_message_id_gets_one() -> None:
    op = parse({"type": "track", "userId": "u", "event": "E"})
    assert isinstance(op, Track) and op.message_id.startswith("promoter-")


def test_timestamps_too_far_apart_to_correct_are_refused() -> None:
    envelope = Envelope(received_at=NOW, correct_clock=True)
    message = {
        "type": "track",
        "userId": "u",
        "event": "E",
        "timestamp": "0001-01-01T00:00:00Z",
        "sentAt": "9999-12-31T00:00:00Z",
    }
    with pytest.raises(InvalidMessage, match="too far apart"):
        parse(message, envelope)


# --- context.traits (where RudderStack's SDKs put an identify's traits) -------------------


def identify_with(**fields: object) -> Identify:
    op = parse({"type": "identify", "userId": "u", **fields})
    assert isinstance(op, Identify)
    return op


def test_context_traits_alone_are_the_traits() -> None:
    op = identify_with(
        context={"traits": {"email": "ted@example.com", "name": "Ted Mosby", "plan": "Pro"}}
    )
    assert (op.email, op.first_name, op.last_name) == ("ted@example.com", "Ted", "Mosby")
    assert op.attributes == {"plan": AttributeValue("string", text="Pro")}


def test_top_level_traits_win_key_by_key() -> None:
    op = identify_with(
        traits={"plan": "Enterprise", "email": "new@example.com"},
        context={"traits": {"plan": "Free", "email": "old@example.com", "seats": 3}},
    )
    assert op.email == "new@example.com"
    assert op.attributes["plan"] == AttributeValue("string", text="Enterprise")
    assert op.attributes["seats"] == AttributeValue("number", text="3", number=3.0)


def test_a_null_top_level_trait_wins_and_removes_the_attribute() -> None:
    op = identify_with(traits={"plan": None}, context={"traits": {"plan": "Free"}})
    assert op.attributes == {"plan": None}


def test_nested_objects_merge_at_every_depth() -> None:
    op = identify_with(
        traits={"company": {"plan": {"tier": "gold"}, "name": "Acme"}},
        context={"traits": {"company": {"name": "Old", "plan": {"seats": 5}, "city": "Paris"}}},
    )
    assert {key: value.text for key, value in op.attributes.items() if value} == {
        "company.name": "Acme",
        "company.city": "Paris",
        "company.plan.tier": "gold",
        "company.plan.seats": "5",
    }


def test_an_object_and_a_scalar_do_not_merge_the_top_level_one_wins() -> None:
    op = identify_with(traits={"company": "Acme"}, context={"traits": {"company": {"n": 1}}})
    assert op.attributes == {"company": AttributeValue("string", text="Acme")}
    op = identify_with(traits={"company": {"n": 1}}, context={"traits": {"company": "Acme"}})
    assert op.attributes == {"company.n": AttributeValue("number", text="1", number=1.0)}


def test_batch_context_traits_count_unless_the_message_has_a_context_of_its_own() -> None:
    envelope = Envelope(received_at=NOW, context={"traits": {"email": "b@example.com"}})
    op = parse({"type": "identify", "userId": "u"}, envelope)
    assert isinstance(op, Identify) and op.email == "b@example.com"
    op = parse({"type": "identify", "userId": "u", "context": {"traits": {}}}, envelope)
    assert isinstance(op, Identify) and op.email is None


@pytest.mark.parametrize("value", ["ted@example.com", ["a"], 3, True])
def test_context_traits_that_are_not_an_object_are_refused(value: object) -> None:
    with pytest.raises(InvalidMessage, match=r"`context.traits` must be an object"):
        identify_with(context={"traits": value})


def test_null_context_traits_are_none() -> None:
    assert identify_with(traits={"email": "a@b.co"}, context={"traits": None}).email == "a@b.co"


def test_a_track_ignores_context_traits_whatever_they_are() -> None:
    op = parse({"type": "track", "userId": "u", "event": "E", "context": {"traits": "x"}})
    assert isinstance(op, Track)


def test_context_traits_email_is_validated_like_traits_email() -> None:
    with pytest.raises(InvalidMessage, match="not a valid address"):
        identify_with(context={"traits": {"email": "not-an-address"}})
