"""Drivers benchmark: how long "what moves the NPS" takes, against the breakdowns it
starts from, measured in the same run on the same data.

Generates the analytics benchmark's data (``analytics_data.Dataset``), loads it into a
SQLite file, and asks, over the last year of responses, for the drivers of five
attributes (two numeric, in buckets) and the four event names plus orders: by SQL and by
the in-memory columns (loaded before timing). The baseline is the five breakdowns of the
same attributes on the same path, which every drivers question runs first; the ratio
says what the groups' filters and the two regressions add. Both paths must give the same
answer. Each timing is the median of ``--repeat`` runs.

    PYTHONPATH=src:benchmarks .venv/bin/python benchmarks/drivers.py \
        [--contacts 20000] [--responses 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from analytics_data import END, EVENT_NAMES, Dataset, load_sqlite
from machine import describe

from promoter.analytics.drivers import Request, drivers
from promoter.analytics.engine import Analytics, AnalyticsCache
from promoter.analytics.query import NpsQuery, scope
from promoter.analytics.regression import Feature, fit_models
from promoter.storage.engine import Database

ATTRIBUTES = ("plan", "country", "industry", "seats", "mrr")


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    args.backend = "sqlite"
    print(describe(args))
    data = Dataset.generate(args.contacts, args.responses, args.seed)
    asked = Request(ATTRIBUTES, EVENT_NAMES, True, 5)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "drivers.sqlite3"
        load_sqlite(path, data, lambda line: None)
        database = Database.from_url(f"sqlite:///{path}")
        query = NpsQuery(data.organization_id, since=END - timedelta(days=365), until=END)
        engines = {
            "sql": Analytics(None),
            "columns": Analytics(AnalyticsCache(database, background=False)),
        }
        answers = {}
        with database.read() as conn:
            s = scope(conn, query, now=END)
            print(f"{engines['sql'].nps(conn, s).summary.responses:,} responses in the window")
            for name, analytics in engines.items():
                analytics.nps(conn, s)  # the columns loaded (and statsmodels imported) first
                drivers(analytics, conn, s, asked)

                def baseline(a: Analytics = analytics) -> None:
                    for attribute in ATTRIBUTES:
                        a.breakdown(conn, s, by=attribute)

                base, _ = timed(baseline, args.repeat)
                took, answers[name] = timed(
                    lambda a=analytics: drivers(a, conn, s, asked), args.repeat
                )
                groups = len(answers[name].groups)
                print(
                    f"{name:8} breakdowns {base * 1000:8.0f} ms   drivers {took * 1000:8.0f} ms"
                    f"   ratio {took / base:5.1f}   ({groups} groups)"
                )
        assert answers["sql"].to_json() == answers["columns"].to_json(), "the paths disagree"
        found = answers["sql"]
        rng = np.random.default_rng(args.seed)
        n = found.models.responses
        features = _features(found, rng, n)
        took, _ = timed(
            lambda: fit_models(rng.random(n) < 0.5, rng.random(n) < 0.3, features), args.repeat
        )
        print(
            f"two regressions alone, {len(features)} random features (every response its "
            f"own cell, the worst case), {n:,} responses: {took * 1000:.0f} ms"
        )
        database.dispose()


def _features(found: Any, rng: np.random.Generator, n: int) -> list[Any]:
    """As many random yes/no features as the drivers' models took, to time the fit."""
    count = len(found.models.promoter.coefficients) or 10
    return [Feature(f"f{i}", rng.random(n) < 0.2, "none") for i in range(count)]


if __name__ == "__main__":
    main()
