"""The survey email on a phone: the 0-10 row fits from 320 px up, every score is a
comfortable tap, and the scale's labels sit under 0 and 10, in right-to-left Arabic too
(where the scores still run from 0 on the left to 10 on the right). No server: the email
is rendered and its HTML part loaded into Chromium."""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from promoter.delivery.i18n import words
from promoter.delivery.render import EmailRenderer, SurveyEmail, TemplateView
from promoter.delivery.tokens import TokenSigner
from promoter.domain.colors import AA_NORMAL_TEXT, contrast_ratio, to_hex
from tests.browser.axe import violations
from tests.browser.conftest import SCREENSHOTS

WIDTHS = [320, 375, 390, 600, 1024]
#: A wide logo (400 x 40), inline so that the page loads nothing from the network.
LOGO = (
    "data:image/svg+xml;base64,"
    + base64.b64encode(
        b'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="40">'
        b'<rect width="400" height="40" fill="#3e4c59"/></svg>'
    ).decode()
)
TEMPLATE = TemplateView(
    subject="How likely are you to recommend Acme?",
    from_name="Acme",
    reply_to=None,
    intro_message="Hi Ted, you have been with us for a month. One question, one click.",
    brand_name="Acme",
    language="en",
    logo_url=LOGO,
)
CASES = {
    "en": TEMPLATE,
    "long-brand": dataclasses.replace(
        TEMPLATE, brand_name="Zuverlässigkeitsversicherungsgesellschaft Nordrhein-Westfalen"
    ),
    "de": dataclasses.replace(TEMPLATE, language="de"),
    "ja": dataclasses.replace(TEMPLATE, language="ja"),
    "ar": dataclasses.replace(TEMPLATE, language="ar"),
    # No logo: the brand's name on a band of its colour, even a long name on a phone.
    "brand-band": dataclasses.replace(
        TEMPLATE,
        logo_url=None,
        brand_color="#f7c948",
        brand_name="Zuverlässigkeitsversicherungsgesellschaft Nordrhein-Westfalen",
    ),
}
#: How far (px) a label's text may start or end from its number's tile.
ALIGNMENT = 4

#: The score links' boxes, and the text extent (not the cell) of the two scale labels.
GEOMETRY = """([low, high]) => {
  const box = r => ({left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                     width: r.width, height: r.height});
  const text = label => {
    const cell = [...document.querySelectorAll('td')]
      .filter(td => td.children.length === 0 && td.textContent.includes(label))[0];
    if (!cell) return null;
    const range = document.createRange();
    range.selectNodeContents(cell);
    return box(range.getBoundingClientRect());
  };
  return {
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    width: window.innerWidth,
    links: [...document.querySelectorAll('a')]
      .filter(a => /^\\d+$/.test(a.textContent.trim()))
      .map(a => ({score: a.textContent.trim(), ...box(a.getBoundingClientRect())})),
    low: text(low),
    high: text(high),
  };
}"""


def email_html(template: TemplateView) -> str:
    renderer = EmailRenderer(
        base_url="https://nps.example.com", sender="s@nps.example.com", signer=TokenSigner("s")
    )
    out = renderer.render(SurveyEmail("ted@x.example.com", "Ted", "tok", False), template)
    message = email.message_from_bytes(out.data, policy=email.policy.default)
    return str(message.get_body(("html",)).get_content())  # type: ignore[union-attr]


@pytest.fixture
def tab(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1024, "height": 900})
    context.set_default_timeout(20_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.mark.parametrize("case", list(CASES))
def test_the_score_row_fits_phones_and_labels_sit_under_0_and_10(tab: Page, case: str) -> None:
    template = CASES[case]
    scale = words(template.language, template.brand_name)
    for width in WIDTHS:
        tab.set_viewport_size({"width": width, "height": 900})
        tab.set_content(email_html(template))
        seen: dict[str, Any] = tab.evaluate(GEOMETRY, [scale["not_likely"], scale["very_likely"]])
        folder = SCREENSHOTS / "email"
        folder.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(folder / f"{case}-{width}.png"), full_page=True)
        where = (case, width)
        assert seen["overflow"] <= 0, (where, seen["overflow"])
        links = seen["links"]
        assert [link["score"] for link in links] == [str(n) for n in range(11)], where
        assert all(a["right"] <= b["left"] for a, b in pairwise(links)), where
        for link in links:
            assert link["left"] >= 0 and link["right"] <= width, (where, link)
            assert link["height"] >= 32 and link["width"] >= 24, (where, link)
        zero, ten, low, high = links[0], links[10], seen["low"], seen["high"]
        assert low is not None and high is not None, where
        assert abs(low["left"] - zero["left"]) <= ALIGNMENT, (where, low, zero)
        assert abs(high["right"] - ten["right"]) <= ALIGNMENT, (where, high, ten)
        assert low["top"] >= zero["bottom"] and high["top"] >= ten["bottom"], where


#: Each score link's text and background colours as Chromium computes them.
COLOURS = """() => [...document.querySelectorAll('a')]
  .filter(a => /^\\d+$/.test(a.textContent.trim()))
  .map(a => { const s = getComputedStyle(a);
              return {score: a.textContent.trim(), color: s.color,
                      background: s.backgroundColor}; })"""


def _hex(css: str) -> str:
    """``rgb(r, g, b)`` as ``#rrggbb``."""
    r, g, b = (int(part) for part in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return to_hex((r, g, b))


@pytest.mark.parametrize("case", list(CASES))
def test_every_score_reaches_4_5_to_1_as_rendered(tab: Page, case: str) -> None:
    tab.set_viewport_size({"width": 375, "height": 900})
    tab.set_content(email_html(CASES[case]))
    cells: list[dict[str, str]] = tab.evaluate(COLOURS)
    assert [cell["score"] for cell in cells] == [str(n) for n in range(11)]
    for cell in cells:
        ratio = contrast_ratio(_hex(cell["color"]), _hex(cell["background"]))
        assert ratio >= AA_NORMAL_TEXT, (case, cell, ratio)


@pytest.mark.parametrize("case", list(CASES))
def test_the_email_passes_axe(tab: Page, case: str) -> None:
    """axe-core on the HTML part as a mail client shows it, on a phone."""
    tab.set_viewport_size({"width": 375, "height": 900})
    tab.set_content(email_html(CASES[case]))
    assert violations(tab) == [], case


def test_axe_finds_what_it_should(tab: Page) -> None:
    """The check above can fail: an image without text and grey-on-grey text are found."""
    tab.set_content(
        '<html lang="en"><title>t</title><body>'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
        '<p style="color:#aaa;background:#bbb">faint</p></body></html>'
    )
    assert {v["id"] for v in violations(tab)} == {"image-alt", "color-contrast"}
