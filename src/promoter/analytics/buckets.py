"""Numeric buckets of a breakdown: when an attribute counts as numeric, the edges chosen
for it (quantiles of its values rounded to round numbers), edges as a user types them, and
the buckets' labels.

A bucket is [low, high): the first holds everything below the first edge, the last
everything from the last edge up.
"""

from __future__ import annotations

import itertools
import math
import re
from bisect import bisect_left
from collections.abc import Sequence
from typing import Final, Literal

#: Automatic: buckets for a numeric attribute with many values, else one row per value.
AUTO: Final = "auto"
#: One row per value, even for a numeric attribute.
NONE: Final = "none"
Buckets = Literal["auto", "none"] | tuple[float, ...]

MAX_EDGES = 50
#: An attribute with at most this many distinct numbers is shown value by value.
MAX_RAW_VALUES = 10
#: How many buckets automatic edges aim for (fewer when values repeat a lot).
TARGET_BUCKETS = 6
#: Automatic edges are rounded as far as this keeps enough buckets apart.
MIN_AUTO_EDGES = TARGET_BUCKETS - 2
#: The share of an attribute's values (by response) that must be numbers for it to be
#: bucketed automatically; the rest are shown as "(other)".
NUMERIC_SHARE = 0.9

DASH = "\u2013"
_SEPARATORS = re.compile(r"[\s,;]+")


class BreakdownError(ValueError):
    """A breakdown that cannot be made (bad edges, top, name); the message says why."""


def parse_buckets(text: str | None) -> Buckets:
    """``buckets`` as typed: empty or ``auto``, ``none``, or edges separated by commas or
    spaces (``1000, 5000, 20000``)."""
    if text is None or not text.strip() or text.strip().lower() == AUTO:
        return AUTO
    if text.strip().lower() == NONE:
        return NONE
    edges = []
    for part in _SEPARATORS.split(text.strip()):
        try:
            edge = float(part)
        except ValueError:
            raise BreakdownError(
                f"buckets: {part[:40]!r} is not a number; expected edges such as "
                "1000, 5000, 20000 (or auto, or none)"
            ) from None
        if not math.isfinite(edge):
            raise BreakdownError(f"buckets: {part[:40]!r} is not a finite number")
        edges.append(edge)
    check_edges(edges)
    return tuple(edges)


def check_edges(edges: Sequence[float]) -> None:
    if not 1 <= len(edges) <= MAX_EDGES:
        raise BreakdownError(f"buckets: give 1 to {MAX_EDGES} edges")
    if not all(math.isfinite(e) for e in edges):
        raise BreakdownError("buckets: edges are finite numbers")
    for a, b in itertools.pairwise(edges):
        if b <= a:
            raise BreakdownError(
                f"buckets: edges must increase, but {number_text(b)} comes after {number_text(a)}"
            )


def is_numeric(numbers: int, present: int, distinct: int) -> bool:
    """Whether an attribute is bucketed automatically: nearly all of the ``present``
    responses that have it hold a number, with more than MAX_RAW_VALUES distinct ones."""
    return distinct > MAX_RAW_VALUES and numbers >= NUMERIC_SHARE * present


def auto_edges(counts: Sequence[tuple[float, int]]) -> tuple[float, ...]:
    """Edges for ``counts`` ((value, responses), by increasing value): the values that
    split the responses into TARGET_BUCKETS groups of about the same size, rounded to one
    significant digit (or more, when rounding would leave fewer than MIN_AUTO_EDGES edges
    that keep a response on each side)."""
    values = [value for value, _ in counts]
    total = sum(n for _, n in counts)
    candidates: list[float] = []
    below = 0
    wanted = 1
    for value, n in counts:
        # The first value with at least wanted/TARGET of the responses below it.
        while wanted < TARGET_BUCKETS and below * TARGET_BUCKETS >= total * wanted:
            candidates.append(value)
            wanted += 1
        below += n
    exact = _separating(sorted(set(candidates)), values)
    for digits in range(1, 16):
        rounded = _separating(sorted({round_to(c, digits) for c in candidates}), values)
        if len(rounded) >= min(len(exact), MIN_AUTO_EDGES):
            return tuple(rounded)
    return tuple(exact)


def round_to(value: float, digits: int) -> float:
    """``value`` rounded to ``digits`` significant digits (8064 -> 8000 with one)."""
    return float(f"{value:.{digits}g}")


def _separating(edges: list[float], values: list[float]) -> list[float]:
    """The edges that leave no bucket empty (``values`` sorted): each keeps a value
    between it and the previous edge kept, and one at or above it."""
    kept: list[float] = []
    for edge in edges:
        start = bisect_left(values, kept[-1]) if kept else 0
        end = bisect_left(values, edge)
        if end > start and end < len(values):
            kept.append(edge)
    return kept


def number_text(x: float) -> str:
    """A number as labels show it: thousands separated, no needless ".0"."""
    x = float(x)
    if x.is_integer() and abs(x) < 2**53:
        return f"{int(x):,}"
    return f"{x:,}"


def label(low: float | None, high: float | None, *, integers: bool) -> str:
    """A bucket's label: ``< 1,000``, ``1,000`` en dash ``4,999`` (whole numbers only),
    ``9.5 to < 100``, ``≥ 20,000``."""
    if low is None:
        return f"< {number_text(high)}" if high is not None else "all"
    if high is None:
        return f"≥ {number_text(low)}"
    if integers:
        first, last = math.ceil(low), math.ceil(high) - 1
        if first == last:
            return number_text(float(first))
        if first < last:
            dash = DASH if first >= 0 else " to "
            return f"{number_text(float(first))}{dash}{number_text(float(last))}"
    return f"{number_text(low)} to < {number_text(high)}"
