"""numpy array types and helpers shared by the response and event columns: time as
microseconds since the epoch, and range comparisons."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return (moment - EPOCH) // MICROSECOND


def micros_of(moments: Sequence[Any]) -> Ints:
    """Microseconds since the epoch of stored UTC times: SQLite's text, or PostgreSQL's
    naive datetimes."""
    return np.asarray(moments, dtype="datetime64[us]").astype(np.int64)


def compare(values: Any, op: str, low: Any, high: Any) -> Bools:
    """``values`` gt/gte ``low``, lt/lte ``high``, or between them (NaN compares false)."""
    with np.errstate(invalid="ignore"):
        if op == "gt":
            return values > low  # type: ignore[no-any-return]
        if op == "gte":
            return values >= low  # type: ignore[no-any-return]
        if op == "lt":
            return values < high  # type: ignore[no-any-return]
        if op == "lte":
            return values <= high  # type: ignore[no-any-return]
        return (values >= low) & (values <= high)  # type: ignore[no-any-return]
