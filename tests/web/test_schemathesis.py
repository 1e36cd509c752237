"""A client that knows the API only from its OpenAPI document.

Schemathesis reads the document the app builds (the one it serves at /openapi.json) and,
for every /api/v2 operation, sends the requests it derives from it (boundary values, then
generated ones, derandomized so every run sends the same) with an organization's key,
over an organization with contacts, events, orders and answers. Every answer must be no
server error, have a status the document declares, and a body matching the schema
declared for it.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.python import asgi

from promoter.app import create_app
from promoter.cli.openapi import current_document
from promoter.config import Settings
from promoter.services import Services
from promoter.storage.engine import Database
from tests.analytics.dataset import build
from tests.conftest import _empty, make_org
from tests.credentials import token
from tests.figures import record

SCHEMA = schemathesis.openapi.from_dict(json.loads(current_document()))
API = "^/api/v2/"
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.response_schema_conformance,
]
BASE_URL = f"http://{asgi.HOST}"
#: Generated ids are brought down to at most this.
HIGHEST_ID = 12
#: Where ids stay as generated: a webhook found would be pinged over the network.
KEEP_IDS = "/api/v2/webhooks/"
#: A request answered later than this is taken for a hang.
HANG_SECONDS = 30.0
#: Growth of the process (over its size when the module starts) taken for unbounded memory.
MEMORY_BOUND_MB = 512.0


def _near_the_data(value: Any) -> Any:
    """An id brought down to the range of the data's, so that most name an object; some
    routers document their ids as text."""
    if isinstance(value, int) and value > 0:
        return 1 + (value - 1) % HIGHEST_ID
    if isinstance(value, str):
        return str(1 + sum(value.encode()) % HIGHEST_ID)
    return value


@SCHEMA.hook
def map_path_parameters(
    context: schemathesis.HookContext, parameters: dict[str, Any] | None
) -> dict[str, Any] | None:
    operation = context.operation
    if not parameters or (operation is not None and operation.path.startswith(KEEP_IDS)):
        return parameters
    return {
        name: _near_the_data(value) if name.endswith("_id") else value
        for name, value in parameters.items()
    }


def resident_mb() -> float:
    """This process's resident memory now (the app runs in it)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Usage:
    requests: int = 0
    slowest_seconds: float = 0.0
    baseline_mb: float = field(default_factory=resident_mb)
    peak_growth_mb: float = 0.0


@dataclass(frozen=True)
class Api:
    client: asgi.ASGIClient
    #: The organization's key, sent instead of the ones schemathesis makes up.
    headers: dict[str, str]
    usage: Usage = field(default_factory=Usage)

    def check(self, case: schemathesis.Case) -> None:
        started = time.monotonic()
        response = case.call(session=self.client, base_url=BASE_URL, headers=self.headers)
        took = time.monotonic() - started
        growth = resident_mb() - self.usage.baseline_mb
        usage = self.usage
        usage.requests += 1
        usage.slowest_seconds = max(usage.slowest_seconds, took)
        usage.peak_growth_mb = max(usage.peak_growth_mb, growth)
        where = f"{case.method} {case.formatted_path}"
        # Not speed or size targets: bounds only a request stuck in a loop, or one whose
        # memory grows with what it is sent, can reach.
        assert took < HANG_SECONDS, f"{where} took {took:.0f} s"
        assert growth < MEMORY_BOUND_MB, f"{where}: the process grew by {growth:.0f} MB"
        case.validate_response(response, checks=CHECKS, headers=self.headers)


@pytest.fixture(scope="module")
def api(database_url: str) -> Iterator[Api]:
    """The app over one organization's data, reached in process."""
    database = Database.from_url(database_url)
    org = make_org(database)
    build(database, org.id, random.Random(20260630), contacts_count=12, responses_count=30)
    app_settings = Settings(
        database_url=database_url,
        base_url=BASE_URL,
        rate_limit_api="0",
        rate_limit_failed_auth="0",  # it probes every route without a key, many times
        rate_limit_survey_pages="0",
    )
    app = create_app(Services.build(app_settings, database))
    api = None
    try:
        with asgi.get_client(app) as client:
            api = Api(client, token(org.key))
            yield api
    finally:
        asgi.shutdown_lifespans()
        if api is not None and api.usage.requests:
            record(
                "schemathesis",
                database.engine.dialect.name,
                requests=api.usage.requests,
                slowest_request_seconds=round(api.usage.slowest_seconds, 2),
                peak_memory_growth_mb=round(api.usage.peak_growth_mb, 1),
            )
        _empty(database)
        database.dispose()


EXAMPLES = settings(
    max_examples=20,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
#: Operations that fail today, and why: each runs as a strict xfail, so the run fails
#: once its router is fixed, until it is removed from here.
#: Operations known to fail a check, with why: run as strict xfails until fixed.
KNOWN_FAILURES: dict[str, str] = {}
KNOWN = list(KNOWN_FAILURES)


@SCHEMA.include(path_regex=API).exclude(method="DELETE").exclude(name=KNOWN).parametrize()
@EXAMPLES
def test_api(case: schemathesis.Case, api: Api) -> None:
    api.check(case)


if KNOWN_FAILURES:  # schemathesis refuses a test of no operation

    @SCHEMA.include(name=KNOWN).parametrize()
    @pytest.mark.xfail(strict=True, reason="listed in KNOWN_FAILURES")
    @EXAMPLES
    def test_api_known_failures(case: schemathesis.Case, api: Api) -> None:
        api.check(case)


@SCHEMA.include(path_regex=API, method="DELETE").exclude(name=KNOWN).parametrize()
@EXAMPLES
def test_api_deletes(case: schemathesis.Case, api: Api) -> None:
    """After the others, which then find the data in place."""
    api.check(case)
