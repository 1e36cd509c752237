"""Several API processes: one-message ``POST /v1/track`` on PostgreSQL with
``promoter serve --processes 1`` against ``--processes N``, in the same run.

Each round starts ``promoter serve --no-worker --processes P`` on a fresh PostgreSQL
database (rate limits off, survey triggering on: the organization's default campaign
schedules a survey for each new user), warms it up, then drives it with wrk (Debian's
``wrk``: ``apt-get install -y wrk``) for a fixed time: every request a new messageId, for
one of 1,000 users. Rounds alternate (1, N, 1, N, ...) so that a change in the machine's
load falls on both; the report gives each round's rate, the medians and their ratio, and
checks that every request answered 2xx stored its message. See benchmarks/README.md.

    .venv/bin/python benchmarks/processes.py [--processes 2] [--rounds 3] [--seconds 15]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ingest import (
    DEFAULT_POSTGRES_URL,
    HOST,
    create_organization,
    free_port,
    process_cpu_seconds,
    promoter_command,
    server_environment,
    wait_healthy,
)
from machine import describe
from scratch_postgres import postgres_database
from sqlalchemy import create_engine, func, select

from promoter.storage.tables import processed_messages

TARGET_RATIO = 1.6
#: What every benchmark server runs with: no per-key budgets, quiet logs.
SETTINGS = {
    "PROMOTER_RATE_LIMIT_API": "0",
    "PROMOTER_RATE_LIMIT_INGEST": "0",
    "PROMOTER_RATE_LIMIT_FAILED_AUTH": "0",
    "PROMOTER_LOG_LEVEL": "warning",
    "PROMOTER_ACCESS_LOG": "false",
    "PROMOTER_EMAIL_URL": "file:mail",
}

#: wrk's script: a new messageId for each request, one of 1,000 users.
TRACK_SCRIPT = """
local counter = 0
local next_thread = 0
function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end
function init(args)
  prefix = args[1] .. "-" .. thread_id
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = args[2]
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"userId":"user-%d","event":"Order Completed","messageId":"%s-%d",'
    .. '"properties":{"order_id":"o-%d","total":42}}',
    counter % 1000, prefix, counter, counter)
  return wrk.format(nil, "/v1/track", nil, body)
end
"""


@dataclass(frozen=True)
class Round:
    processes: int
    requests_per_second: float
    requests: int
    not_2xx: int
    socket_errors: int
    stored: int
    #: How busy the machine's CPUs were during the measured run (1.0: every CPU all the
    #: time), whoever used them: the servers, PostgreSQL, wrk, anything else.
    busy: float = 0.0
    #: The CPUs' worth of time the server's processes used during the run.
    server_cpus: float = 0.0
    #: The connections each API process held a few seconds into the run.
    spread: tuple[int, ...] = ()


@contextmanager
def cpu_quota(cpus: float | None) -> Iterator[Path | None]:
    """A CPU cgroup whose processes may use ``cpus`` CPUs' worth of time together (CFS
    bandwidth: cgroup v2's ``cpu.max`` or v1's ``cpu.cfs_quota_us``); yields the file a
    process id is written to, to join it (None when ``cpus`` is None). Removed after."""
    if cpus is None:
        yield None
        return
    period = 10_000  # µs: a short period, so that the quota throttles in small steps
    quota = str(round(cpus * period))
    root, name = Path("/sys/fs/cgroup"), f"promoter-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    v2 = (root / "cgroup.controllers").exists()
    if v2 and "cpu" not in (root / "cgroup.subtree_control").read_text().split():
        try:
            (root / "cgroup.subtree_control").write_text("+cpu")
        except OSError as exc:
            raise SystemExit(
                f"--cpu-per-process: cannot enable the cpu controller for {root}'s groups "
                f"({exc}); run as root on a machine whose cgroup tree allows it"
            ) from exc
    group = root / name if v2 else root / "cpu" / name
    group.mkdir()
    try:
        if v2:
            (group / "cpu.max").write_text(f"{quota} {period}")
        else:
            (group / "cpu.cfs_period_us").write_text(str(period))
            (group / "cpu.cfs_quota_us").write_text(quota)
        yield group / "cgroup.procs"
    finally:
        deadline = time.monotonic() + 30  # the server's processes end after it
        while (group / "cgroup.procs").read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.1)
        try:
            group.rmdir()
        except OSError as exc:
            print(f"  could not remove the cgroup {group}: {exc}", file=sys.stderr)


@contextmanager
def serving(
    database_url: str, workdir: Path, processes: int, cgroup: Path | None = None
) -> Iterator[tuple[int, str, int]]:
    """``promoter serve --no-worker --processes P`` on a fresh database: (port, key, the
    server's process id). With ``cgroup`` (a ``cgroup.procs`` file), the server and the
    processes it starts run in that group."""
    env = server_environment(database_url) | SETTINGS
    key = create_organization(env)
    port = free_port()
    log = workdir / f"serve-{processes}-{port}.log"

    def join_group() -> None:  # in the child, before it runs the server
        if cgroup is not None:
            cgroup.write_text(str(os.getpid()))

    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                *promoter_command(),
                "serve",
                "--no-worker",
                "--port",
                str(port),
                "--processes",
                str(processes),
            ],
            env=env,
            cwd=workdir,
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=join_group if cgroup is not None else None,
        )
        try:
            wait_healthy(port, process, timeout=180)
            yield port, key, process.pid
        except BaseException:
            sys.stderr.write(log.read_text(errors="replace")[-4000:])
            raise
        finally:
            process.terminate()
            process.wait(timeout=60)


def wrk(
    port: int, key: str, *, seconds: int, connections: int, threads: int, prefix: str, script: Path
) -> dict[str, float]:
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            str(script),
            f"http://{HOST}:{port}",
            "--",
            prefix,
            auth,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if rate is None or total is None:
        raise RuntimeError(f"wrk's output was not understood:\n{out}\n{done.stderr}")
    not_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rate": float(rate.group(1)),
        "requests": int(total.group(1)),
        "not_2xx": int(not_2xx.group(1)) if not_2xx else 0,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


def stored_messages(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(processed_messages)).scalar_one()
            )
    finally:
        engine.dispose()


def one_round(args: argparse.Namespace, processes: int, number: int, workdir: Path) -> Round:
    script = workdir / "track.lua"
    cpus = None if args.cpu_per_process is None else args.cpu_per_process * processes
    with (
        postgres_database(args.postgres_url) as url,
        cpu_quota(cpus) as cgroup,
        serving(url, workdir, processes, cgroup) as (port, key, pid),
    ):
        common = {"connections": args.connections, "threads": args.threads, "script": script}
        wrk(port, key, seconds=args.warmup, prefix=f"w{number}", **common)
        warm = stored_messages(url)
        before, server_before = cpu_times(), tree_cpu_seconds(pid)
        spread: list[tuple[int, ...]] = []
        look = threading.Timer(
            min(3.0, args.seconds / 2),
            lambda: spread.append(connections_each(pid, port, many=processes > 1)),
        )
        look.start()
        measured = wrk(port, key, seconds=args.seconds, prefix=f"m{number}", **common)
        look.join()
        busy = busy_share(before, cpu_times())
        server_cpu = tree_cpu_seconds(pid) - server_before
        stored = stored_messages(url) - warm
    result = Round(
        processes=processes,
        requests_per_second=measured["rate"],
        requests=int(measured["requests"]),
        not_2xx=int(measured["not_2xx"]),
        socket_errors=int(measured["socket_errors"]),
        stored=stored,
        busy=busy,
        server_cpus=server_cpu / args.seconds,
        spread=spread[0] if spread else (),
    )
    print(
        f"  round {number}: {processes} process(es): {result.requests_per_second:,.0f} "
        f"requests/s, CPUs {busy:.0%} busy, the server's processes {result.server_cpus:.2f} CPUs, "
        f"connections {'+'.join(map(str, result.spread))}"
    )
    return result


def cpu_times() -> tuple[int, int]:
    """The machine's CPU time so far (Linux ``/proc/stat``, all CPUs): (busy, all)."""
    line = Path("/proc/stat").read_text().split("\n", 1)[0]
    # user nice system idle iowait irq softirq steal (guest time is counted in user)
    fields = [int(x) for x in line.split()[1:9]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def tree_cpu_seconds(pid: int) -> float:
    """User and system CPU time so far of process ``pid`` and of the processes it started
    (and theirs), still running (Linux ``/proc``)."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += process_cpu_seconds(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
    return total


def connections_each(pid: int, port: int, *, many: bool) -> tuple[int, ...]:
    """The connections to ``port`` each API process holds (Linux ``/proc``): the server
    ``pid`` itself, or with ``many`` the processes it started (its children but
    multiprocessing's resource tracker)."""
    if many:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids = [
            int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()
        ]
    else:
        pids = [pid]
    established: set[str] = set()  # the socket inodes of the connections to port
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                    established.add(fields[9])
    held = []
    for each in pids:
        sockets = 0
        for fd in Path(f"/proc/{each}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                sockets += target.startswith("socket:[") and target[8:-1] in established
        held.append(sockets)
    return tuple(sorted(held, reverse=True))


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    return (after[0] - before[0]) / max(1, after[1] - before[1])


def report(args: argparse.Namespace, rounds: Sequence[Round]) -> tuple[str, float]:
    one = [r.requests_per_second for r in rounds if r.processes == 1]
    many = [r.requests_per_second for r in rounds if r.processes == args.processes]
    ratio = statistics.median(many) / statistics.median(one)
    lines = [
        f"machine: {describe(args, 'wrk')}",
        f"wrk -t{args.threads} -c{args.connections} -d{args.seconds}s, POST /v1/track, "
        f"PostgreSQL, --no-worker, rate limits off, survey triggering on"
        + (
            f", API processes limited to {args.cpu_per_process:g} CPU each (a cgroup's quota)"
            if args.cpu_per_process is not None
            else ""
        ),
        "",
        "| processes | requests/s (each round) | median | non-2xx | socket errors "
        "| CPUs busy (each round) | server's CPUs (each round) "
        "| connections each process held (each round) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for count, rates in ((1, one), (args.processes, many)):
        mine = [r for r in rounds if r.processes == count]
        lines.append(
            f"| {count} | {', '.join(f'{r:,.0f}' for r in rates)} | "
            f"{statistics.median(rates):,.0f} | {sum(r.not_2xx for r in mine)} | "
            f"{sum(r.socket_errors for r in mine)} | "
            f"{', '.join(f'{r.busy:.0%}' for r in mine)} | "
            f"{', '.join(f'{r.server_cpus:.2f}' for r in mine)} | "
            f"{', '.join('+'.join(map(str, r.spread)) or '?' for r in mine)} |"
        )
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    lines.append("")
    lines.append(
        f"{args.processes} processes / 1 process: {ratio:.2f}x (target {TARGET_RATIO}x: {verdict})"
    )
    return "\n".join(lines), ratio


def check(rounds: Sequence[Round]) -> list[str]:
    """Every request answered 2xx stored its message (counted in processed_messages)."""
    problems = []
    for r in rounds:
        answered = r.requests - r.not_2xx
        # wrk counts the requests answered within the time; a request in flight when it
        # stops may still be stored, so the database may hold a few more, never fewer.
        if r.stored < answered:
            problems.append(
                f"{r.processes} process(es): {answered} answered 2xx, {r.stored} stored"
            )
        if r.not_2xx:
            problems.append(f"{r.processes} process(es): {r.not_2xx} answers were not 2xx")
    return problems


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2, help="N, compared with 1")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each (alternating)")
    parser.add_argument("--seconds", type=int, default=15, help="each measured wrk run")
    parser.add_argument("--warmup", type=int, default=5, help="wrk run before each measure")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk's threads")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--json", type=Path, help="also write the rounds as JSON here")
    parser.add_argument(
        "--cpu-per-process",
        type=float,
        help="run the API processes in a CPU cgroup allowing this many CPUs per process "
        "(e.g. 0.4: one process 0.4, two 0.8 together), for a machine with too few CPUs "
        "to give each process one of its own beside PostgreSQL and wrk (needs root)",
    )
    args = parser.parse_args(argv)
    if args.cpu_per_process is not None and not 0.1 <= args.cpu_per_process <= 64:
        parser.error("--cpu-per-process must be between 0.1 and 64")
    args.backend = "postgresql"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 2
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="promoter-processes-") as tmp:
        workdir = Path(tmp)
        (workdir / "track.lua").write_text(TRACK_SCRIPT)
        for _ in range(args.rounds):
            for count in (1, args.processes):
                rounds.append(one_round(args, count, len(rounds), workdir))
    text, ratio = report(args, rounds)
    print(text)
    if args.json:
        args.json.write_text(
            json.dumps({"ratio": ratio, "rounds": [r.__dict__ for r in rounds]}, indent=2)
        )
    problems = check(rounds)
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
