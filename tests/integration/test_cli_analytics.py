"""``promoter nps`` and ``promoter segment`` through click's runner, on both databases."""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from promoter.analytics.filters import parse_filter
from promoter.analytics.query import NpsQuery
from promoter.storage.engine import Database
from tests.analytics import reference
from tests.analytics.dataset import NOW, build
from tests.analytics.writes import PLANTED, answer_by_plan
from tests.comments import say_comments
from tests.conftest import Org
from tests.integration.conftest import Run

WINDOW = [
    "--since",
    (NOW - timedelta(days=200)).date().isoformat(),
    "--until",
    NOW.date().isoformat(),
]


@pytest.fixture
def world(database: Database, org: Org) -> reference.World:
    build(database, org.id, random.Random(11), contacts_count=16, responses_count=50)
    with database.read() as conn:
        return reference.load(conn, org.id)


def want(world: reference.World, org: Org, flt: dict[str, object] | None = None) -> int:
    midnight = NOW.replace(hour=0, minute=0)
    query = NpsQuery(
        organization_id=org.id,
        where=None if flt is None else parse_filter(flt),
        since=midnight - timedelta(days=200),
        until=midnight + timedelta(days=1),
    )
    return len(reference.matching(world, query, NOW))


def test_nps_json_agrees_with_brute_force(run: Run, org: Org, world: reference.World) -> None:
    body = orjson.loads(run("nps", str(org.id), *WINDOW, "--json"))
    assert body["responses"] == want(world, org) > 0
    filtered = orjson.loads(
        run(
            "nps",
            str(org.id),
            *WINDOW,
            "--where",
            "plan=Pro|Premium",
            "--where",
            "seats>=5",
            "--json",
        )
    )
    flt = {
        "and": [
            {"attribute": "plan", "op": "in", "value": ["Pro", "Premium"]},
            {"attribute": "seats", "op": "gte", "value": 5},
        ]
    }
    assert filtered["responses"] == want(world, org, flt)
    by_json = orjson.loads(
        run("nps", str(org.id), *WINDOW, "--filter", orjson.dumps(flt).decode(), "--json")
    )
    assert by_json["responses"] == filtered["responses"]
    both = {"attribute": "plan", "op": "in", "value": ["Premium", "premium"]}
    shouted = [*WINDOW, "--where", "plan=PREMIUM", "--json"]
    assert orjson.loads(run("nps", str(org.id), *shouted))["responses"] == 0
    ignoring = orjson.loads(run("nps", str(org.id), *shouted, "--ignore-case"))
    assert ignoring["responses"] == want(world, org, both) > 0


def test_breakdown_rows_against_the_rest(run: Run, org: Org, database: Database) -> None:
    answer_by_plan(database, org, PLANTED)
    out = run("nps", str(org.id), *WINDOW, "--by", "plan")
    table = out.split("\nplan ", 1)[1].splitlines()
    assert table[0].split()[-2:] == ["vs", "rest"]
    marks = {line.split()[0]: line.split("%")[-1].strip() for line in table[2:] if line}
    assert marks == {
        "Pro": "higher",
        "Free": "lower",
        "Team": "within chance",
        "Trial": "too few",
    }


def test_nps_tables(run: Run, org: Org, world: reference.World) -> None:
    out = run("nps", str(org.id), *WINDOW, "--by", "plan", "--top", "2", "--trend", "month")
    lines = out.splitlines()
    assert lines[1].split()[:3] == ["NPS", "margin", "responses"]
    assert str(want(world, org)) in lines[3]
    assert any(line.startswith("plan ") for line in lines)
    assert any(line.startswith("(other)") for line in lines)
    assert any(line.startswith("from (UTC)") for line in lines)
    assert "response rate" in out
    given = run("nps", str(org.id), *WINDOW, "--by", "arr", "--buckets", "100 5000")
    assert [line.split("  ")[0] for line in given.splitlines()[-4:-1]] == [
        "< 100",
        "100\u20134,999",
        "≥ 5,000",
    ]
    typed = run("nps", str(org.id), *WINDOW, "--by", "arr", "--buckets", "100,5000", "--json")
    assert orjson.loads(typed)["breakdown"]["buckets"] == [100, 5000]


def test_export_and_segments(run: Run, org: Org, world: reference.World) -> None:
    exported = run("nps", str(org.id), *WINDOW, "--where", "plan!=Free", "--export", "-")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert len(rows) == want(world, org, {"attribute": "plan", "op": "ne", "value": "Free"})
    assert "attributes.plan" in rows[0]

    assert "segment 1: Paying" in run(
        "segment", "create", str(org.id), "Paying", "--where", "plan!=Free", "--where", "mrr>0"
    )
    assert "Paying" in run("segment", "list", str(org.id))
    shown = orjson.loads(run("segment", "show", str(org.id), "Paying"))
    assert shown["filter"]["and"][1] == {"attribute": "mrr", "op": "gt", "value": "0"}
    via_segment = orjson.loads(run("nps", str(org.id), *WINDOW, "--segment", "Paying", "--json"))
    assert via_segment["responses"] == want(world, org, shown["filter"])
    run("segment", "create", str(org.id), "Paying", "--where", "plan=Pro", code=1)
    assert "deleted segment" in run("segment", "delete", str(org.id), "Paying")
    assert "no segments" in run("segment", "list", str(org.id))


def test_bad_input_is_a_usage_error(run: Run, org: Org) -> None:
    assert "expected NAME=VALUE" in run("nps", str(org.id), "--where", "plan", code=2)
    assert "not valid JSON" in run("nps", str(org.id), "--filter", "{", code=2)
    assert "number or an ISO-8601 date" in run("nps", str(org.id), "--where", "plan>x", code=2)
    assert "since" in run("nps", str(org.id), "--since", "last week", code=2)
    assert "no segment" in run("nps", str(org.id), "--segment", "nope", code=2)
    refused = run("nps", str(org.id), "--by", "mrr", "--buckets", "5k", code=2)
    assert "'5k' is not a number" in refused
    assert "no organization with id 999" in run("nps", "999", code=1)
    assert "either" in run("segment", "create", str(org.id), "X", code=2)


def test_answer_filters_and_question_settings(
    run: Run, org: Org, world: reference.World, tmp_path: Path
) -> None:
    first = min(row.campaign_id for row in world.rows)
    flt = {"answer": "q1", "campaign": first, "op": "in", "value": ["Price", "Speed"]}
    body = orjson.loads(
        run("nps", str(org.id), *WINDOW, "--filter", orjson.dumps(flt).decode(), "--json")
    )
    assert body["responses"] == want(world, org, flt) > 0
    exported = run("nps", str(org.id), *WINDOW, "--export", "-")
    assert "What matters most?" in exported.splitlines()[0]
    wrong = {"answer": "q1", "campaign": first, "op": "contains", "value": "P"}
    refused = run("nps", str(org.id), "--filter", orjson.dumps(wrong).decode(), code=2)
    assert "contains does not apply to a single question" in refused

    questions = tmp_path / "questions.json"
    questions.write_text('[{"text": "Why?", "type": "text", "audience": "detractors"}]')
    shown = run(
        "campaign",
        "create",
        str(org.id),
        "--name",
        "Asked",
        "--questions",
        f"@{questions}",
        "--answer-window",
        "7",
        "--thanks-url",
        "https://acme.example.com/thanks",
    )
    assert "question q1  Why? (text, to detractors)" in shown
    assert "for 7 days after sending" in shown and "https://acme.example.com/thanks" in shown
    campaign_id = re.search(r"campaign (\d+) created", shown).group(1)  # type: ignore[union-attr]
    cleared = run(
        "campaign",
        "update",
        str(org.id),
        campaign_id,
        "--questions",
        "off",
        "--answer-window",
        "off",
    )
    assert "questions  none" in cleared and "for ever" in cleared
    bad = run("campaign", "update", str(org.id), campaign_id, "--questions", "[{}]", code=1)
    assert "questions.0.text" in bad
    assert "not valid JSON" in run(
        "campaign", "update", str(org.id), campaign_id, "--questions", "[", code=2
    )
    assert "number of days" in run(
        "campaign", "update", str(org.id), campaign_id, "--answer-window", "soon", code=2
    )


def test_export_searches_the_comments(run: Run, database: Database, org: Org) -> None:
    said = say_comments(database, org)
    window = ("--since", "2000-01-01")
    exported = run("nps", str(org.id), *window, "--search", "great service", "--export", "-")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert {int(row["response_id"]) for row in rows} == {said["fast"], said["slow"]}
    assert "add --export" in run("nps", str(org.id), "--search", "great", code=2)
    assert "200 characters" in run(
        "nps", str(org.id), "--search", "x" * 201, "--export", "-", code=2
    )
