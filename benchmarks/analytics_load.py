"""Time to the first answer from the analytics columns, per million responses.

On the analytics benchmark's data (``analytics.py``: contacts with 10 snapshot attributes,
responses, events; shared with it through ``--data-dir``/``--keep``), each measurement runs
in a new process, as a restarted server would: ``engine.Analytics`` over an
``AnalyticsCache(background=False)`` asks the NPS of the last 30 days (the first question,
which loads the columns), then the same with ``plan = Premium`` (which reads an attribute
column). Measured, on each backend, in one run:

- ``cold``: no saved files: the columns come from the database (and are saved);
- ``warm``: another process, the files saved by ``cold`` present: it maps them and
  catches up what was written since;
- ``before`` (with ``--before-src``, the ``src`` folder of an earlier checkout): the same
  questions through that code, the baseline.

Every answer is checked against the SQL path's (``Analytics(None)``).

    PYTHONPATH=src:benchmarks .venv/bin/python benchmarks/analytics_load.py \\
        --data-dir /tmp/promoter-analytics --keep [--before-src /path/to/old/src]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from analytics import DEFAULT_POSTGRES_URL, NOW, postgres_for, prepare

MODES = ("before", "cold", "warm")


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """One process: the two questions, timed, through the code on ``sys.path``."""
    from datetime import timedelta

    from promoter.analytics.engine import Analytics, AnalyticsCache
    from promoter.analytics.filters import parse_filter
    from promoter.analytics.query import NpsQuery, scope
    from promoter.storage.engine import Database

    database = Database.from_url(spec["url"])
    options: dict[str, Any] = {"background": False}
    if spec["mode"] != "before":
        from promoter.analytics.column_files import ColumnFiles

        options["files"] = ColumnFiles.for_database(database, spec["files"])
    analytics = Analytics(AnalyticsCache(database, **options))
    premium = parse_filter({"attribute": "plan", "op": "eq", "value": "Premium"})
    result: dict[str, Any] = {}
    for name, where in (("first", None), ("attribute", premium)):
        query = NpsQuery(
            organization_id=spec["organization_id"],
            since=NOW - timedelta(days=30),
            until=NOW,
            where=where,
        )
        started = time.perf_counter()
        with database.read() as conn:
            answer = analytics.nps(conn, scope(conn, query, now=NOW)).distribution
        result[f"{name}_s"] = time.perf_counter() - started
        with database.read() as conn:
            expected = Analytics(None).nps(conn, scope(conn, query, now=NOW)).distribution
        result[f"{name}_same"] = answer == expected
    assert analytics.cache is not None
    result["resident_mb"] = sum(analytics.cache.resident().values()) / (1 << 20)
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    analytics.close()
    database.dispose()
    return result


def measure(mode: str, url: str, files: Path, args: argparse.Namespace) -> dict[str, Any]:
    here = Path(__file__).resolve().parent
    source = args.before_src if mode == "before" else here.parent / "src"
    spec = {"mode": mode, "url": url, "files": str(files), "organization_id": 1}
    env = os.environ | {"PYTHONPATH": f"{source}{os.pathsep}{here}"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_backend(backend: str, url: str, args: argparse.Namespace) -> list[str]:
    lines = []
    modes = [m for m in MODES if m != "before" or args.before_src is not None]
    with tempfile.TemporaryDirectory(prefix="promoter-columns-") as folder:
        for mode in modes:
            result = measure(mode, url, Path(folder), args)
            per_million = result["first_s"] * 1_000_000 / args.responses
            same = result["first_same"] and result["attribute_same"]
            line = (
                f"| {backend} | {mode} | {result['first_s']:.2f} | {per_million:.1f} | "
                f"{result['attribute_s']:.2f} | {result['resident_mb']:.0f} | "
                f"{result['max_rss_mb']:.0f} | {'same' if same else 'DIFFERENT'} |"
            )
            print(line, flush=True)
            lines.append(line)
    return lines


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(child(json.loads(sys.argv[2]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="admin URL")
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--data-dir", type=Path, required=True, help="where the data goes")
    parser.add_argument("--keep", action="store_true", help="keep and reuse the data")
    parser.add_argument("--before-src", type=Path, default=None, help="earlier code's src/")
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    prepared = prepare(args, args.data_dir, "sqlite" in backends, print)
    header = [
        "| backend | run | first question (s) | s per million | then plan = Premium (s) "
        "| columns (MB) | peak RSS (MB) | answers |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    lines = []
    for backend in backends:
        if backend == "sqlite":
            url = f"sqlite:///{prepared.directory / 'promoter.sqlite3'}"
            lines += run_backend(backend, url, args)
        else:
            with postgres_for(args, prepared, print) as (url, _):
                lines += run_backend(backend, url, args)
    print("\n".join(["", *header, *lines]))
    return 0 if all("DIFFERENT" not in line for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
