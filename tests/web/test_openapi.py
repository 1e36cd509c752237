"""The OpenAPI document: complete for API clients, and committed as docs/openapi.json."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from promoter.cli import main
from promoter.cli.openapi import REGENERATE, current_document
from promoter.web.openapi import install_openapi

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(current_document())  # type: ignore[no-any-return]


def operations(document: dict[str, Any], prefix: str = "/") -> Iterator[tuple[str, str, Any]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS and path.startswith(prefix):
                yield method.upper(), path, operation


def test_the_committed_document_is_the_apps() -> None:
    current = current_document()
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    if committed != current:
        diff = difflib.unified_diff(
            committed.splitlines(), current.splitlines(), "docs/openapi.json", "the app", n=1
        )
        shown = "\n".join(list(diff)[:40])
        pytest.fail(f"docs/openapi.json is out of date; run `{REGENERATE}`\n{shown}")


def test_the_command_writes_and_checks_the_document(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    runner = CliRunner()
    assert runner.invoke(main, ["openapi", str(target)]).exit_code == 0
    document = target.read_text(encoding="utf-8")
    assert document == current_document()
    assert runner.invoke(main, ["openapi", "--check", str(target)]).exit_code == 0
    target.write_text("{}\n")
    stale = runner.invoke(main, ["openapi", "--check", str(target)])
    assert stale.exit_code == 1
    assert REGENERATE in stale.output
    assert runner.invoke(main, ["openapi"]).output == document


def test_the_app_serves_the_same_document(client: TestClient, document: dict[str, Any]) -> None:
    assert client.get("/openapi.json").json() == document


def test_only_programs_endpoints_are_documented(document: dict[str, Any]) -> None:
    outside = [
        path
        for path in document["paths"]
        if not path.startswith(("/api/v2/", "/segment", "/v1/", "/health"))
    ]
    assert outside == []


def test_every_api_operation_is_described_and_secured(document: dict[str, Any]) -> None:
    api = list(operations(document, "/api/v2/"))
    assert len(api) > 20
    for method, path, operation in api:
        where = f"{method} {path}"
        handler = operation["operationId"].replace("_", " ")
        summary = operation.get("summary", "")
        assert summary and not handler.startswith(summary.lower()), f"{where}: no summary"
        assert operation["security"] == [{"Token": []}], where
        responses = operation["responses"]
        assert {"401", "429"} <= set(responses), where
        assert "Retry-After" in responses["429"]["headers"], where
        assert "422" not in responses, f"{where}: validation errors are answered 400"
        if "{" in path:
            assert "404" in responses, where
        if operation.get("parameters") or "requestBody" in operation:
            assert "400" in responses, where
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    token = document["components"]["securitySchemes"]["Token"]
    assert (token["type"], token["in"], token["name"]) == ("apiKey", "header", "Authorization")


def test_segment_endpoints_declare_their_errors(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document, "/v1/"):
        responses = operation["responses"]
        assert {"400", "401", "429"} <= set(responses), f"{method} {path}"
        schema = responses["429"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/SegmentError"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v2/segments/"),
        ("PATCH", "/api/v2/segments/{segment_id}/"),
        ("POST", "/api/v2/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver/"),
        ("POST", "/api/v2/analytics/keywords/rules/"),
    ],
)
def test_operations_that_answer_409_declare_it(
    document: dict[str, Any], method: str, path: str
) -> None:
    answer = document["paths"][path][method.lower()]["responses"]["409"]
    schema = answer["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Conflict"} and answer["description"]


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    schemas = document["components"]["schemas"]
    refs = {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}
    assert refs - set(schemas) == set()
    assert set(schemas) - refs == set(), "schemas nothing uses"


def test_errors_a_router_declares_get_their_bodies() -> None:
    app = FastAPI()
    install_openapi(app)

    @app.post(
        "/api/v2/things/remove/",
        summary="Remove a thing",
        responses={404: {"description": "No such thing"}},
    )
    def things_remove(name: str) -> dict[str, str]:
        return {}

    operation = app.openapi()["paths"]["/api/v2/things/remove/"]["post"]
    assert operation["operationId"] == "things_remove"
    responses = operation["responses"]
    # 403: a POST needs a member key at least (web/access.py).
    assert sorted(responses) == ["200", "400", "401", "403", "404", "429", "503"]
    assert responses["404"]["description"] == "No such thing"
    schema = responses["404"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Detail"}
