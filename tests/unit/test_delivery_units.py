from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import pytest

from promoter.delivery.branding import StoredLogo
from promoter.delivery.mailers import FileMailer, SmtpMailer, SmtpOptions, mailer_from_url
from promoter.delivery.render import EmailRenderer, ReplyEmail, SurveyEmail, TemplateView
from promoter.delivery.tokens import TokenSigner

TEMPLATE = TemplateView(
    subject="How likely are you to recommend Acme?",
    from_name="Acme <Team>",
    reply_to="help@acme.example.com",
    intro_message='Hi <script>alert("x")</script>',
    brand_name="Acme & Co",
    language="en",
    logo_url="https://acme.example.com/logo.png",
)


def test_signed_tokens_round_trip_and_refuse_tampering() -> None:
    signer = TokenSigner("secret")
    signed = signer.sign("abc")
    assert signer.unsign(signed) == "abc"
    for bad in (signed + "x", "abc", "abd." + signed.split(".")[1], "", ".", "é.é"):
        assert signer.unsign(bad) is None
    assert TokenSigner("other").unsign(signed) is None


@pytest.mark.parametrize(
    ("language", "question"),
    [
        ("en", "How likely are you to recommend Acme & Co"),
        ("de", "Wie wahrscheinlich ist es, dass Sie Acme & Co"),
        ("fr", "Quelle est la probabilité que vous recommandiez Acme & Co"),
        ("es", "¿Qué probabilidad hay de que recomiende Acme & Co"),
        ("pt", "Qual é a probabilidade de recomendar Acme & Co"),
        ("it", "Con quale probabilità consiglierebbe Acme & Co"),
        ("nl", "Hoe waarschijnlijk is het dat u Acme & Co"),
        ("ja", "あなたがAcme & Coを友人や同僚に薦める可能性"),
        ("ar", "ما مدى احتمال أن توصي بـ Acme & Co"),
    ],
)
def test_survey_email(language: str, question: str) -> None:
    renderer = EmailRenderer(
        base_url="https://nps.example.com/",
        sender="surveys@nps.example.com",
        signer=TokenSigner("s"),
    )
    template = dataclasses.replace(TEMPLATE, language=language)
    out = renderer.render(SurveyEmail("ted@x.co", "Ted Mosby", "tok", False), template)
    assert (out.sender, out.recipient) == ("surveys@nps.example.com", "ted@x.co")
    message = parse(out.data)
    assert message["Message-ID"] == out.message_id
    assert message["To"] == "Ted Mosby <ted@x.co>"
    assert message["From"] == '"Acme <Team>" <surveys@nps.example.com>'
    assert message["Reply-To"] == "help@acme.example.com"
    assert message["Message-ID"].endswith("@nps.example.com>")
    unsubscribe = f"https://nps.example.com/u/{TokenSigner('s').sign('tok')}"
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    links = re.findall(r'<a href="([^"]+)"[^>]*>(\d+)</a>', html)
    assert [int(n) for _, n in links] == list(range(11))
    assert all(url.endswith(f"/{n}") and "/s/" in url for url, n in links)
    assert question.replace("&", "&amp;") in html and question in text
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert unsubscribe in html and unsubscribe in text
    reminder = parse(renderer.render(SurveyEmail("ted@x.co", None, "tok", True), template).data)
    assert reminder["Subject"] != message["Subject"]
    assert reminder["Subject"].endswith(TEMPLATE.subject)


def html_of(template: TemplateView) -> str:
    renderer = EmailRenderer(
        base_url="https://nps.example.com", sender="s@nps.example.com", signer=TokenSigner("s")
    )
    out = renderer.render(SurveyEmail("ted@x.co", "Ted", "tok", False), template)
    return str(parse(out.data).get_body(("html",)).get_content())  # type: ignore[union-attr]


def test_an_arabic_email_is_right_to_left_with_its_scores_from_0_to_10_left_to_right() -> None:
    html = html_of(dataclasses.replace(TEMPLATE, language="ar"))
    assert '<html lang="ar" dir="rtl">' in html
    # Mail clients that drop <html> still see the direction on the tables and cells.
    assert re.search(
        r'<table role="presentation" dir="rtl" width="600"[^>]*direction:rtl;'
        r"text-align:right;",
        html,
    )
    assert '<td dir="rtl" style="padding:24px 16px;' in html  # the question
    assert '<td dir="auto" align="right"' in html  # the intro: the organization's own words
    scores = re.search(
        r'<table role="presentation" dir="ltr"[^>]*direction:ltr;.*?</table>', html, re.S
    )
    assert scores is not None
    row = scores.group()
    assert [int(n) for n in re.findall(r">(\d+)</a>", row)] == list(range(11))
    low, high = re.findall(r"<td colspan=\"5\"([^>]*)>([^<]*)</td>", row)
    assert low[1] == "0 = غير محتمل على الإطلاق" and "text-align:left" in low[0]
    assert high[1] == "10 = محتمل للغاية" and "text-align:right" in high[0]
    # "0 = ..." is laid out left to right so that 0 starts it, under the 0; "10 = ..."
    # right to left, so that 10 ends it, under the 10.
    assert 'dir="ltr"' in low[0] and 'dir="rtl"' in high[0]


@pytest.mark.parametrize("language", ["en", "de", "ja"])
def test_left_to_right_emails_say_so(language: str) -> None:
    html = html_of(dataclasses.replace(TEMPLATE, language=language))
    assert f'<html lang="{language}" dir="ltr">' in html and 'dir="rtl"' not in html


def test_a_brand_ending_in_a_full_stop_ends_the_footer_once() -> None:
    html = html_of(dataclasses.replace(TEMPLATE, brand_name="Demo Inc."))
    assert "You received this email because you use Demo Inc.<br>" in html


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_non_ascii_names_and_subjects_are_encoded() -> None:
    renderer = EmailRenderer(
        base_url="https://x.example.com", sender="s@x.example.com", signer=TokenSigner("s")
    )
    template = dataclasses.replace(
        TEMPLATE, subject="Wie wahrscheinlich … Ärger?", from_name="Jürgen"
    )
    out = renderer.render(SurveyEmail("zoe@x.example.com", "Zoë Ünal", "tok", False), template)
    assert out.data.isascii()
    message = parse(out.data)
    assert message["Subject"] == "Wie wahrscheinlich … Ärger?"
    assert message["From"] == "Jürgen <s@x.example.com>"
    assert message["To"] == "Zoë Ünal <zoe@x.example.com>"
    # An internationalised address is sent as UTF-8 (SMTPUTF8).
    out = renderer.render(SurveyEmail("zoë@x.example.com", "Zoë", "tok", False), template)
    assert "To: Zoë <zoë@x.example.com>".encode() in out.data
    message = parse(out.data)
    assert message["Subject"] == "Wie wahrscheinlich … Ärger?"
    assert len(message.get_body(("html",)).get_content()) > 1000  # type: ignore[union-attr]


def test_mailer_urls(tmp_path: Path) -> None:
    assert isinstance(mailer_from_url(f"file:{tmp_path}"), FileMailer)
    assert mailer_from_url("file:promoter-mail").folder == Path("promoter-mail")  # type: ignore[union-attr]
    assert mailer_from_url(f"file://{tmp_path}").folder == tmp_path  # type: ignore[union-attr]
    smtp = mailer_from_url("smtp://user%40x:p%3Ass@mail.example.com:587?starttls=true&timeout=5")
    assert isinstance(smtp, SmtpMailer)
    assert smtp.options == SmtpOptions(
        host="mail.example.com",
        port=587,
        username="user@x",
        password="p:ss",
        use_tls=False,
        start_tls=True,
        timeout=5.0,
    )
    assert mailer_from_url("smtps://mail.example.com").options.port == 465  # type: ignore[union-attr]
    assert smtp._connections == 4
    assert mailer_from_url("smtp://mail.example.com?connections=1")._connections == 1  # type: ignore[union-attr]
    bad_urls = ("http://x", "file:", "smtp://", "mailto:x", "smtps://x?starttls=true")
    bad_connections = tuple(f"smtp://x?connections={n}" for n in ("0", "21", "-1", "two"))
    for bad in bad_urls + bad_connections:
        with pytest.raises(ValueError):
            mailer_from_url(bad)


def test_line_breaks_in_names_and_old_templates_are_folded_into_one_header_line() -> None:
    renderer = EmailRenderer(
        base_url="https://x.example.com", sender="s@x.example.com", signer=TokenSigner("s")
    )
    # Stored before line breaks were refused at write time; a name from a contact's traits.
    template = dataclasses.replace(
        TEMPLATE, subject="Hi\r\nBcc: all@x.example.com", from_name="A\nB"
    )
    for to in ("zoe@x.example.com", "zoë@x.example.com"):
        out = renderer.render(SurveyEmail(to, "Ted\r\n\r\nMosby\u2028Jr", "tok", False), template)
        message = parse(out.data)
        assert message["Subject"] == "Hi Bcc: all@x.example.com"
        assert message["From"] == "A B <s@x.example.com>"
        assert message["To"] == f"Ted Mosby Jr <{to}>"
        assert message["Bcc"] is None
        assert len(message.get_body(("html",)).get_content()) > 1000  # type: ignore[union-attr]


def test_a_reply_keeps_its_headers_on_one_line_and_its_addresses_in_utf8() -> None:
    """A reply's names come from a user and a contact's traits: header-safe whatever they
    hold; internationalised addresses (the respondent's, the writer's) go as UTF-8."""
    renderer = EmailRenderer(
        base_url="https://x.example.com", sender="s@x.example.com", signer=TokenSigner("s")
    )
    reply = ReplyEmail(
        to_address="zoe@x.example.com",
        to_name="Zoë\r\nBcc: all@x.example.com",
        from_name="Ana\nat Acme",
        reply_to="ana@acme.example.com",
        subject="Réponse à votre avis",
        body="Merci !\r\n\r\nAna\r\n",
        in_reply_to="<survey@x.example.com>",
    )
    for to, writer in (
        ("zoe@x.example.com", "ana@acme.example.com"),
        ("zoë@x.example.com", "ána@acme.example.com"),
    ):
        out = renderer.render_reply(dataclasses.replace(reply, to_address=to, reply_to=writer))
        assert out.recipient == to and out.data.isascii() == (to.isascii() and writer.isascii())
        message = parse(out.data)
        assert message["To"] == f'"Zoë Bcc: all@x.example.com" <{to}>' and message["Bcc"] is None
        assert message["From"] == "Ana at Acme <s@x.example.com>"
        assert message["Reply-To"] == writer
        assert message["Subject"] == "Réponse à votre avis"
        assert message["In-Reply-To"] == message["References"] == "<survey@x.example.com>"
        assert message["Message-ID"] == out.message_id
        assert message.get_content() == "Merci !\n\nAna\n"


def test_survey_email_branding_colour_and_logo() -> None:
    renderer = EmailRenderer(
        base_url="https://nps.example.com/", sender="s@nps.example.com", signer=TokenSigner("s")
    )
    survey = SurveyEmail("ted@x.co", None, "tok", False)

    def html_of(template: TemplateView) -> str:
        message = parse(renderer.render(survey, template).data)
        return str(message.get_body(("html",)).get_content())  # type: ignore[union-attr]

    plain = html_of(dataclasses.replace(TEMPLATE, logo_url=None))
    assert "background:#1f2933;color:#ffffff" in plain  # the default band, the name on it
    assert ">Acme &amp; Co</td>" in plain
    logo = StoredLogo(3, "ab" * 32, "image/png")
    branded = html_of(dataclasses.replace(TEMPLATE, brand_color="#0b7285", logo=logo))
    assert '<img src="https://nps.example.com/logos/3-abababababababab.png"' in branded
    assert TEMPLATE.logo_url not in branded  # the uploaded logo wins
    assert "background:#0b7285" in branded and 'style="color:#0b7285;"' in branded
    external = html_of(dataclasses.replace(TEMPLATE, brand_color="#0b7285"))
    assert f'<img src="{TEMPLATE.logo_url}"' in external
