"""Comment themes: the clustering arithmetic, the quality floor on the labelled set
(data/themes_labelled.csv), the incremental rounds — embed, join, cluster, edit, remove —
with each theme's counts and NPS, and the API, CLI and dashboard page, on both databases.
One module, so the model loads once (about 10 s) wherever the tests run."""

from __future__ import annotations

import asyncio
import csv
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from promoter.analytics.embedding import Embedder
from promoter.analytics.keyword_text import PhraseCache
from promoter.analytics.query import NpsQuery, scope
from promoter.analytics.theme_clusters import (
    adjusted_rand_index,
    cluster,
    from_bytes,
    mean_direction,
    nearest,
    to_bytes,
)
from promoter.analytics.theme_store import (
    FULL_LOOK_EVERY,
    LOOK_BACK,
    Rounds,
    label_of,
    update_all,
    update_themes,
)
from promoter.analytics.themes import (
    ThemeError,
    ThemeNotFound,
    Themes,
    change_theme,
    theme_comments,
    themes_report,
)
from promoter.app import create_app, themes_until
from promoter.cli import main
from promoter.cli.processes import background_tasks
from promoter.config import Settings
from promoter.domain.roles import Role
from promoter.services import Services
from promoter.storage.engine import Database
from promoter.storage.tables import comment_vectors, responses
from tests.analytics.planted_keywords import SINCE, UNTIL, WINDOW, plant
from tests.conftest import Org
from tests.credentials import token
from tests.dashboard.conftest import add_user, sign_in

LABELLED = Path(__file__).parent / "data" / "themes_labelled.csv"
NOW = datetime(2026, 7, 1, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")
#: Measured 0.498 all at once, 0.377 (0.33 to 0.42 by shuffle) clustering 60% and letting
#: the rest join (benchmarks/README.md, "Comment themes"); a regression below these fails.
ARI_FLOOR = 0.42
INCREMENTAL_ARI_FLOOR = 0.30


def labelled() -> list[tuple[str, str]]:
    with LABELLED.open(encoding="utf-8") as f:
        return [(row["topic"], row["comment"]) for row in csv.DictReader(f)]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The model, loaded once for the session."""
    found = Embedder()
    found.embed(["warm up"])
    return found


@pytest.fixture(scope="session")
def labelled_vectors(embedder: Embedder) -> tuple[list[str], np.ndarray]:
    rows = labelled()
    return [topic for topic, _ in rows], embedder.embed([text for _, text in rows])


@pytest.mark.one_database(reason="arithmetic")
def test_adjusted_rand_index_against_known_values() -> None:
    assert adjusted_rand_index("aabb", "xxyy") == 1.0
    assert adjusted_rand_index("aabbcc", "aabbcc") == 1.0
    # Hubert and Arabie's example as scikit-learn gives it: 0.5714...
    assert round(adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]), 4) == 0.5714
    assert adjusted_rand_index("aaaa", "abcd") == 0.0


@pytest.mark.one_database(reason="arithmetic")
def test_clustering_keeps_groups_and_drops_the_small() -> None:
    rng = np.random.default_rng(7)
    axes = np.eye(8, dtype=np.float32)
    vectors = np.vstack(
        [axes[0] + rng.normal(0, 0.05, (6, 8)), axes[1] + rng.normal(0, 0.05, (4, 8)), axes[2:4]]
    ).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    found = cluster(vectors, similarity=0.5, min_size=3)
    assert list(found) == [0] * 6 + [1] * 4 + [-1, -1]
    centroids = np.vstack([mean_direction(vectors[:6]), mean_direction(vectors[6:10])])
    assert list(nearest(vectors[[0, 7, 10]], centroids, threshold=0.5)) == [0, 1, -1]
    again = from_bytes(to_bytes(vectors), 8)
    assert np.abs(again - vectors).max() < 1e-3


def test_quality_floor_on_the_labelled_set(labelled_vectors: tuple[list[str], np.ndarray]) -> None:
    """Clustering all at once, and clustering 60% then letting the rest join one by one."""
    topics, vectors = labelled_vectors
    assert len(topics) >= 200 and len(set(topics)) >= 8
    found = cluster(vectors)
    spread = [int(n) if n >= 0 else -1 - i for i, n in enumerate(found)]
    assert adjusted_rand_index(topics, spread) >= ARI_FLOOR
    order = np.random.default_rng(1).permutation(len(topics))
    first, rest = order[: len(order) * 6 // 10], order[len(order) * 6 // 10 :]
    early = cluster(vectors[first])
    centroids = np.vstack(
        [mean_direction(vectors[first][early == n]) for n in range(early.max() + 1)]
    )
    late = nearest(vectors[rest], centroids)
    joined = dict(zip(first, early, strict=True)) | dict(zip(rest, late, strict=True))
    spread = [int(joined[i]) if joined[i] >= 0 else -1 - i for i in range(len(topics))]
    assert adjusted_rand_index(topics, spread) >= INCREMENTAL_ARI_FLOOR


@pytest.mark.one_database(reason="text")
def test_a_label_is_the_most_used_keywords() -> None:
    said = [("The price is too high", "en"), ("High price", "en"), ("Price up again", "en")]
    assert label_of(said).startswith("price")
    assert label_of([("!!", "en")]) == "(no keyword)"


def _planted(topics: dict[str, int]) -> list[tuple[str, int, int, str | None]]:
    """The first comments of each topic of the labelled set, spread over the window's four
    weeks: pricing detractors, support promoters, speed passives."""
    scores = {"pricing": 2, "support": 10, "speed": 8}
    rows = labelled()
    chosen: list[tuple[str, int, int, str | None]] = []
    for topic, count in topics.items():
        texts = [text for t, text in rows if t == topic][:count]
        chosen += [(text, scores[topic], i % 4, None) for i, text in enumerate(texts)]
    return chosen


def _ask(database: Database, org: Org) -> Themes:
    with database.read() as conn:
        s = scope(conn, NpsQuery(organization_id=org.id, since=SINCE, until=UNTIL), now=NOW)
        return themes_report(conn, s, cache=PhraseCache(), zone=UTC_ZONE)


def _round(database: Database, org: Org, embedder: Embedder, at: datetime = NOW) -> dict[str, int]:
    return update_themes(database, organization_id=org.id, embedder=embedder, now=at).to_json()


def _comment_ids(database: Database, org: Org) -> dict[str, int]:
    with database.read() as conn:
        rows = conn.execute(
            select(responses.c.comment, responses.c.id).where(responses.c.organization_id == org.id)
        ).all()
    return {row[0]: row[1] for row in rows}


def test_rounds_embed_join_cluster_and_follow_edits(
    database: Database, org: Org, other_org: Org, embedder: Embedder
) -> None:
    plant(database, org, _planted({"pricing": 10, "support": 10, "speed": 10}))
    plant(database, other_org, _planted({"pricing": 4}))
    first = _round(database, org, embedder)
    assert first["embedded"] == 30 and first["created"] >= 3
    found = _ask(database, org)
    assert found.comments == 30 and found.unthemed <= 6
    # Measured: three themes, one per topic ("cheap · cost" 10, "load · time" 10,
    # "support · answer" 9); the pricing comments are the detractors.
    pricing = next(t for t in found.themes if t.summary.nps == -100.0)
    assert pricing.summary.responses >= 8 and "cost" in pricing.label
    assert sum(w.summary.responses for w in pricing.weeks) == pricing.summary.responses
    assert _round(database, org, embedder) == {
        "embedded": 0,
        "assigned": 0,
        "created": 0,
        "removed": 0,
    }, "nothing new: nothing done"
    # A new comment on pricing joins the pricing theme on the next round.
    plant(database, org, [("The price is far too expensive for us now", 0, 3, None)], prefix="n")
    second = _round(database, org, embedder)
    assert second["embedded"] == 1 and second["assigned"] >= 1
    ids = _comment_ids(database, org)
    new_id = ids["The price is far too expensive for us now"]
    with database.read() as conn:
        theme_of = conn.execute(
            select(comment_vectors.c.theme_id).where(comment_vectors.c.response_id == new_id)
        ).scalar_one()
    assert theme_of == pricing.id
    # Edited: embedded again; emptied: its vector goes.
    later = NOW + timedelta(minutes=5)
    with database.write() as conn:
        conn.execute(
            update(responses)
            .where(responses.c.id == new_id)
            .values(comment="Support answered quickly, thank you", comment_updated_at=later)
        )
        emptied = ids[_planted({"speed": 1})[0][0]]
        conn.execute(update(responses).where(responses.c.id == emptied).values(comment=" "))
    third = _round(database, org, embedder, later + timedelta(minutes=1))
    assert third["embedded"] == 1 and third["removed"] == 1
    # The other organization's comments are its own.
    others = _ask(database, other_org)
    assert others.comments == 4 and not others.themes
    assert {t.id for t in _ask(database, org).themes}.isdisjoint(
        {t.id for t in _ask(database, other_org).themes}
    )


def test_the_servers_round_takes_every_organization_waiting(
    database: Database, org: Org, other_org: Org, embedder: Embedder
) -> None:
    plant(database, org, _planted({"pricing": 4}))
    plant(database, other_org, _planted({"support": 3}))
    assert update_all(database, embedder=embedder, now=NOW) == 7
    assert update_all(database, embedder=embedder, now=NOW) == 0
    with database.write() as conn:
        conn.execute(
            update(responses).where(responses.c.organization_id == org.id).values(comment=None)
        )
    update_all(database, embedder=embedder, now=NOW)
    with database.read() as conn:
        left = conn.scalars(select(comment_vectors.c.organization_id)).all()
    assert sorted(left) == [other_org.id] * 3, "emptied comments lose their vectors"


def test_a_process_rounds_read_what_changed_since_the_last(
    database: Database, org: Org, other_org: Org, embedder: Embedder
) -> None:
    """After a look at every response, a process's rounds visit the organizations with a
    response changed since the last round (less LOOK_BACK) or left with more than a
    batch, and every organization again once FULL_LOOK_EVERY has passed."""
    plant(database, org, _planted({"pricing": 4, "support": 3}))
    plant(database, other_org, _planted({"speed": 2}))
    rounds = Rounds()
    assert update_all(database, embedder=embedder, now=NOW, rounds=rounds, batch=4) == 6
    assert (rounds.full_at, rounds.since, rounds.behind) == (NOW, NOW - LOOK_BACK, {org.id})
    # The planted comments are older than the look-back: found because the org is behind.
    later = NOW + timedelta(minutes=1)
    assert update_all(database, embedder=embedder, now=later, rounds=rounds, batch=4) == 3
    assert rounds.full_at == NOW and rounds.behind == set()

    def edit(response_id: int, text: str, *, stamped: datetime) -> None:
        with database.write() as conn:
            conn.execute(
                update(responses)
                .where(responses.c.id == response_id)
                .values(comment=text, comment_updated_at=later, updated_at=stamped)
            )

    ours, theirs = (sorted(_comment_ids(database, o).values()) for o in (org, other_org))
    edit(ours[0], "The invoices are confusing", stamped=later)
    # A change stamped long before the look-back (a writer whose clock is far behind): its
    # organization is not visited until the next full look.
    edit(theirs[0], "Pages load slowly on my phone", stamped=NOW - timedelta(hours=2))
    after = later + timedelta(minutes=1)
    assert update_all(database, embedder=embedder, now=after, rounds=rounds) == 1
    assert update_all(database, embedder=embedder, now=after, rounds=rounds) == 0
    full = NOW + FULL_LOOK_EVERY
    assert update_all(database, embedder=embedder, now=full, rounds=rounds) == 1
    assert rounds.full_at == full
    # An emptied comment is found since the last round too, and loses its vector.
    edit(ours[1], "", stamped=full)
    update_all(database, embedder=embedder, now=full + timedelta(minutes=1), rounds=rounds)
    with database.read() as conn:
        kept = set(conn.scalars(select(comment_vectors.c.response_id)))
    assert ours[1] not in kept and len(kept) == 8


@pytest.mark.one_database(reason="the server's loop: the rounds themselves are tested on both")
def test_the_server_runs_rounds_in_the_background(
    services: Services, org: Org, embedder: Embedder
) -> None:
    """``promoter serve``'s task: a round after the interval, and none with 0."""
    plant(services.database, org, _planted({"speed": 3}))
    every = services.settings.model_copy(update={"themes_interval_seconds": 1})

    async def run(settings: Settings) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(themes_until(stop, replace(services, settings=settings)))
        await asyncio.sleep(1.5)
        stop.set()
        await task

    never = services.settings.model_copy(update={"themes_interval_seconds": 0})
    asyncio.run(run(never))
    with services.database.read() as conn:
        assert conn.scalars(select(comment_vectors.c.response_id)).all() == []
    asyncio.run(run(every))
    with services.database.read() as conn:
        assert len(conn.scalars(select(comment_vectors.c.response_id)).all()) == 3


@pytest.mark.one_database(reason="the sending processes' tasks: the rounds are tested on both")
def test_the_sending_processes_run_the_rounds(
    services: Services, org: Org, embedder: Embedder, tmp_path: Path
) -> None:
    """What ``promoter serve`` (unless --no-worker) and ``promoter worker`` run beside the
    delivery worker includes the rounds; an API process alone runs none."""
    plant(services.database, org, _planted({"speed": 3}))
    settings = services.settings.model_copy(
        update={"themes_interval_seconds": 1, "email_url": f"file:{tmp_path}"}
    )
    sending = replace(services, settings=settings)

    async def run() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(task(stop)) for task in background_tasks(sending)]
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.gather(*tasks)

    with TestClient(create_app(sending)):
        time.sleep(1.5)
    with services.database.read() as conn:
        assert conn.scalars(select(comment_vectors.c.response_id)).all() == []
    asyncio.run(run())
    with services.database.read() as conn:
        assert len(conn.scalars(select(comment_vectors.c.response_id)).all()) == 3


def test_rename_hide_and_comments_of_a_theme(
    database: Database, org: Org, other_org: Org, embedder: Embedder
) -> None:
    plant(database, org, _planted({"pricing": 6, "support": 6}))
    _round(database, org, embedder)
    theme = _ask(database, org).themes[0]
    with database.write() as conn:
        renamed = change_theme(
            conn, organization_id=org.id, theme_id=theme.id, name="  Cost   of it ", rename=True
        )
        assert renamed.name == "Cost of it"
        change_theme(conn, organization_id=org.id, theme_id=theme.id, hidden=True)
        with pytest.raises(ThemeNotFound):
            change_theme(conn, organization_id=other_org.id, theme_id=theme.id, hidden=True)
        with pytest.raises(ThemeError):
            change_theme(
                conn, organization_id=org.id, theme_id=theme.id, name="x" * 201, rename=True
            )
    assert theme.id not in {t.id for t in _ask(database, org).themes}
    with database.read() as conn:
        s = scope(conn, NpsQuery(organization_id=org.id, since=SINCE, until=UNTIL), now=NOW)
        shown, comments = theme_comments(
            conn, s, theme_id=theme.id, cache=PhraseCache(), zone=UTC_ZONE, limit=2
        )
        assert shown.shown == "Cost of it" and shown.hidden and len(comments) == 2
        assert comments[0].created_at >= comments[1].created_at
        other = scope(conn, NpsQuery(organization_id=other_org.id), now=NOW)
        with pytest.raises(ThemeNotFound):
            theme_comments(conn, other, theme_id=theme.id, cache=PhraseCache(), zone=UTC_ZONE)


URL = "/api/v2/analytics/themes/"


def test_themes_through_the_cli_api_and_page(
    services: Services,
    client: TestClient,
    org: Org,
    other_org: Org,
    database_url: str,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMOTER_DATABASE_URL", database_url)
    plant(services.database, org, _planted({"pricing": 6, "support": 6}))
    runner = CliRunner()
    done = runner.invoke(main, ["themes", "update", "--org", str(org.id)])
    assert done.exit_code == 0 and "12 embedded" in done.output, done.output
    headers = token(org.key)
    body = client.get(URL, params=WINDOW, headers=headers).json()
    assert body["comments"] == 12 and body["min_nps"] == 10
    first = body["themes"][0]
    assert first["comments"] >= 4 and first["nps"] is None and first["enough"] is False
    assert sum(w["comments"] for w in first["weeks"]) == first["comments"]
    theme_id = first["id"]
    one = client.get(f"{URL}{theme_id}/", params={**WINDOW, "limit": 2}, headers=headers).json()
    assert one["id"] == theme_id and len(one["comment_list"]) == 2
    renamed = client.patch(f"{URL}{theme_id}/", json={"name": "Money"}, headers=headers)
    assert renamed.status_code == 200 and renamed.json()["theme"] == "Money"
    theirs = token(other_org.key)
    assert client.get(f"{URL}{theme_id}/", headers=theirs).status_code == 404
    assert client.patch(f"{URL}{theme_id}/", json={"name": "x"}, headers=theirs).status_code == 404
    assert client.get(URL, params=WINDOW, headers=theirs).json()["themes"] == []
    for params in [{"since": "soon"}, {"filter": "{"}, {"hidden": "maybe"}]:
        assert client.get(URL, params=params, headers=headers).status_code == 400, params
    for path, body_in in [
        (f"{URL}{theme_id}/", {"name": "x" * 201}),
        (f"{URL}{theme_id}/", {"hidden": "yes please"}),
        (f"{URL}{theme_id}/", {"colour": "red"}),
        (f"{URL}0/", {"name": "x"}),
        (f"{URL}99999999999999999999/", {"name": "x"}),
    ]:
        answer = client.patch(path, json=body_in, headers=headers)
        assert answer.status_code in (400, 404), (path, body_in, answer.text)
    assert client.get(f"{URL}987654/", headers=headers).status_code == 404
    others = [t["id"] for t in body["themes"][1:]]
    assert others, "measured: a theme for pricing, one for support"
    merge = f"{URL}{others[0]}/merge/"
    assert client.post(merge, json={"into": others[0]}, headers=headers).status_code == 400
    assert client.post(merge, json={"into": 987654}, headers=headers).status_code == 400
    assert client.post(merge, json={"into": theme_id}, headers=theirs).status_code == 404
    merged = client.post(merge, json={"into": theme_id}, headers=headers)
    size = first["size"] + body["themes"][1]["size"]
    assert merged.status_code == 200 and merged.json()["size"] == size
    assert client.post(merge, json={"into": theme_id}, headers=headers).status_code == 404
    _cli(runner, org, theme_id)
    _page(client, services, org, theme_id)


def _cli(runner: CliRunner, org: Org, theme_id: int) -> None:
    window = ["--since", WINDOW["since"], "--until", WINDOW["until"]]
    listed = runner.invoke(main, ["themes", "list", str(org.id), *window])
    assert listed.exit_code == 0 and "Money" in listed.output, listed.output
    shown = runner.invoke(main, ["themes", "show", str(org.id), str(theme_id), *window])
    assert shown.exit_code == 0 and shown.output.count("\n#") >= 4, shown.output
    hidden = runner.invoke(main, ["themes", "hide", str(org.id), str(theme_id)])
    assert hidden.exit_code == 0 and "(hidden)" in hidden.output
    as_json = runner.invoke(main, ["themes", "list", str(org.id), *window, "--json"])
    assert theme_id not in [t["id"] for t in orjson.loads(as_json.output)["themes"]]
    runner.invoke(main, ["themes", "hide", str(org.id), str(theme_id), "--show"])
    back = runner.invoke(main, ["themes", "rename", str(org.id), str(theme_id), ""])
    assert back.exit_code == 0 and "Money" not in back.output
    runner.invoke(main, ["themes", "rename", str(org.id), str(theme_id), "Money"])
    itself = runner.invoke(main, ["themes", "merge", str(org.id), str(theme_id), str(theme_id)])
    assert itself.exit_code == 1 and "into itself" in itself.output
    missing = runner.invoke(main, ["themes", "show", str(org.id), "987654"])
    assert missing.exit_code == 1 and "no theme 987654" in missing.output
    bad = runner.invoke(main, ["themes", "list", str(org.id), "--since", "soon"])
    assert bad.exit_code == 2


def _page(client: TestClient, services: Services, org: Org, theme_id: int) -> None:
    add_user(services, org, "ana@example.com", Role.MEMBER)
    csrf = sign_in(client, "ana@example.com")
    page = client.get("/themes", params={"range": "custom", **WINDOW})
    assert page.status_code == 200 and 'aria-current="page">Themes' in page.text
    assert f'href="/themes/{theme_id}?' in page.text and ">Money</a>" in page.text
    one = client.get(f"/themes/{theme_id}", params={"range": "custom", **WINDOW})
    assert one.status_code == 200 and 'href="/feedback/' in one.text
    form = {"csrf": csrf, "name": "Cost", "return": f"/themes/{theme_id}"}
    saved = client.post(f"/themes/{theme_id}", data=form, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].startswith("/themes/")
    hide = {"csrf": csrf, "visibility": "hide"}
    assert client.post(f"/themes/{theme_id}", data=hide, follow_redirects=False).status_code == 303
    after = client.get("/themes", params={"range": "custom", **WINDOW}).text
    assert ">Cost</a>" not in after
    assert ">Cost</a>" in client.get("/themes", params={**WINDOW, "hidden": "1"}).text
    too_long = client.post(f"/themes/{theme_id}", data={"csrf": csrf, "name": "x" * 201})
    assert too_long.status_code == 400
    assert client.get("/themes/987654").status_code == 404
    assert client.post("/themes/987654", data={"csrf": csrf, "name": "x"}).status_code == 404
    add_user(services, org, "rita@example.com", Role.READ_ONLY)
    with TestClient(client.app) as reader:
        sign_in(reader, "rita@example.com")
        read = reader.get(f"/themes/{theme_id}", params={"range": "custom", **WINDOW}).text
        assert "Cost" in read and f'method="post" action="/themes/{theme_id}"' not in read
