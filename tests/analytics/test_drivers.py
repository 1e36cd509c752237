"""The drivers: each group's impact on the NPS with its interval (checked against a
simulation), the planted effects found by both engines alike and by the brute-force
reference, and the regression that does not credit an attribute for its companion's
effect."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import timedelta
from html import unescape
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from promoter.analytics.drivers import DriversError, Request, drivers
from promoter.analytics.engine import Analytics, AnalyticsCache
from promoter.analytics.filters import And, parse_filter
from promoter.analytics.impact import impact
from promoter.analytics.query import NpsQuery, scope
from promoter.analytics.regression import Feature, fit_models
from promoter.app import create_app
from promoter.cli import main
from promoter.domain.nps import NpsSummary
from promoter.services import Services
from promoter.storage.engine import Database
from tests.analytics import reference
from tests.analytics.dataset import NOW, build
from tests.analytics.planted_drivers import EXPORTED, plant
from tests.conftest import Org
from tests.credentials import token
from tests.dashboard.conftest import add_user, sign_in

QUERY_WINDOW = {"since": NOW - timedelta(days=1), "until": NOW + timedelta(days=1)}
ASKED = Request(attributes=("plan", "tier", "seats"), events=(EXPORTED,))


def test_the_impact_interval_holds_its_coverage_in_simulation() -> None:
    """Samples of 400 answers from a population where a third of the answers (NPS 0)
    pull the NPS down from +20: the standard error the formula gives is the spread of the
    impact from sample to sample, and its 95% interval holds the true impact 95% of the
    time."""
    rng = np.random.default_rng(20261207)
    share, group, rest = 0.3, (0.3, 0.4, 0.3), (0.5, 0.2, 0.3)
    cells = [share * p for p in group] + [(1 - share) * p for p in rest]
    true = 100 * (share * 0.0 + (1 - share) * 0.2 - 0.2)
    points, errors, covered = [], [], 0
    for counts in rng.multinomial(400, cells, size=4000):
        g = NpsSummary.of(int(counts[:3].sum()), int(counts[0]), int(counts[2]))
        r = (int(counts[3]), int(counts[5]))
        total = NpsSummary.of(int(counts.sum()), g.promoters + r[0], g.detractors + r[1])
        found = impact(g, total)
        assert found is not None and found.interval is not None and found.error is not None
        points.append(found.points)
        errors.append(found.error)
        covered += found.interval[0] <= true <= found.interval[1]
    assert abs(np.mean(points) - true) < 0.2
    assert np.mean(errors) == pytest.approx(np.std(points), rel=0.05)
    assert 0.935 <= covered / 4000 <= 0.965


def test_small_groups_get_no_interval() -> None:
    total = NpsSummary.of(100, 50, 20)
    small = impact(NpsSummary.of(20, 0, 20), total)
    assert small is not None and small.error is None and small.interval is None
    assert small.points == pytest.approx(30 - 100 * (50 - 0) / 80)
    assert impact(total, total) is None


def test_the_regression_says_why_it_has_no_model() -> None:
    few = fit_models(np.ones(50, np.bool_), np.zeros(50, np.bool_), [])
    assert few.promoter.error == "a regression needs at least 100 answers; there are 50"
    y = np.arange(200) % 2 == 0
    same = Feature("a = x", y.copy(), "a = y", "a")
    twin = Feature("b = x", y.copy(), "b = y", "b")
    models = fit_models(y, ~y, [same, twin])
    assert models.promoter.error == "no feature can be estimated"
    assert ("b = x", "determined by the features before it") in models.promoter.left_out
    assert ("a = x", "all of its answers are promoters: its odds cannot be estimated") in (
        models.promoter.left_out
    )


@pytest.fixture
def planted(database: Database, org: Org) -> list[dict[str, Any]]:
    return plant(database, org)


def _analytics(database: Database, engine: str) -> Analytics:
    return Analytics(None if engine == "sql" else AnalyticsCache(database, background=False))


def test_planted_drivers_through_service_rest_cli_and_dashboard(
    database: Database,
    database_url: str,
    services: Services,
    org: Org,
    other_org: Org,
    planted: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One planted dataset per database (writing it is the cost): the service on both
    engines and against brute force, then the API, the command and the page."""
    _service(database, org, other_org)
    with TestClient(create_app(services)) as client:
        _rest(client, org, other_org)
        _dashboard(client, services, org)
    monkeypatch.setenv("PROMOTER_DATABASE_URL", database_url)
    _cli(org)


def _service(database: Database, org: Org, other_org: Org) -> None:
    query = NpsQuery(org.id, **QUERY_WINDOW)
    found = {}
    with database.read() as conn:
        s = scope(conn, query, now=NOW)
        for engine in ("sql", "columns"):
            found[engine] = drivers(_analytics(database, engine), conn, s, ASKED)
        world = reference.load(conn, org.id)
    assert found["sql"].to_json() == found["columns"].to_json()
    result = found["sql"]
    groups = {g.group.label: g for g in result.groups}
    for ranked in result.groups:  # each group's answers are those its filter finds
        if ranked.group.expr is not None:
            where = replace(query, where=And((ranked.group.expr,)))
            n, p, d, _ = reference.counts(reference.matching(world, where, NOW))
            assert (n, p, d) == (
                ranked.summary.responses,
                ranked.summary.promoters,
                ranked.summary.detractors,
            ), ranked.group.label
    assert result.total.responses == 200 and result.total.nps == pytest.approx(-1.0)
    enterprise = groups["plan = Enterprise"]
    assert enterprise.impact is not None and enterprise.moves == "lowers"
    assert enterprise.impact.points == pytest.approx(-1.0 - 20)
    tested = [abs(g.impact.points) for g in result.groups if g.q_value is not None and g.impact]
    assert tested == sorted(tested, reverse=True)  # the largest impacts first
    # Looked at alone, Gold seems to lower the NPS too: it is mostly Enterprise.
    gold = groups["tier = Gold"]
    assert gold.impact is not None and gold.impact.points == pytest.approx(-1.0 - 10)
    assert "placed an order" not in groups  # nobody did: nothing to compare
    assert any(label.startswith("seats ") for label in groups)  # numeric buckets
    promoter = {c.feature: c for c in result.models.promoter.coefficients}
    assert promoter["plan = Enterprise"].significant
    assert promoter["plan = Enterprise"].reference == "plan = Free"
    assert promoter["plan = Enterprise"].coefficient < 0
    # Once plan is in the model, tier explains nothing.
    assert not promoter["tier = Gold"].significant
    assert promoter["tier = Gold"].p_value > 0.5
    detractor = result.models.detractor
    assert f"did {EXPORTED}" not in {c.feature for c in detractor.coefficients}
    assert (
        f"did {EXPORTED}",
        "none of its answers are detractors: its odds cannot be estimated",
    ) in detractor.left_out
    with database.read() as conn:  # another organization sees none of it
        other = drivers(Analytics(None), conn, scope(conn, NpsQuery(other_org.id), now=NOW), ASKED)
    assert other.total.responses == 0 and other.groups == []
    assert other.models.promoter.error == "a regression needs at least 100 answers; there are 0"


def test_bad_requests_are_refused(database: Database, org: Org) -> None:
    with database.read() as conn:
        s = scope(conn, NpsQuery(org.id), now=NOW)
        for bad, message in [
            (Request(top=0), "top is from 1 to 20"),
            (Request(attributes=tuple(f"a{i}" for i in range(11))), "by: at most 10 attributes"),
            (Request(events=("",)), "attribute and event names are 1 to 255 characters"),
        ]:
            with pytest.raises(DriversError, match=message.replace("(", r"\(").replace(")", r"\)")):
                drivers(Analytics(None), conn, s, bad)


PARAMS = {
    "since": "2026-01-01",
    "until": "2099-01-01",
    "by": ["plan", "tier", "seats"],
    "event": [EXPORTED],
}


def _rest(client: TestClient, org: Org, other_org: Org) -> None:
    response = client.get("/api/v2/analytics/drivers/", params=PARAMS, headers=token(org.key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"]["responses"] == 200 and body["window"]["since"]
    tested = [abs(g["impact"]) for g in body["groups"] if g["q_value"] is not None]
    assert tested == sorted(tested, reverse=True)
    enterprise = next(g for g in body["groups"] if g["label"] == "plan = Enterprise")
    assert enterprise["moves"] == "lowers" and enterprise["interval"][1] < 0
    assert enterprise["impact"] == pytest.approx(-21.0)
    promoter = {c["feature"]: c for c in body["regression"]["promoter"]["coefficients"]}
    assert promoter["plan = Enterprise"]["significant"] is True
    assert promoter["plan = Enterprise"]["odds_ratio"] < 1
    assert promoter["tier = Gold"]["significant"] is False
    # Filters narrow the answers, as on every analytics route.
    narrowed = client.get(
        "/api/v2/analytics/drivers/",
        params={**PARAMS, "attributes[plan]": "Free"},
        headers=token(org.key),
    ).json()
    assert narrowed["total"]["responses"] == 80
    assert narrowed["regression"]["promoter"]["error"] == (
        "a regression needs at least 100 answers; there are 80"
    )
    # Naming nothing: the attributes most answers have, and the event names.
    default = client.get(
        "/api/v2/analytics/drivers/", params={"since": "2026-01-01"}, headers=token(org.key)
    ).json()
    named = {(g["kind"], g["name"]) for g in default["groups"]}
    assert {("attribute", "plan"), ("attribute", "tier"), ("event", EXPORTED)} <= named
    assert ("attribute", "email") not in named  # one value per answer
    other = client.get(
        "/api/v2/analytics/drivers/", params=PARAMS, headers=token(other_org.key)
    ).json()
    assert other["total"]["responses"] == 0 and other["groups"] == []


def _dashboard(client: TestClient, services: Services, org: Org) -> None:
    add_user(services, org, "ana@example.com")
    sign_in(client, "ana@example.com")
    page = client.get(
        "/drivers",
        params=[("range", "all"), ("by", "plan"), ("by", "tier"), ("event", EXPORTED)],
    )
    assert page.status_code == 200
    table = page.text.split('data-testid="drivers-table"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<th scope="row">([^<]*)</th>.*?data-testid="moves">(.*?)</td>', table, re.S)
    marks = {unescape(label): re.sub(r"<[^>]+>", "", mark) for label, mark in rows}
    assert marks["plan = Enterprise"] == "Lowers it"
    assert re.search(r"from -\d+\.\d to -\d+\.\d points", table)
    promoter = page.text.split('data-testid="model-promoter"', 1)[1].split("</table>", 1)[0]
    significant = re.findall(
        r'<th scope="row">([^<]*)</th>.*?data-testid="significant">(.*?)</td>', promoter, re.S
    )
    verdict = {unescape(f): re.sub(r"<[^>]+>", "", v) for f, v in significant}
    assert verdict["plan = Enterprise"] == "yes" and verdict["tier = Gold"] == "no"
    assert 'href="/drivers' in page.text and 'aria-current="page">Drivers' in page.text


def _cli(org: Org) -> None:
    runner = CliRunner()
    args = ["drivers", str(org.id), "--since", "2026-01-01", "--until", "2099-01-01"]
    result = runner.invoke(main, [*args, "--by", "plan", "--by", "tier", "--event", EXPORTED])
    assert result.exit_code == 0, result.output
    line = next(row for row in result.output.splitlines() if row.startswith("plan = Enterprise"))
    assert line.split()[-1] == "lowers" and "-21.0" in line
    assert "promoter: odds ratios, the other features held fixed" in result.output
    left = "left out: did Exported (none of its answers are detractors"
    assert left in result.output
    bad = runner.invoke(main, [*args, "--by", ""])
    assert bad.exit_code == 2 and "attribute and event names are 1 to 255" in bad.output


def test_the_api_refuses_bad_input(client: TestClient, org: Org) -> None:
    url = "/api/v2/analytics/drivers/"
    for params, status, detail in [
        ({"top": "0"}, 400, None),
        ({"within_days": "0"}, 400, None),
        ({"by": [f"a{i}" for i in range(11)]}, 400, None),
        ({"by": ""}, 400, "attribute and event names are 1 to 255 characters"),
        ({"filter": "{"}, 400, None),
        ({"since": "yesterday-ish"}, 400, None),
    ]:
        response = client.get(url, params=params, headers=token(org.key))
        assert response.status_code == status, (params, response.text)
        if detail:
            assert response.json()["detail"] == detail
    empty = client.get(url, headers=token(org.key))
    assert empty.status_code == 200
    assert empty.json()["regression"]["promoter"]["error"] == (
        "a regression needs at least 100 answers; there are 0"
    )


def test_both_engines_agree_with_brute_force_on_the_reference_dataset(
    database: Database, org: Org
) -> None:
    """The reference harness's random data (mixed types, lists, numbers sent as text,
    events, orders): the groups' responses are those brute force finds for their
    filters, and an attribute's groups are its breakdown's rows, on both engines,
    counting every response or the latest, with attributes then or now."""
    build(database, org.id, random.Random(20261207), contacts_count=16, responses_count=60)
    asked = Request(("plan", "seats", "arr", "labels"), ("Order Completed", "Viewed Page"), True, 3)
    base = NpsQuery(org.id, since=NOW - timedelta(days=400), until=NOW + timedelta(days=1))
    questions = [
        base,
        replace(base, count="latest", where=parse_filter({"attribute": "trial", "value": True})),
        replace(base, attributes="current"),
    ]
    with database.read() as conn:
        world = reference.load(conn, org.id)
        for query in questions:
            s = scope(conn, query, now=NOW)
            recent = replace(asked, within_days=90)
            sql = drivers(_analytics(database, "sql"), conn, s, recent)
            columns = drivers(_analytics(database, "columns"), conn, s, recent)
            assert sql.to_json() == columns.to_json(), query
            rows = {
                (name, row.value): row.summary
                for name in asked.attributes
                for row in Analytics(None).breakdown(conn, s, by=name, top=3).rows
            }
            assert sql.groups, query
            for ranked in sql.groups:
                group = ranked.group
                if group.kind == "attribute":
                    assert ranked.summary == rows[(group.name, group.value)], group.label
                if group.expr is not None:
                    where = And((*([query.where] if query.where else []), group.expr))
                    expected = reference.matching(world, replace(query, where=where), NOW)
                    n, p, d, _ = reference.counts(expected)
                    got = ranked.summary
                    assert (n, p, d) == (got.responses, got.promoters, got.detractors), group.label
