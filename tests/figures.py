"""The figures of the fault tests, written where docs/reliability.md says to find them.

Each fault test records what it counted (messages sent and stored, kills, answers seen)
in ``build/reliability/<name>-<backend>.json`` (or under ``PROMOTER_RELIABILITY_DIR``),
and prints it, so a CI log and a local run both show the latest numbers.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "build" / "reliability"


def record(name: str, backend: str, **figures: Any) -> Path:
    """Write the figures of one test run; returns the file written."""
    folder = Path(os.environ.get("PROMOTER_RELIABILITY_DIR", DEFAULT_DIR))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{backend}.json"
    document = {"test": name, "backend": backend, "at": datetime.now(UTC).isoformat(), **figures}
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    print(f"reliability figures {name} [{backend}]: {orjson.dumps(figures).decode()}")
    return path
