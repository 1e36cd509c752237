"""Web survey endpoint benchmark: requests a second of the calls the survey script makes
on every page view, against a real ``promoter serve`` on SQLite.

The organization has its web survey set up (an allowed origin, a site key, its secret)
and a web campaign; ``--visitors`` contacts are identified and triggered through the
Tracking API, so each has a web survey due. Then, over ``--connections`` keep-alive
connections, each call is made ``--requests`` times as the script makes it (JSON as
``text/plain`` from the allowed origin, a signed userId), and answers are checked:

- ``POST /w/v1/survey`` for a visitor with nothing due (most page views);
- ``POST /w/v1/survey`` for a visitor with a survey due (the survey's JSON comes back);
- ``POST /w/v1/track`` (an event from the page, ingested and checked against campaigns);
- ``GET /health`` in the same run, as the floor of this server on this machine.

The rate limits are off for the run (they would otherwise be what is measured).

    .venv/bin/python benchmarks/web_survey_api.py [--requests 3000] [--connections 16]

See benchmarks/README.md ("Web survey").
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx2
import orjson
from ingest import HOST, run_threads, running_server
from machine import describe

from promoter.websurveys.identity import sign_user

ORIGIN = "https://app.example.com"


@dataclass(frozen=True)
class Site:
    port: int
    site_key: str
    secret: str

    def body(self, user_id: str, **fields: object) -> bytes:
        return orjson.dumps(
            {
                "site_key": self.site_key,
                "user_id": user_id,
                "signature": sign_user(self.secret, user_id),
                "url": ORIGIN + "/home",
                **fields,
            }
        )


@dataclass(frozen=True)
class Result:
    name: str
    rates: list[float]
    latencies_ms: list[float]

    def row(self) -> str:
        lat = sorted(self.latencies_ms)
        p50 = lat[len(lat) // 2]
        p95 = lat[int(len(lat) * 0.95)]
        runs = ", ".join(f"{r:,.0f}" for r in self.rates)
        return (
            f"| {self.name} | {statistics.median(self.rates):,.0f} | {runs} | "
            f"{p50:.1f} | {p95:.1f} |"
        )


def set_up(port: int, key: str, visitors: int) -> Site:
    """The web survey settings, a web campaign, and ``visitors`` contacts with a web
    survey due."""
    base = f"http://{HOST}:{port}"
    auth = {"Authorization": f"Token {key}"}
    with httpx2.Client(base_url=base, headers=auth, timeout=60) as client:
        saved = client.put(
            "/api/v2/web-survey/", json={"allowed_origins": [ORIGIN], "enabled": True}
        )
        saved.raise_for_status()
        settings = saved.json()
        campaign = client.get("/api/v2/campaigns/").json()["results"][0]
        client.patch(
            f"/api/v2/campaigns/{campaign['id']}/",
            json={"channel": "web", "trigger_events": ["Opened"]},
        ).raise_for_status()
        for start in range(0, visitors, 100):
            batch = []
            for n in range(start, min(start + 100, visitors)):
                user = f"due-{n}"
                traits = {"email": f"{user}@example.com", "plan": "pro"}
                batch.append({"type": "identify", "userId": user, "traits": traits})
                batch.append({"type": "track", "userId": user, "event": "Opened"})
            client.post("/v1/batch", json={"batch": batch, "writeKey": key}).raise_for_status()
        # Known contacts with nothing due: already surveyed (their survey dismissed).
        batch = [
            {"type": "identify", "userId": f"idle-{n}", "traits": {"email": f"i{n}@example.com"}}
            for n in range(visitors)
        ]
        client.post("/v1/batch", json={"batch": batch, "writeKey": key}).raise_for_status()
    return Site(port, settings["site_key"], settings["identity_secret"])


def drive(
    port: int,
    method: str,
    path: str,
    bodies: Sequence[bytes | None],
    connections: int,
    check: Callable[[int, bytes], bool],
) -> tuple[float, list[float]]:
    """Make each request once over ``connections`` keep-alive connections: the rate and
    the latencies (ms); any unexpected answer fails the run."""
    headers = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN}
    position = iter(range(len(bodies)))
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        mine: list[float] = []
        try:
            while not failures:
                with lock:
                    index = next(position, None)
                if index is None:
                    break
                started = time.perf_counter()
                conn.request(method, path, body=bodies[index], headers=headers)
                response = conn.getresponse()
                data = response.read()
                mine.append((time.perf_counter() - started) * 1000)
                if not check(response.status, data):
                    failures.append(f"{path}: {response.status} {data[:200]!r}")
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    seconds = run_threads(worker, connections, failures)
    return len(bodies) / seconds, latencies


def _no_survey(status: int, data: bytes) -> bool:
    return status == 200 and orjson.loads(data) == {"survey": None}


def _a_survey(status: int, data: bytes) -> bool:
    return status == 200 and orjson.loads(data)["survey"] is not None


def _accepted(status: int, data: bytes) -> bool:
    return status == 202 and orjson.loads(data)["ok"] is True


def _healthy(status: int, data: bytes) -> bool:
    return status == 200


def measure(site: Site, args: argparse.Namespace) -> list[Result]:
    n, visitors = args.requests, args.visitors
    cases: list[tuple[str, str, str, list[bytes | None], Callable[[int, bytes], bool]]] = [
        ("GET /health", "GET", "/health", [None] * n, _healthy),
        (
            "POST /w/v1/survey (nothing due)",
            "POST",
            "/w/v1/survey",
            [site.body(f"idle-{i % visitors}", languages=["en-US"]) for i in range(n)],
            _no_survey,
        ),
        (
            "POST /w/v1/survey (a survey due)",
            "POST",
            "/w/v1/survey",
            [site.body(f"due-{i % visitors}", languages=["en-US"]) for i in range(n)],
            _a_survey,
        ),
        (
            "POST /w/v1/track",
            "POST",
            "/w/v1/track",
            [site.body(f"idle-{i % visitors}", event="Viewed Page") for i in range(n)],
            _accepted,
        ),
    ]
    results = {name: Result(name, [], []) for name, *_ in cases}
    for _ in range(args.runs):
        for name, method, path, bodies, check in cases:
            rate, latencies = drive(site.port, method, path, bodies, args.connections, check)
            results[name].rates.append(rate)
            results[name].latencies_ms.extend(latencies)
    return list(results.values())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per call and run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--visitors", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    args.backend = "sqlite"
    unlimited = {
        f"PROMOTER_RATE_LIMIT_{name}": "0"
        for name in ("WEB_SURVEY_SITE", "WEB_SURVEY_VISITOR", "INGEST", "API")
    }
    with tempfile.TemporaryDirectory(prefix="promoter-bench-") as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'bench.sqlite3'}"
        with running_server(url, workdir, worker=False, settings=unlimited) as server:
            site = set_up(server.port, server.key, args.visitors)
            results = measure(site, args)
    print(describe(args))
    print(
        f"\n{args.requests:,} requests per call and run, {args.connections} connections, "
        f"{args.runs} runs, SQLite, one server process, rate limits off.\n"
    )
    print("| call | requests/s (median) | runs | p50 ms | p95 ms |")
    print("|---|---:|---|---:|---:|")
    for result in results:
        print(result.row())
    return 0


if __name__ == "__main__":
    sys.exit(main())
