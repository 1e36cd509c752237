"""Text that goes into an email header: one line, no control characters."""

from __future__ import annotations

import re

#: Runs of control characters (C0, DEL, C1) and the Unicode line and paragraph separators.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def is_one_line(text: str) -> bool:
    """True when ``text`` has no line break or other control character."""
    return _BREAKS.search(text) is None


def one_line(text: str) -> str:
    """``text`` fit for a header: each run of line breaks and other control characters
    becomes one space."""
    return " ".join(_BREAKS.split(text)).strip() if _BREAKS.search(text) else text
