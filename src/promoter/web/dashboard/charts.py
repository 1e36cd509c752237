"""Chart geometry for the dashboard's inline SVG (drawn by templates/_charts.html).

Every NPS axis runs from -100 to +100 so charts compare at a glance; margins of error
are drawn as a band (trend) or whiskers (breakdown). An SVG scales its text with its
width, so the trend and the breakdown are drawn twice (``Fitted``): for a wide box and
for a narrow one (a phone), with fewer ticks and labels over the bars; the page shows the
one that fits its box (app.css).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from promoter.analytics.breakdown import BreakdownRow
from promoter.analytics.trend import TrendPoint
from promoter.domain.nps import NpsSummary, score_type

NPS_TICKS = (-100, -50, 0, 50, 100)

#: Shown where there is no value.
DASH = "\u2013"
#: The width of a chart drawn for a narrow box, in its own units.
NARROW = 360
#: A breakdown's labels are cut to this many characters (the full value is its title).
LABEL_CHARS = 24

C = TypeVar("C")


@dataclass(frozen=True)
class Fitted(Generic[C]):
    """One chart drawn for a wide box and for a narrow one."""

    wide: C
    narrow: C


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str
    label: str
    title: str


@dataclass(frozen=True)
class Distribution:
    width: int
    height: int
    base: float
    bars: list[Bar]


def distribution(counts: Sequence[int], width: int = 440, height: int = 190) -> Distribution:
    top, base = 18.0, height - 22.0
    total = sum(counts) or 1
    highest = max(counts, default=0) or 1
    step = (width - 20) / 11
    bars = []
    for score, count in enumerate(counts):
        h = (base - top) * count / highest
        bars.append(
            Bar(
                x=10 + score * step + 3,
                y=base - h,
                width=step - 6,
                height=h,
                kind=score_type(score),
                label=str(score),
                title=f"score {score}: {count} ({100 * count / total:.0f}%)",
            )
        )
    return Distribution(width, height, base, bars)


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class TrendDot:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Trend:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    #: One polyline per run of points that have responses (an empty period is a gap).
    lines: list[str]
    bands: list[str]
    dots: list[TrendDot]
    zero: float


def _y(value: float, top: float, bottom: float) -> float:
    clipped = max(-100.0, min(100.0, value))
    return top + (100.0 - clipped) / 200.0 * (bottom - top)


def _label(start: datetime, interval: str, zone: ZoneInfo) -> str:
    local = start.astimezone(zone)
    if interval == "month":
        return local.strftime("%b %Y")
    if interval == "quarter":
        return f"Q{(local.month - 1) // 3 + 1} {local.year}"
    return local.strftime("%d %b")


def trend(
    points: Sequence[TrendPoint],
    interval: str,
    zone: ZoneInfo,
    width: int = 760,
    height: int = 260,
    most_ticks: int = 8,
) -> Trend:
    """The NPS over time; at most ``most_ticks`` periods are labelled."""
    left, right, top, bottom = 52.0 if width > NARROW else 40.0, width - 34.0, 12.0, height - 30.0
    n = len(points)
    step = (right - left) / max(n - 1, 1)

    def x(i: int) -> float:
        return left + i * step if n > 1 else (left + right) / 2

    y_ticks = [Tick(_y(v, top, bottom), f"{v:+d}" if v else "0") for v in NPS_TICKS]
    every = max(1, -(-n // most_ticks))
    x_ticks = [Tick(x(i), _label(p.start, interval, zone)) for i, p in enumerate(points)][::every]
    lines: list[str] = []
    bands: list[str] = []
    dots: list[TrendDot] = []
    run: list[tuple[float, NpsSummary]] = []

    def close_run() -> None:
        if not run:
            return
        lines.append(" ".join(f"{px:.1f},{_y(s.nps or 0, top, bottom):.1f}" for px, s in run))
        upper = [(px, (s.nps or 0) + (s.margin or 0)) for px, s in run]
        lower = [(px, (s.nps or 0) - (s.margin or 0)) for px, s in run]
        if len(run) == 1:  # a lone point gets a narrow band of its own
            px = run[0][0]
            upper = [(px - 3, upper[0][1]), (px + 3, upper[0][1])]
            lower = [(px - 3, lower[0][1]), (px + 3, lower[0][1])]
        outline = upper + lower[::-1]
        bands.append(" ".join(f"{px:.1f},{_y(v, top, bottom):.1f}" for px, v in outline))
        run.clear()

    for i, point in enumerate(points):
        summary = point.summary
        if summary.nps is None:
            close_run()
            continue
        run.append((x(i), summary))
        margin = f" ±{summary.margin:.0f}" if summary.margin is not None else ""
        dots.append(
            TrendDot(
                x(i),
                _y(summary.nps, top, bottom),
                f"{_label(point.start, interval, zone)}: NPS {summary.nps:+.0f}{margin}"
                f" ({summary.responses} responses)",
            )
        )
    close_run()
    return Trend(
        width,
        height,
        left,
        right,
        top,
        bottom,
        y_ticks,
        x_ticks,
        lines,
        bands,
        dots,
        _y(0, top, bottom),
    )


def fitted_trend(points: Sequence[TrendPoint], interval: str, zone: ZoneInfo) -> Fitted[Trend]:
    return Fitted(
        trend(points, interval, zone),
        trend(points, interval, zone, width=NARROW, height=220, most_ticks=3),
    )


@dataclass(frozen=True)
class HBar:
    y: float
    x: float
    width: float
    negative: bool
    low: float | None
    high: float | None
    label: str
    value: str
    title: str


@dataclass(frozen=True)
class Bars:
    width: int
    height: int
    left: float
    right: float
    zero: float
    row_height: float
    x_ticks: list[Tick]
    bars: list[HBar]
    #: Where a row's label sits: its x, its baseline below the row's top, its anchor.
    label_x: float
    label_dy: float
    label_anchor: str
    #: The bar's top below the row's top, its thickness, the value's baseline.
    bar_dy: float
    bar_height: float
    value_dy: float


def breakdown_bars(rows: Sequence[BreakdownRow], width: int = 760, stacked: bool = False) -> Bars:
    """One bar per row from 0 to its NPS; ``stacked`` puts each label above its bar
    instead of to its left (a narrow box)."""
    if stacked:
        row_height, left = 44.0, 18.0
        label = (left, 13.0, "start")
        bar_dy, bar_height, value_dy = 19.0, 16.0, 32.0
    else:
        row_height, left = 28.0, 200.0
        label = (left - 8, 16.0, "end")
        bar_dy, bar_height, value_dy = 4.0, 18.0, 16.0
    right = width - (44.0 if stacked else 60.0)
    height = int(row_height * len(rows) + 30)

    def x(value: float) -> float:
        clipped = max(-100.0, min(100.0, value))
        return left + (clipped + 100.0) / 200.0 * (right - left)

    zero = x(0)
    bars = []
    for i, row in enumerate(rows):
        s = row.summary
        nps = s.nps
        y = 4 + i * row_height
        cut = row.value if len(row.value) <= LABEL_CHARS else row.value[: LABEL_CHARS - 1] + "…"
        if nps is None:
            bars.append(HBar(y, zero, 0, False, None, None, cut, DASH, f"{row.value}: none"))
            continue
        start, end = sorted((zero, x(nps)))
        low = high = None
        if s.margin is not None:
            low, high = x(nps - s.margin), x(nps + s.margin)
        bars.append(
            HBar(
                y,
                start,
                max(end - start, 1.0),
                nps < 0,
                low,
                high,
                cut,
                f"{nps:+.0f}" if round(nps) else "0",
                f"{row.value}: NPS {nps:+.0f}"
                + (f" ±{s.margin:.0f}" if s.margin is not None else "")
                + f" ({s.responses} responses)",
            )
        )
    ticks = [Tick(x(v), f"{v:+d}" if v else "0") for v in NPS_TICKS]
    return Bars(
        width,
        height,
        left,
        right,
        zero,
        row_height,
        ticks,
        bars,
        *label,
        bar_dy,
        bar_height,
        value_dy,
    )


def fitted_breakdown(rows: Sequence[BreakdownRow]) -> Fitted[Bars]:
    return Fitted(breakdown_bars(rows), breakdown_bars(rows, width=NARROW, stacked=True))
