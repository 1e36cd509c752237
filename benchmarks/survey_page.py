"""Survey page benchmark: the time from opening a score link to the score being stored,
and what the page weighs, in Chromium against a real ``promoter serve``.

For each run a new contact gets a survey (Tracking API ``identify`` and ``track``), and a
fresh browser context opens its score link for 9 on a 390 px phone viewport. Measured:

- **time to a stored score**: from the navigation's start to the moment the score is in
  the database's keeping. With the page's script, that is the click's answer ("saved");
  without scripts, the Confirm press (made at once, no human delay) and its answer.
  ``--baseline-src`` runs the same on another checkout's ``src`` (the code before the
  one-click page: its page stored the score only when Send was pressed, here pressed at
  once too), in the same run, so the two are compared on the same machine and minute;
- **page weight**: the score page's HTML before compression, the bytes of every response
  the page loaded, and how many requests went to another host (must be none).

    .venv/bin/python benchmarks/survey_page.py [--runs 20] [--baseline-src ../old/src]

See benchmarks/README.md ("Survey pages").
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
from ingest import HOST, create_organization, free_port, promoter_command, wait_healthy
from machine import describe
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import create_engine, select

from promoter.delivery.tokens import TokenSigner
from promoter.storage.instance import instance_secret
from promoter.storage.tables import contacts, surveys

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The page budget: the whole page, before compression.
PAGE_BUDGET = 30 * 1024


@dataclass
class Measures:
    name: str
    times_ms: list[float] = field(default_factory=list)
    html_bytes: list[int] = field(default_factory=list)
    loaded_bytes: list[int] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def row(self) -> str:
        t = self.times_ms
        return (
            f"| {self.name} | {statistics.median(t):,.0f} | {min(t):,.0f} | {max(t):,.0f} | "
            f"{max(self.html_bytes):,} | {max(self.loaded_bytes):,} | "
            f"{max(self.requests)} | {len(self.external)} |"
        )


@dataclass(frozen=True)
class Server:
    url: str
    key: str
    database_url: str


@contextmanager
def running(workdir: Path, src: Path | None) -> Iterator[Server]:
    """``promoter serve --no-worker`` on a new SQLite file, the code from ``src`` if given."""
    database_url = f"sqlite:///{workdir / 'promoter.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOTER_")}
    env["PROMOTER_DATABASE_URL"] = database_url
    if src is not None:
        env["PYTHONPATH"] = str(src)
    key = create_organization(env)
    port = free_port()
    env["PROMOTER_BASE_URL"] = f"http://{HOST}:{port}"
    log = workdir / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*promoter_command(), "serve", "--port", str(port), "--no-worker"],
            env=env,
            cwd=workdir,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_healthy(port, process, timeout=120)
            yield Server(f"http://{HOST}:{port}", key, database_url)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


#: Five follow-up questions of five choices each: a full page, as a campaign may have it.
QUESTIONS = [
    {
        "text": f"Follow-up question {n}: what should we look at first?",
        "type": "multiple" if n % 2 else "single",
        "choices": ["Pricing and plans", "Speed", "Reports", "Integrations", "Support"],
    }
    for n in range(1, 6)
]


def ask_questions(server: Server) -> None:
    """Every campaign of the organization asks QUESTIONS after the score."""
    auth = {"Authorization": f"Token {server.key}"}
    found = httpx2.get(f"{server.url}/api/v2/campaigns/", headers=auth)
    found.raise_for_status()
    for campaign in found.json()["results"]:
        changed = httpx2.patch(
            f"{server.url}/api/v2/campaigns/{campaign['id']}/",
            json={"questions": QUESTIONS},
            headers=auth,
        )
        changed.raise_for_status()


def survey_links(server: Server, count: int) -> list[str]:
    batch = []
    for n in range(count):
        user = f"bench-{n}"
        batch.append(
            {"type": "identify", "userId": user, "traits": {"email": f"{user}@example.com"}}
        )
        batch.append({"type": "track", "userId": user, "event": "Signed Up"})
    sent = httpx2.post(f"{server.url}/v1/batch", json={"batch": batch}, auth=(server.key, ""))
    sent.raise_for_status()
    engine = create_engine(server.database_url)
    with engine.begin() as conn:
        tokens = (
            conn.execute(
                select(surveys.c.token)
                .join(contacts, contacts.c.id == surveys.c.contact_id)
                .order_by(contacts.c.id)
            )
            .scalars()
            .all()
        )
        secret = instance_secret(conn, configured=None)
        links = [f"{server.url}/s/{TokenSigner(secret).sign(token)}" for token in tokens]
    engine.dispose()
    if len(links) != count:
        raise RuntimeError(f"{len(links)} surveys for {count} contacts")
    return links


def measure(browser: Browser, link: str, measures: Measures, how: str) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, java_script_enabled=how != "confirm"
    )
    page: Page = context.new_page()
    loaded: list[int] = []
    hosts: list[str] = []
    page.on("request", lambda r: hosts.append(urlsplit(r.url).hostname or ""))
    page.on("requestfinished", lambda r: loaded.append(r.sizes()["responseBodySize"]))
    start = time.perf_counter()
    if how in (
        "script",
        "questions",
    ):  # the page's script posts the click as soon as the page is parsed
        with page.expect_response(lambda r: r.url.endswith("/click")) as clicked:
            document = page.goto(f"{link}/9")
        assert clicked.value.json() == {"status": "saved"}
    else:
        document = page.goto(f"{link}/9")
    assert document is not None
    measures.html_bytes.append(len(document.body()))
    if how == "confirm":
        with page.expect_response(lambda r: r.request.method == "POST"):
            page.get_by_role("button", name="Confirm").click()
    elif how == "baseline":  # the page before one click: the score is stored by Send
        with page.expect_response(lambda r: r.request.method == "POST"):
            page.get_by_role("button", name="Send").click()
    measures.times_ms.append((time.perf_counter() - start) * 1000)
    page.wait_for_load_state("networkidle")
    measures.loaded_bytes.append(sum(loaded))
    measures.requests.append(len(hosts))
    measures.external += [host for host in hosts if host != HOST]
    context.close()


def run(
    browser: Browser, src: Path | None, ways: list[str], runs: int, questions: bool = False
) -> list[Measures]:
    with (
        tempfile.TemporaryDirectory(prefix="promoter-survey-bench-") as tmp,
        running(Path(tmp), src) as server,
    ):
        if questions:
            ask_questions(server)
        links = survey_links(server, runs * len(ways) + 1)
        measure(browser, links.pop(), Measures("warm-up"), ways[0])
        results = [Measures(way) for way in ways]
        for n in range(runs):  # interleaved, so that a noisy minute hits every way alike
            for measures in results:
                measure(
                    browser, links[n * len(ways) + results.index(measures)], measures, measures.name
                )
        return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--baseline-src", type=Path, help="another checkout's src folder")
    args = parser.parse_args()
    args.backend = "sqlite"
    print(describe(args, f"Chromium at {CHROMIUM}"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        results = run(browser, None, ["script", "confirm"], args.runs)
        full = run(browser, None, ["questions"], args.runs, questions=True)
        names = {
            "script": "one click (script)",
            "confirm": "no script, one Confirm press",
            "questions": "one click, five follow-up questions",
        }
        if args.baseline_src is not None:
            baseline = run(browser, args.baseline_src.resolve(), ["baseline"], args.runs)
            names["baseline"] = "before: Send pressed at once"
            results += baseline
        browser.close()
    print(f"\n{args.runs} runs each; times in ms from the navigation's start\n")
    print(
        "| way | median | min | max | page HTML (bytes) | all loaded (bytes) | requests "
        "| to other hosts |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for measures in [*results[:2], *full, *results[2:]]:
        measures.name = names[measures.name]
        print(measures.row())
    if args.baseline_src is not None:
        ratio = statistics.median(results[0].times_ms) / statistics.median(results[-1].times_ms)
        print(f"\none click / before: {ratio:.2f} of the time to a stored score")
    ours = [*results[:2], *full]
    over = [m.name for m in ours if max(m.loaded_bytes) > PAGE_BUDGET]
    external = [m.name for m in ours if m.external]
    if over or external:
        print(f"OVER BUDGET: {over}; requests to other hosts: {external}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
