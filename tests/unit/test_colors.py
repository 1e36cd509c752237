"""Colours: WCAG 2.x contrast against known values, readable text and accents, and the
survey email's score cells."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promoter.delivery.branding import StoredLogo, branding, effective_logo_url
from promoter.delivery.render import SCORE_BACKGROUNDS, SCORE_CELLS
from promoter.domain.colors import (
    AA_NORMAL_TEXT,
    NEAR_BLACK,
    WHITE,
    accessible_accent,
    contrast_ratio,
    normalize_hex,
    parse_hex,
    text_on,
)

colors = st.builds(lambda n: f"#{n:06x}", st.integers(0, 0xFFFFFF))


def test_parse_hex_reads_either_case_and_refuses_anything_else() -> None:
    assert parse_hex("#1F2933") == parse_hex("#1f2933") == (31, 41, 51)
    assert normalize_hex("#ABCDEF") == "#abcdef"
    for wrong in (
        "1f2933",
        "#1f293",
        "#1f29333",
        "#gggggg",
        "#fff",
        "",
        " #1f2933",
        "#\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width digits
    ):
        with pytest.raises(ValueError):
            parse_hex(wrong)


@pytest.mark.parametrize(
    ("a", "b", "ratio"),
    [
        ("#000000", "#ffffff", 21.0),  # the largest
        ("#ffffff", "#ffffff", 1.0),
        ("#777777", "#ffffff", 4.48),  # the classic near miss
        ("#767676", "#ffffff", 4.54),  # the lightest grey that passes on white
        ("#0000ff", "#ffffff", 8.59),
        ("#ff0000", "#ffffff", 4.0),
        ("#ffff00", "#000000", 19.56),
    ],
)
def test_contrast_ratio_matches_known_wcag_values(a: str, b: str, ratio: float) -> None:
    assert contrast_ratio(a, b) == pytest.approx(ratio, abs=0.01)
    assert contrast_ratio(b, a) == contrast_ratio(a, b)


def test_text_on_picks_the_more_readable_of_white_and_near_black() -> None:
    assert text_on("#1f2933") == WHITE
    assert text_on("#0b7285") == WHITE
    assert text_on("#f0b429") == NEAR_BLACK
    assert text_on("#ffffff") == NEAR_BLACK


@given(colors)
def test_text_on_is_at_least_as_readable_as_the_other_choice(background: str) -> None:
    chosen = text_on(background)
    other = NEAR_BLACK if chosen == WHITE else WHITE
    assert contrast_ratio(chosen, background) >= contrast_ratio(other, background)
    # Always enough for large text (3:1), which is what bands of the brand colour use.
    assert contrast_ratio(chosen, background) >= 3


def test_accessible_accent_keeps_a_dark_colour_and_darkens_a_light_one() -> None:
    assert accessible_accent("#1f2933") == "#1f2933"
    assert accessible_accent("#0B7285") == "#0b7285"
    assert accessible_accent("#ffffff") == "#767676"
    darker = accessible_accent("#f0b429")
    assert parse_hex(darker) < parse_hex("#f0b429")
    assert contrast_ratio(darker, WHITE) >= AA_NORMAL_TEXT
    # Darkened as little as needed: one step lighter would fail.
    assert contrast_ratio(darker, WHITE) < AA_NORMAL_TEXT + 0.1


@given(colors, st.sampled_from([WHITE, "#f4f5f7", "#000000", "#1f2933"]))
def test_accessible_accent_always_reaches_4_5_to_1(color: str, ground: str) -> None:
    accent = accessible_accent(color, on=ground)
    assert contrast_ratio(accent, ground) >= AA_NORMAL_TEXT


def test_every_score_cell_reaches_4_5_to_1_and_keeps_its_category() -> None:
    assert len(SCORE_CELLS) == 11
    for score, (background, text) in enumerate(SCORE_CELLS):
        # 16 px bold numbers are normal text for WCAG: 4.5:1.
        assert contrast_ratio(background, text) >= AA_NORMAL_TEXT, (score, background, text)
    assert {SCORE_CELLS[n][0] for n in range(7)} == {SCORE_BACKGROUNDS["detractor"]}
    assert {SCORE_CELLS[n][0] for n in (7, 8)} == {SCORE_BACKGROUNDS["passive"]}
    assert {SCORE_CELLS[n][0] for n in (9, 10)} == {SCORE_BACKGROUNDS["promoter"]}


def test_branding_defaults_and_the_uploaded_logo_winning() -> None:
    plain = branding(
        base_url="https://nps.example.com/",
        brand_name="Acme",
        brand_color=None,
        logo=None,
        external_logo_url=None,
    )
    assert (plain.brand_color, plain.accent, plain.text_on_accent) == ("#1f2933",) * 2 + (WHITE,)
    assert plain.logo_url is None
    logo = StoredLogo(7, "0123456789abcdef" + "0" * 48, "image/webp")
    assert logo.path == "/logos/7-0123456789abcdef.webp"
    both = effective_logo_url(
        base_url="https://nps.example.com/", logo=logo, external_url="https://cdn.example/l.png"
    )
    assert both == "https://nps.example.com/logos/7-0123456789abcdef.webp"
    external = effective_logo_url(base_url="x", logo=None, external_url="https://cdn.example/l.png")
    assert external == "https://cdn.example/l.png"
    yellow = branding(
        base_url="https://nps.example.com",
        brand_name="Acme",
        brand_color="#f7c948",
        logo=None,
        external_logo_url=None,
    )
    assert yellow.text_on_brand == NEAR_BLACK and yellow.text_on_accent == WHITE
    assert contrast_ratio(yellow.accent, WHITE) >= AA_NORMAL_TEXT
