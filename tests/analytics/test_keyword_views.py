"""Comment keywords through the API, the CLI and the dashboard page, their rules included,
on the planted set of ``planted_keywords``."""

from __future__ import annotations

import re
from html import unescape

import orjson
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from promoter.cli import main
from promoter.domain.roles import Role
from promoter.services import Services
from tests.analytics.planted_keywords import COMMENTS, WINDOW, plant
from tests.conftest import Org
from tests.credentials import token
from tests.dashboard.conftest import add_user, sign_in

URL = "/api/v2/analytics/keywords/"
RULES = "/api/v2/analytics/keywords/rules/"


def test_keywords_and_rules_through_the_api_cli_and_page(
    services: Services,
    client: TestClient,
    org: Org,
    other_org: Org,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMOTER_DATABASE_URL", database_url)
    plant(services.database, org, COMMENTS)
    headers = token(org.key)
    body = client.get(URL, params=WINDOW, headers=headers).json()
    assert body["comments"] == 24 and body["previous"]["window"]["until"] == body["window"]["since"]
    price = body["keywords"][0]
    assert (price["keyword"], price["comments"], price["enough"]) == ("price", 12, True)
    assert round(price["nps"], 1) == -16.7 and price["confidence_interval"][0] < -16.7
    assert price["change"] == {"points": None, "margin": None, "significant": None, "too_few": True}
    assert [w["comments"] for w in price["weeks"]] == [6, 2, 4, 0]
    assert body["keywords"][1]["nps"] is None and body["keywords"][1]["enough"] is False
    narrowed = client.get(URL, params={**WINDOW, "score_type": "promoter"}, headers=headers)
    # Among promoters "price" is only ever said in "good price": its part, left out.
    promoters = [k["keyword"] for k in narrowed.json()["keywords"]]
    assert promoters == ["good price", "alto", "great", "precio", "support"]
    latest = client.get(
        URL, params={**WINDOW, "count": "latest", "channel": "email"}, headers=headers
    )
    assert latest.json()["comments"] == 24, "one answer per contact"
    none = {**WINDOW, "tag": "nothing", "attributes[plan]": "pro", "attributes_at": "now"}
    assert client.get(URL, params=none, headers=headers).json()["comments"] == 0
    made = client.post(
        RULES, json={"keyword": "prix", "action": "merge", "target": "price"}, headers=headers
    )
    assert made.status_code == 201, made.text
    merged = client.get(URL, params=WINDOW, headers=headers).json()["keywords"][0]
    assert merged["phrases"] == ["price", "prix"] and merged["comments"] == 14
    assert client.get(RULES, headers=headers).json()["count"] == 1
    assert client.get(RULES, headers=token(other_org.key)).json()["count"] == 0
    theirs = client.get(URL, params=WINDOW, headers=token(other_org.key)).json()
    assert theirs["comments"] == 0 and theirs["keywords"] == []
    _cli(org, made.json()["id"])
    _page(client, services, org)


def _cli(org: Org, rule_id: int) -> None:
    runner = CliRunner()
    window = ["--since", WINDOW["since"], "--until", WINDOW["until"]]
    listed = runner.invoke(main, ["keywords", "list", str(org.id), *window])
    assert listed.exit_code == 0, listed.output
    line = next(row for row in listed.output.splitlines() if row.startswith("price "))
    # "prix" (2 detractors, week 1) is merged in: 14 comments, (4 - 8) / 14.
    assert line.split() == ["price", "14", "-28.6", "±40.9", "too", "few", "8", "2", "4", "0"]
    support = next(row for row in listed.output.splitlines() if row.startswith("support "))
    assert "not enough answers" in support
    as_json = runner.invoke(
        main, ["keywords", "list", str(org.id), *window, "--json", "--top", "1"]
    )
    assert orjson.loads(as_json.output)["keywords"][0]["keyword"] == "price"
    hidden = runner.invoke(main, ["keywords", "hide", str(org.id), "Support"])
    assert hidden.exit_code == 0 and "hide support" in hidden.output
    renamed = runner.invoke(main, ["keywords", "rename", str(org.id), "slow", "Slowness"])
    assert renamed.exit_code == 0, renamed.output
    loop = runner.invoke(main, ["keywords", "merge", str(org.id), "price", "prix"])
    assert loop.exit_code == 1 and "makes a loop" in loop.output
    again = runner.invoke(main, ["keywords", "hide", str(org.id), "support"])
    assert again.exit_code == 1 and "has a rule already" in again.output
    rules = runner.invoke(main, ["keywords", "rules", str(org.id)])
    assert all(word in rules.output for word in ("prix", "merge", "support", "hide", "Slowness"))
    shown = runner.invoke(main, ["keywords", "list", str(org.id), *window]).output
    assert "Slowness" in shown and not re.search(r"^support ", shown, re.M)
    gone = runner.invoke(main, ["keywords", "unrule", str(org.id), str(rule_id)])
    assert gone.exit_code == 0 and "deleted" in gone.output
    missing = runner.invoke(main, ["keywords", "unrule", str(org.id), str(rule_id)])
    assert missing.exit_code == 1 and f"no rule {rule_id}" in missing.output
    bad = runner.invoke(main, ["keywords", "list", str(org.id), "--since", "soon"])
    assert bad.exit_code == 2 and "since" in bad.output


def _page(client: TestClient, services: Services, org: Org) -> None:
    add_user(services, org, "ana@example.com", Role.MEMBER)
    csrf = sign_in(client, "ana@example.com")
    page = client.get("/keywords", params={"range": "custom", **WINDOW})
    assert page.status_code == 200
    assert 'aria-current="page">Keywords' in page.text
    table = page.text.split('data-testid="keywords-table"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<th scope="row"><a href="([^"]*)">([^<]*)</a>', table)
    links = {unescape(name): unescape(href) for href, name in rows}
    assert list(links)[:3] == ["price", "good price", "Slowness"]
    assert "support" not in links, "hidden by the command"
    assert "search=price" in links["price"] and "since=2026-06-01" in links["price"]
    assert "not enough answers" in table and "too few to compare" in table
    assert 'role="img" aria-label="Comments per week: 6, 2, 4, 0"' in table
    form = {"csrf": csrf, "keyword": "good price", "action": "rename", "target": "Good value"}
    saved = client.post("/keywords/rules", data=form, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].startswith("/keywords")
    after = client.get("/keywords", params={"range": "custom", **WINDOW}).text
    assert ">Good value</a>" in after and "is shown as <strong>Good value</strong>" in after
    refused = client.post("/keywords/rules", data={**form, "keyword": "x", "target": ""})
    assert refused.status_code == 400 and "target: required" in refused.text
    add_user(services, org, "rita@example.com", Role.READ_ONLY)
    with TestClient(client.app) as reader:
        sign_in(reader, "rita@example.com")
        read = reader.get("/keywords", params={"range": "custom", **WINDOW}).text
        assert ">Good value</a>" in read and 'action="/keywords/rules"' not in read


def test_the_api_refuses_bad_input(client: TestClient, org: Org) -> None:
    headers = token(org.key)
    for params in [{"top": "0"}, {"top": "201"}, {"since": "soon"}, {"filter": "{"}]:
        response = client.get(URL, params=params, headers=headers)
        assert response.status_code == 400, (params, response.text)
    for body, status, detail in [
        ({"keyword": "a", "action": "drop"}, 400, None),
        ({"keyword": "", "action": "hide"}, 400, None),
        ({"keyword": "a", "action": "rename"}, 400, "target: required"),
        ({"keyword": "a", "action": "merge", "target": "A"}, 400, "merged into itself"),
        ({"keyword": "a", "action": "hide", "target": "b"}, 400, "takes no target"),
        ({"keyword": "a" * 201, "action": "hide"}, 400, None),
        ({"keyword": "a", "action": "hide", "extra": 1}, 400, None),
        ({"keyword": "a\x00", "action": "hide"}, 400, None),
    ]:
        response = client.post(RULES, json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        if detail:
            assert detail in response.json()["detail"]
    assert (
        client.post(RULES, json={"keyword": "a", "action": "hide"}, headers=headers).status_code
        == 201
    )
    conflict = client.post(RULES, json={"keyword": " A", "action": "hide"}, headers=headers)
    assert conflict.status_code == 409
    for rule_id in ("0", "99999999", "99999999999999999999", "x"):
        response = client.delete(f"{RULES}{rule_id}/", headers=headers)
        assert response.status_code in (400, 404), (rule_id, response.text)
