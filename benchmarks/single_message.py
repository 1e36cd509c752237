"""One message per request: ``/segment``, ``/v1/track`` and ``/health`` under wrk, against
a bare FastAPI app and a raw ASGI app measured in the same run.

One after another on this machine, each under uvicorn with the options of ``promoter
serve`` (:func:`promoter.web.server_options.server_options`):

1. a bare FastAPI app (one async endpoint answering a small JSON);
2. a raw ASGI app (the same answer, no framework);
3. ``promoter serve --no-worker`` on a fresh SQLite file (WAL, ``synchronous=FULL``):
   ``promoter org create`` makes the organization and its default Segment campaign, which
   triggers on every tracked event; the ingestion rate limit is off
   (``PROMOTER_RATE_LIMIT_INGEST=0``); ``--users`` contacts are identified first.

wrk drives each at every ``--connections`` for ``--seconds``. A Lua script builds every
request: a unique ``messageId``, Basic auth with the write key as its username, a
Segment destination ``track`` for ``/segment`` and a Tracking API ``track`` for
``/v1/track``. Then the server is SIGKILLed and every run's messages are counted in
``processed_messages``: there must be at least as many as were acknowledged.

    .venv/bin/python benchmarks/single_message.py [--seconds 10] [--connections 32 64]

See benchmarks/README.md ("One message per request").
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest import (
    HOST,
    Server,
    Workload,
    free_port,
    process_cpu_seconds,
    running_server,
    send_batches,
    server_environment,
    serving,
)
from machine import describe

#: The targets of issue 20: requests a second, and shares of the bare FastAPI app's rate.
TARGET_RATE = 2000
TARGET_INGEST_SHARE = 0.40
TARGET_HEALTH_SHARE = 0.50
ANSWER = b'{"status":"ok"}'
BARE = "bare FastAPI"

WRK_SCRIPT = r"""
local path, auth, prefix = "%(path)s", "%(auth)s", "%(prefix)s"
local users, shape, stamp = %(users)d, "%(shape)s", "%(stamp)s"
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

sent = 0
local headers = {["Content-Type"] = "application/json", ["Authorization"] = auth}

local destination = '{"type":"track","channel":"server","version":2,"event":"Logged In",'
  .. '"userId":"user-%%07d","messageId":"%%s","timestamp":"' .. stamp .. '",'
  .. '"originalTimestamp":"' .. stamp .. '","sentAt":"' .. stamp .. '",'
  .. '"receivedAt":"' .. stamp .. '","properties":{"method":"password","remember_me":true},'
  .. '"context":{"library":{"name":"analytics-python","version":"2.4.0"}},"integrations":{}}'
local tracking = '{"userId":"user-%%07d","event":"Logged In","messageId":"%%s",'
  .. '"timestamp":"' .. stamp .. '","sentAt":"' .. stamp .. '",'
  .. '"properties":{"method":"password","remember_me":true},'
  .. '"context":{"library":{"name":"analytics-python","version":"2.4.0"}}}'

function request()
  sent = sent + 1
  if shape == "get" then
    return wrk.format("GET", path)
  end
  local user = (sent * 7919 + tid) %% users + 1
  local id = prefix .. tid .. "-" .. sent
  local template = shape == "destination" and destination or tracking
  return wrk.format("POST", path, headers, string.format(template, user, id))
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("sent") end
  io.write(string.format(
    'RESULT {"requests":%%d,"non2xx":%%d,"errors":%%d,"seconds":%%f,"p50":%%d,"p99":%%d,'
    .. '"sent":%%d}\n',
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    summary.duration / 1e6, latency:percentile(50), latency:percentile(99), total))
end
"""

RAW_ASGI = """
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": %(answer)r})
"""

BARE_FASTAPI = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/{path:path}")
async def answer(path: str) -> dict[str, str]:
    return {"status": "ok"}
"""

SERVE_APP = """
import sys
import uvicorn
from promoter.config import Settings
from promoter.web.server_options import server_options

sys.path.insert(0, %(directory)r)
from %(module)s import app

uvicorn.run(app, **(server_options(Settings()) | {"port": %(port)d}))
"""


@dataclass(frozen=True, slots=True)
class Run:
    """One wrk run: ``name`` at ``connections``."""

    name: str
    connections: int
    requests: int
    non2xx: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    sent: int
    cpu_seconds: float
    prefix: str = ""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        """The server's CPU time (all its threads) per request answered."""
        return 1000 * self.cpu_seconds / max(1, self.requests)

    @property
    def acknowledged(self) -> int:
        return self.requests - self.non2xx


@dataclass(frozen=True, slots=True)
class Target:
    """What wrk drives: ``path`` on ``port``, requests shaped as ``shape``."""

    name: str
    port: int
    pid: int
    path: str = "/"
    shape: str = "get"
    key: str = ""


def wrk(
    args: argparse.Namespace,
    workdir: Path,
    target: Target,
    *,
    connections: int,
    prefix: str = "",
    seconds: float | None = None,
) -> Run:
    """Drive ``target`` with wrk over ``connections``; messages' ids start with ``prefix``."""
    auth = "Basic " + base64.b64encode(f"{target.key}:".encode()).decode()
    script = workdir / "requests.lua"
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    fields = {"path": target.path, "auth": auth, "prefix": prefix, "users": args.users}
    script.write_text(WRK_SCRIPT % (fields | {"shape": target.shape, "stamp": stamp}))
    duration = seconds if seconds is not None else args.seconds
    command = ["wrk", f"-t{args.threads}", f"-c{connections}", f"-d{duration}s"]
    command += ["--timeout", "10s", "-s", str(script), f"http://{HOST}:{target.port}{target.path}"]
    cpu_before = process_cpu_seconds(target.pid)
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    cpu = process_cpu_seconds(target.pid) - cpu_before
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    data = json.loads(line.removeprefix("RESULT "))
    run = Run(
        target.name,
        connections,
        data["requests"],
        data["non2xx"],
        data["errors"],
        data["seconds"],
        data["p50"] / 1000,
        data["p99"] / 1000,
        data["sent"],
        cpu,
        prefix,
    )
    print(f"  {target.name} at {connections}: {run.rate:,.0f}/s", file=sys.stderr)
    return run


@contextlib.contextmanager
def comparison_app(name: str, source: str, workdir: Path) -> Iterator[Target]:
    """A comparison app (module source defining ``app``) under ``promoter serve``'s
    uvicorn options."""
    module = f"compare_{abs(hash(source)) % 10**8}"
    (workdir / f"{module}.py").write_text(source)
    port = free_port()
    code = SERVE_APP % {"directory": str(workdir), "module": module, "port": port}
    env = server_environment(f"sqlite:///{workdir / 'unused.sqlite3'}")
    with serving([sys.executable, "-c", code], port, env, workdir) as (process, _):
        yield Target(name, port, process.pid)


def identify_users(server: Server, count: int) -> None:
    """``count`` contacts with their email, 100 per ``/v1/batch``, so every track can
    trigger a survey."""
    # A lag longer than the run: no user is ever trackable, so every identify is a new one.
    workload = Workload(seed=20260105, identify_ratio=1.0, lag=count)
    batches = [workload.batch(100, identify_only=True) for _ in range(count // 100)]
    send_batches(server, batches, 4)
    if len(workload.profiles) != count:
        raise RuntimeError(f"{len(workload.profiles)} users identified, {count} asked")


def measure(args: argparse.Namespace, workdir: Path) -> list[Run]:
    """All three servers started, then driven one at a time, round after round (so a
    change in the machine's load falls on all of them)."""
    database = workdir / "promoter.sqlite3"
    settings = {"PROMOTER_RATE_LIMIT_INGEST": "0"}
    runs: list[Run] = []
    with contextlib.ExitStack() as stack:
        bare = stack.enter_context(comparison_app(BARE, BARE_FASTAPI, workdir))
        raw = stack.enter_context(
            comparison_app("raw ASGI", RAW_ASGI % {"answer": ANSWER}, workdir)
        )
        server = stack.enter_context(
            running_server(f"sqlite:///{database}", workdir, worker=False, settings=settings)
        )
        identify_users(server, args.users)
        pid = server.process.pid
        targets = [
            bare,
            raw,
            Target("/segment", server.port, pid, "/segment", "destination", server.key),
            Target("/v1/track", server.port, pid, "/v1/track", "tracking", server.key),
            Target("/health", server.port, pid, "/health"),
        ]
        for target in targets:  # warm-up, not counted
            wrk(args, workdir, target, connections=32, prefix="warm-", seconds=2)
        for round_number in range(args.rounds):
            for target in targets:
                for connections in args.connections:
                    prefix = f"{target.shape}-r{round_number}c{connections}-" if target.key else ""
                    runs.append(wrk(args, workdir, target, connections=connections, prefix=prefix))
    check_durable(database, [r for r in runs if r.prefix])
    return runs


def check_durable(database: Path, runs: Sequence[Run]) -> None:
    """After the SIGKILL: each run's messages in ``processed_messages`` are at least those
    acknowledged and at most those sent (wrk leaves up to a request a connection
    unanswered when it stops)."""
    conn = sqlite3.connect(database)
    try:
        for run in runs:
            (stored,) = conn.execute(
                "SELECT count(*) FROM processed_messages WHERE message_id LIKE ?",
                (run.prefix + "%",),
            ).fetchone()
            if not run.acknowledged <= stored <= run.sent:
                raise RuntimeError(
                    f"{run.name} at {run.connections}: {run.acknowledged} acknowledged, "
                    f"{stored} stored, {run.sent} sent"
                )
            print(
                f"  durable: {run.name} at {run.connections}: {run.acknowledged} acknowledged, "
                f"{stored} stored after SIGKILL",
                file=sys.stderr,
            )
    finally:
        conn.close()


def report(runs: Sequence[Run], args: argparse.Namespace) -> str:
    """Medians over the rounds. A point's share of the bare FastAPI app is the median of
    its rounds' shares, each against the bare app's rate in the same round; the CPU share
    (the bare app's server CPU per request over this one's) is what the rate's share
    would be if both had the same CPU to themselves."""
    points: dict[tuple[str, int], list[Run]] = {}
    for run in runs:
        points.setdefault((run.name, run.connections), []).append(run)
    lines = [
        f"Machine: {describe(args, 'wrk ' + wrk_version())}; {args.rounds} rounds of "
        f"{args.seconds} s, wrk -t{args.threads}; medians (each round's in brackets)",
        "",
        "| app | connections | requests/s | p50 ms | p99 ms | non-2xx | of bare FastAPI "
        "| server CPU ms/request | CPU share |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    for (name, connections), rs in points.items():
        bare = points[(BARE, connections)]
        rate = statistics.median(r.rate for r in rs)
        shares = [r.rate / b.rate for r, b in zip(rs, bare, strict=True)]
        share = statistics.median(shares)
        cpu = statistics.median(r.cpu_ms for r in rs)
        cpu_share = statistics.median(b.cpu_ms for b in bare) / cpu
        failed = sum(r.non2xx + r.errors for r in rs)
        lines.append(
            f"| {name} | {connections} | {rate:,.0f} ({', '.join(f'{r.rate:,.0f}' for r in rs)})"
            f" | {statistics.median(r.p50_ms for r in rs):.1f} | "
            f"{statistics.median(r.p99_ms for r in rs):.1f} | {failed} | {share:.0%} "
            f"({', '.join(f'{s:.0%}' for s in shares)}) | {cpu:.3f} | {cpu_share:.0%} |"
        )
        if name.startswith("/"):
            health = name == "/health"
            met = share >= (TARGET_HEALTH_SHARE if health else TARGET_INGEST_SHARE)
            met = met and (health or rate >= TARGET_RATE) and not failed
            verdicts.append(
                f"- {name} at {connections}: {rate:,.0f}/s, {share:.0%} of bare FastAPI: "
                + ("met" if met else "NOT met")
            )
    return "\n".join([*lines, "", *verdicts])


def wrk_version() -> str:
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).split()[1]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run (default 10)")
    parser.add_argument("--connections", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over every app")
    parser.add_argument("--users", type=int, default=1000, help="contacts identified first")
    args = parser.parse_args(argv)
    args.backend = "sqlite"
    if args.users < 100 or args.users % 100:
        parser.error("--users must be a multiple of 100")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="promoter-single-") as tmp:
        workdir = Path(tmp)
        runs = measure(args, workdir)
    print(report(runs, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
