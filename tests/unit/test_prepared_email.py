"""A survey email filled into its template's prepared message is the message built in
full, byte for byte, but for the values that differ between two builds anyway."""

from __future__ import annotations

import base64
import dataclasses
import re

import pytest

from promoter.delivery.branding import StoredLogo
from promoter.delivery.prepared import base64_body, fold
from promoter.delivery.render import (
    _CRLF,
    PREPARED_TEMPLATES,
    EmailRenderer,
    SurveyEmail,
    TemplateView,
)
from promoter.delivery.tokens import TokenSigner

TEMPLATE = TemplateView(
    subject="How likely are you to recommend Acme?",
    from_name="Acme <Team>",
    reply_to="help@acme.example.com",
    intro_message='Hi <script>alert("x")</script>\nSecond line & more',
    brand_name="Acme & Co",
    language="en",
    logo_url="https://acme.example.com/logo.png",
)
TOKEN = "Zx8_k-3PqW0aB1cD2eF3gH4iJ5kL6mN7"


def renderer(prepared_templates: int = PREPARED_TEMPLATES) -> EmailRenderer:
    return EmailRenderer(
        base_url="https://nps.example.com/",
        sender="surveys@nps.example.com",
        signer=TokenSigner("secret"),
        prepared_templates=prepared_templates,
    )


def comparable(data: bytes) -> bytes:
    """The message without what two builds of it never share: the date, the Message-ID
    and the MIME boundary (each checked to be there)."""
    data, dates = re.subn(rb"(?m)^Date: [^\r\n]+\r\n", b"Date: -\r\n", data)
    data, ids = re.subn(rb"(?m)^Message-ID: <[^\r\n]+>\r\n", b"Message-ID: -\r\n", data)
    data, boundaries = re.subn(rb"={15}\d{19}==", b"BOUNDARY", data)
    assert (dates, ids, boundaries) == (1, 1, 4)
    return data


@pytest.mark.parametrize(
    ("template", "email"),
    [
        (TEMPLATE, SurveyEmail("ted@x.co", "Ted Mosby", TOKEN, False)),
        (TEMPLATE, SurveyEmail("ted@x.co", None, TOKEN, True)),
        (
            dataclasses.replace(
                TEMPLATE,
                language="de",
                subject="Wie wahrscheinlich … Ärger?",
                from_name="Jürgen",
                brand_color="#ffcc00",
                reply_to=None,
            ),
            SurveyEmail("zoe@x.example.com", "Zoë Ünal", TOKEN, True),
        ),
        (
            dataclasses.replace(TEMPLATE, language="ja", brand_name="アクメ", logo_url=None),
            SurveyEmail("ken@x.jp", "山田 太郎", TOKEN, False),
        ),
        (
            dataclasses.replace(
                TEMPLATE,
                language="ar",
                intro_message="",
                logo=StoredLogo(7, "ab" * 32, "image/png"),
                subject="Line\nbreak in an old subject " + "long " * 40,
            ),
            SurveyEmail("a@x.co", 'O\'Brien, "Al"\r\nBcc: evil@x.co', TOKEN, False),
        ),
    ],
)
def test_a_prepared_email_is_the_email_built_in_full(
    template: TemplateView, email: SurveyEmail
) -> None:
    prepared = renderer()
    fast = prepared.render(email, template)
    full = renderer().render_in_full(email, template)
    assert comparable(fast.data) == comparable(full.data)
    assert fast.message_id.encode() in fast.data
    assert (fast.sender, fast.recipient) == (full.sender, full.recipient)
    # The next email of the template is filled in, with its own token and address.
    other = dataclasses.replace(email, to_address="next@x.co", token=TOKEN[::-1])
    again = prepared.render(other, template)
    assert comparable(again.data) == comparable(renderer().render_in_full(other, template).data)
    assert TOKEN[::-1].encode() in again.data and TOKEN.encode() not in again.data
    assert again.message_id != fast.message_id


@pytest.mark.parametrize(
    "email",
    [
        SurveyEmail("zoë@x.example.com", "Zoë", TOKEN, False),  # sent with SMTPUTF8
        SurveyEmail("ted@x.co", "Ted", "a&b<c>'d\"", False),  # escaped in the HTML
    ],
)
def test_emails_a_prepared_message_cannot_hold_are_built_in_full(email: SurveyEmail) -> None:
    out = renderer().render(email, TEMPLATE)
    assert comparable(out.data) == comparable(renderer().render_in_full(email, TEMPLATE).data)


def test_prepared_messages_are_kept_for_a_bounded_number_of_templates() -> None:
    renderer_ = renderer(prepared_templates=3)
    email = SurveyEmail("ted@x.co", "Ted", TOKEN, False)
    for n in range(5):
        out = renderer_.render(email, dataclasses.replace(TEMPLATE, subject=f"Survey {n}"))
        assert b"Subject: Survey %d\r\n" % n in out.data
    assert renderer_._prepare.cache_info().currsize == 3


@pytest.mark.parametrize("size", [0, 1, 56, 57, 58, 114, 10_001])
def test_bodies_are_base64_encoded_as_the_standard_library_does(size: int) -> None:
    text = ("é" * size)[: size // 2] + "a" * (size - size // 2)
    assert base64_body(text) == base64.encodebytes(text.encode()).replace(b"\n", b"\r\n")


@pytest.mark.parametrize(
    "value",
    [
        "<https://nps.example.com/u/abc.def>",
        "=?utf-8?b?Wm/DqyDDnG5hbA==?= <zoe@x.co>",
        "two  spaces",
        " leading",
        "trailing ",
        "x" * 978,
        "x" * 979,
        "y " * 600,
    ],
)
def test_header_lines_are_folded_as_the_standard_library_does(value: str) -> None:
    assert fold(_CRLF, "List-Unsubscribe", value) == _CRLF.fold_binary("List-Unsubscribe", value)
