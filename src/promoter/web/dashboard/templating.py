"""The dashboard's Jinja2 environment: autoescaping on, and the few filters pages share."""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
import orjson

from promoter.domain.channels import CHANNELS
from promoter.domain.nps import score_type

#: Shown where there is no value.
DASH = "\u2013"


def signed(value: float | None, digits: int = 0) -> str:
    """An NPS as people write it: +42, -7, 0; a dash when there is none."""
    if value is None:
        return DASH
    text = f"{value:.{digits}f}"
    if float(text) == 0:
        return f"{0:.{digits}f}"
    return text if text.startswith("-") else f"+{text}"


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return DASH
    return f"{value:,.{digits}f}"


def percent(value: float | None, digits: int = 0) -> str:
    return DASH if value is None else f"{value:.{digits}f}%"


def when(value: datetime | None, zone: str = "UTC", with_time: bool = True) -> str:
    if value is None:
        return DASH
    local = value.astimezone(ZoneInfo(zone)) if zone else value
    return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def to_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def query(pairs: Any, **changes: Any) -> str:
    """``?a=1&b=2`` from (name, value) pairs with some replaced (None drops them)."""
    kept = [(k, v) for k, v in pairs if k not in changes]
    for name, value in changes.items():
        if value is None or value == "":
            continue
        if isinstance(value, list | tuple):
            kept += [(name, v) for v in value]
        else:
            kept.append((name, value))
    return "?" + urlencode(kept) if kept else "?"


@functools.cache
def environment(folder: Path) -> jinja2.Environment:
    """The dashboard's templates in ``folder``: one environment per folder and process, so
    each template is compiled once however many apps the process builds (its filters and
    globals are the same for every app)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        signed=signed,
        number=number,
        percent=percent,
        when=when,
        to_json=to_json,
        score_type=score_type,
    )
    env.globals.update(query=query, channels=CHANNELS)
    return env
