"""Colours as ``#rrggbb``: parsing, WCAG 2.x contrast, and text and accent colours that
stay readable whatever brand colour is chosen."""

from __future__ import annotations

import re

#: The accent of a template without a brand colour.
DEFAULT_ACCENT = "#1f2933"
WHITE = "#ffffff"
#: The near-black of text on light backgrounds (the email's body text).
NEAR_BLACK = "#1f2933"
#: WCAG 2.x level AA for normal text (under 18.66 px bold or 24 px regular).
AA_NORMAL_TEXT = 4.5

_HEX = re.compile(r"#[0-9a-fA-F]{6}")

RGB = tuple[int, int, int]


def parse_hex(value: str) -> RGB:
    """``#RRGGBB`` (either case) as red, green and blue from 0 to 255; else ValueError."""
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise ValueError("a colour is written #RRGGBB, six hexadecimal digits")
    return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)


def to_hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def normalize_hex(value: str) -> str:
    """``value`` in lower case, once checked (ValueError when it is no colour)."""
    return to_hex(parse_hex(value))


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(rgb: RGB) -> float:
    """WCAG 2.x relative luminance: 0 for black, 1 for white."""
    r, g, b = (_linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: RGB, b: RGB) -> float:
    la, lb = relative_luminance(a), relative_luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def contrast_ratio(a: str, b: str) -> float:
    """The WCAG 2.x contrast ratio of two colours, from 1 (same) to 21 (black on white)."""
    return _contrast(parse_hex(a), parse_hex(b))


def text_on(background: str) -> str:
    """White or near-black, whichever is easier to read on ``background``."""
    if contrast_ratio(WHITE, background) >= contrast_ratio(NEAR_BLACK, background):
        return WHITE
    return NEAR_BLACK


def _mix(color: RGB, target: RGB, share: float) -> RGB:
    r, g, b = (round(c + (t - c) * share) for c, t in zip(color, target, strict=True))
    return r, g, b


def accessible_accent(color: str, on: str = WHITE, minimum: float = AA_NORMAL_TEXT) -> str:
    """``color``, darkened as little as needed (lightened, on a dark ``on``) to reach
    ``minimum`` contrast against ``on``: for text, links and borders in the brand's colour."""
    rgb, ground = parse_hex(color), parse_hex(on)
    if _contrast(rgb, ground) >= minimum:
        return to_hex(rgb)
    black, white = (0, 0, 0), (255, 255, 255)
    target = black if _contrast(black, ground) >= _contrast(white, ground) else white
    low, high = 0.0, 1.0
    for _ in range(24):
        middle = (low + high) / 2
        if _contrast(_mix(rgb, target, middle), ground) >= minimum:
            high = middle
        else:
            low = middle
    return to_hex(_mix(rgb, target, high))
