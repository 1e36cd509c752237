"""The incremental export's state file in the target directory: for each table, the time
the next export reads changes from (its high-water mark), and the ids to read again."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from promoter.domain.timestamps import parse_timestamp

STATE_FILE = ".promoter-export.json"
#: How far before the export's start its mark is set. A write stamps its rows before it
#: commits; a row stamped before the mark but committed after the export read past it is
#: read again by the next export, so nothing is lost (and rows changed in this margin are
#: exported twice: loaders keep each id's latest ``updated_at``).
IN_FLIGHT = timedelta(minutes=5)
VERSION = 1


class StateError(Exception):
    """The state file cannot be read, or belongs to another organization."""


@dataclass(frozen=True, slots=True)
class TableMark:
    #: Rows changed at or after this time are exported next.
    since: datetime
    #: Rows to read again next time, changed or not (surveys still scheduled).
    revisit: tuple[int, ...] = ()


@dataclass(slots=True)
class ExportState:
    organization_id: int
    tables: dict[str, TableMark] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "organization_id": self.organization_id,
            "tables": {
                name: {"since": mark.since.isoformat(), "revisit": list(mark.revisit)}
                for name, mark in sorted(self.tables.items())
            },
        }


def mark_for(started: datetime) -> datetime:
    """The high-water mark of an export that starts reading at ``started``."""
    return started - IN_FLIGHT


def load_state(directory: Path, *, organization_id: int) -> ExportState:
    """The directory's state; an empty one when it has none."""
    path = directory / STATE_FILE
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return ExportState(organization_id)
    except (OSError, orjson.JSONDecodeError) as exc:
        raise StateError(f"cannot read {path}: {exc}") from None
    try:
        state = _parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(f"{path} is not an export state file ({exc})") from None
    if state.organization_id != organization_id:
        raise StateError(
            f"{path} tracks organization {state.organization_id}'s export: "
            "export each organization to a directory of its own"
        )
    return state


def _parse(data: Any) -> ExportState:
    if data["version"] != VERSION:
        raise ValueError(f"version {data['version']!r}")
    organization_id = data["organization_id"]
    if not isinstance(organization_id, int):
        raise TypeError("organization_id")
    tables = {}
    for name, mark in data["tables"].items():
        since = parse_timestamp(mark["since"])
        if since is None:
            raise ValueError(f"{name}: since")
        tables[str(name)] = TableMark(since, tuple(int(i) for i in mark.get("revisit", [])))
    return ExportState(organization_id, tables)


def save_state(directory: Path, state: ExportState) -> None:
    """Replace the state file in one step: a crash leaves the old state or the new."""
    path = directory / STATE_FILE
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(orjson.dumps(state.to_json(), option=orjson.OPT_INDENT_2))
    os.replace(partial, path)
