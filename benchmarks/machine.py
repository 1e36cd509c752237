"""What a benchmark ran on, in one line for its report."""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3

from scratch_postgres import postgres_version


def describe(args: argparse.Namespace, *extra: str) -> str:
    """CPUs, Python, SQLite, ``extra`` (other engines), OS, and PostgreSQL when the run
    uses it (``args.backend``, ``args.postgres_url``)."""
    parts = [
        f"{os.cpu_count()} CPUs",
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
        *extra,
        f"{platform.system()} {platform.release()}",
    ]
    if args.backend in ("postgresql", "both"):
        parts.append(f"PostgreSQL {postgres_version(args.postgres_url)}")
    return ", ".join(parts)
