from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator

import pytest

from promoter.ingest.payload import (
    MAX_BATCH_MESSAGES,
    PayloadError,
    batch_messages,
    check_message_size,
    first_element_text,
    parse_json,
    read_body,
)
from promoter.web.credentials import key_from_authorization, signature_matches
from tests.credentials import basic_value


async def _chunks(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def read(data: bytes, limit: int = 1024, encoding: str | None = None) -> bytes:
    return asyncio.run(read_body(_chunks(data), limit=limit, content_encoding=encoding))


def test_plain_and_gzip_bodies() -> None:
    assert read(b'{"a":1}') == b'{"a":1}'
    assert read(gzip.compress(b'{"a":1}'), encoding="gzip") == b'{"a":1}'


def test_oversize_bodies_are_refused_before_being_read_whole() -> None:
    with pytest.raises(PayloadError, match="exceeds the 1 KB limit"):
        read(b"x" * 2000)
    bomb = gzip.compress(b"0" * 10_000_000)
    with pytest.raises(PayloadError, match="exceeds"):
        read(bomb, encoding="gzip")


@pytest.mark.parametrize(
    ("data", "encoding", "reason"),
    [
        (b"not gzip", "gzip", "not valid gzip"),
        (gzip.compress(b"{}", mtime=0)[:-6], "gzip", "truncated"),
        (b"{}", "br", "unsupported Content-Encoding"),
    ],
    ids=["not-gzip", "truncated-gzip", "brotli"],  # the same ids in every process
)
def test_bad_encodings(data: bytes, encoding: str, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        read(data, encoding=encoding)


@pytest.mark.parametrize("body", [b"", b"   ", b"{", b"\xff\xfe", b"NaN", b'{"a": Infinity}'])
def test_invalid_json_is_refused(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_json(body)


def test_batch_limits() -> None:
    with pytest.raises(PayloadError, match="`batch` array"):
        batch_messages({"batch": {}})
    with pytest.raises(PayloadError, match="at most 2500"):
        batch_messages({"batch": [{}] * (MAX_BATCH_MESSAGES + 1)})
    with pytest.raises(PayloadError, match="message 1 is"):
        batch_messages({"batch": [{}, {"traits": {"x": "y" * 33_000}}]})
    assert batch_messages({"batch": [{"type": "track"}]}) == [{"type": "track"}]
    check_message_size({"x": "y" * 30_000})


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (basic_value("pk_abc:"), "pk_abc"),
        (basic_value("pk_abc:ignored"), "pk_abc"),
        ("Token pk_abc", "pk_abc"),
        ("Bearer pk_abc", "pk_abc"),
        ("bearer   pk_abc  ", "pk_abc"),
        ("Basic !!!", None),
        (basic_value(":"), None),
        ("Digest x", None),
        (None, None),
        ("", None),
    ],
)
def test_keys_from_authorization(header: str | None, key: str | None) -> None:
    assert key_from_authorization(header) == key


def test_webhook_signature() -> None:
    import hashlib
    import hmac

    body = b'{"type":"track"}'
    good = hmac.new(b"s3cret", body, hashlib.sha1).hexdigest()
    assert signature_matches("s3cret", body, good)
    assert signature_matches("s3cret", body, good.upper())
    assert not signature_matches("s3cret", body + b" ", good)
    assert not signature_matches("other", body, good)
    assert not signature_matches("s3cret", body, None)
    assert not signature_matches("s3cret", body, "zz")


def test_nul_characters_are_removed_everywhere() -> None:
    body = b'{"a\\u0000b": ["x\\u0000", {"k": "\\u0000v"}], "n": 1, "deep": [[["\\u0000"]]]}'
    assert parse_json(body) == {"ab": ["x", {"k": "v"}], "n": 1, "deep": [[[""]]]}


def test_deeply_nested_messages_are_refused() -> None:
    deep: dict[str, object] = {}
    node = deep
    for _ in range(400):
        node["a"] = {}
        node = node["a"]  # type: ignore[assignment]
    with pytest.raises(PayloadError, match="nested too deeply"):
        check_message_size(deep)
    body = b'{"a":' * 1100 + b"1" + b"}" * 1100
    with pytest.raises(PayloadError, match="not valid JSON"):  # orjson's own depth limit
        parse_json(body)
    body = b'{"a":' * 900 + b'"x\\u0000"' + b"}" * 900
    parsed = parse_json(body)
    for _ in range(900):
        parsed = parsed["a"]
    assert parsed == "x"


@pytest.mark.parametrize(
    ("body", "first"),
    [
        (b'[{"a":[1,{"b":"]"}]},{"c":2}]', b'{"a":[1,{"b":"]"}]}'),
        (' \n[ {"n":"Zoé"} , 3]'.encode(), '{"n":"Zoé"}'.encode()),
        (b"[3]", b"3"),
        (b"[]", None),
        (b'{"type":"identify"}', None),
        (b'[{"unterminated":', None),
        (b"[\xff]", None),
        (b"[" * 5000 + b"]" * 5000, None),
    ],
)
def test_first_element_text_is_the_element_as_sent(body: bytes, first: bytes | None) -> None:
    assert first_element_text(body) == first
