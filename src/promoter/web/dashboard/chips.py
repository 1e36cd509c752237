"""The active filter as chips: a readable label for each of its conditions ("plan is
Enterprise"), and the filter without that condition, for the link that removes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from promoter.web.dashboard.question import (
    LIST_OPS,
    NO_VALUE,
    OP_LABELS,
    Builder,
    Row,
    filter_json,
)

#: How long a filter shown as one JSON chip may be before it is cut.
JSON_CHIP_CHARS = 80


@dataclass(frozen=True, slots=True)
class Chip:
    label: str
    #: The ``filter`` parameter without this condition ("" when it was the only one).
    without: str


def label(row: Row) -> str:
    """A condition as people read it: "plan is Enterprise", "did not do Signed Up"."""
    if row.kind == "event":
        text = f"did {row.name}" if row.did else f"did not do {row.name}"
        if row.min_count != 1:
            text += f" at least {row.min_count} times"
        if row.within_days is not None:
            text += f" in the last {row.within_days} days"
        return text
    op = OP_LABELS.get(row.op, row.op)
    if row.op in NO_VALUE:
        return f"{row.name} {op}"
    parts = [part.strip() for part in row.value.split(",")]
    if row.op == "between" and len(parts) == 2:
        return f"{row.name} between {parts[0]} and {parts[1]}"
    value = ", ".join(parts) if row.op in LIST_OPS else row.value
    return f"{row.name} {op} {value}"


def chips(data: Any, text: str, rows: Builder) -> list[Chip]:
    """One chip per condition of the filter ``data`` (its ``text`` in the URL) that
    ``rows`` show, pending rows (no value yet) left out; a filter the builder cannot show is
    one chip, its JSON."""
    if data is None:
        return []
    if rows.advanced:
        cut = text if len(text) <= JSON_CHIP_CHARS else text[: JSON_CHIP_CHARS - 1] + "…"
        return [Chip(f"filter {cut}", "")]
    members = data[rows.join] if isinstance(data, dict) and rows.join in data else [data]
    found = []
    for i in range(len(members)):
        rest = members[:i] + members[i + 1 :]
        without = rest[0] if len(rest) == 1 else ({rows.join: rest} if rest else None)
        found.append(Chip(label(rows.rows[i]), filter_json(without)))
    return found
