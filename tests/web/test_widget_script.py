"""``GET /w/promoter.js``: the web survey script, its headers and caching, its size budget,
and the things a strict Content-Security-Policy forbids, which it must not do."""

from __future__ import annotations

import gzip
import re

import pytest
from fastapi.testclient import TestClient

from promoter.web.widget_script import SCRIPT, accepts_gzip

#: The issue's budget for the script, gzipped.
BUDGET = 12 * 1024


def test_the_script_is_served_with_its_headers(client: TestClient) -> None:
    response = client.get("/w/promoter.js", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.content == SCRIPT.read_bytes()
    assert response.headers["content-type"] == "application/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-encoding" not in response.headers
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["etag"])


def test_gzipped_for_a_browser_that_takes_it(client: TestClient) -> None:
    response = client.get("/w/promoter.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.content == SCRIPT.read_bytes()  # decoded by the client


def test_revalidated_by_its_etag(client: TestClient) -> None:
    etag = client.get("/w/promoter.js").headers["etag"]
    again = client.get("/w/promoter.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert client.get("/w/promoter.js", headers={"If-None-Match": '"old"'}).status_code == 200


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("GZIP ; q=1", True),
        ("gzip;q=0", False),
        ("gzip;q=0.0", False),
        ("br, deflate", False),
        ("", False),
        ("gzip;q=x", False),
    ],
)
def test_accept_encoding(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def test_under_its_size_budget_gzipped() -> None:
    size = len(gzip.compress(SCRIPT.read_bytes(), compresslevel=9))
    assert size < BUDGET, f"promoter.js is {size} bytes gzipped, over {BUDGET}"


@pytest.mark.parametrize(
    "forbidden",
    [
        r"\beval\s*\(",
        r"new\s+Function\b",
        r"setTimeout\(\s*[\"'`]",
        r"\.innerHTML\b",
        r"\.outerHTML\b",
        r"insertAdjacentHTML",
        r"document\.write",
        r"setAttribute\(\s*[\"']style",
        r"\bstyle\s*=",
        r"\.cssText\b",
        r"import\s*\(",
    ],
)
def test_nothing_a_strict_csp_forbids(forbidden: str) -> None:
    """No eval, no HTML strings and no inline style: the host page's CSP needs neither
    'unsafe-eval' nor 'unsafe-inline' (the browser tests load it under such a policy)."""
    assert not re.search(forbidden, SCRIPT.read_text(encoding="utf-8"))


def test_no_function_is_declared_twice() -> None:
    """A second ``function name`` in the same scope silently replaces the first (the
    script has no build step and no linter to say so)."""
    names = re.findall(r"\bfunction\s+(\w+)", SCRIPT.read_text(encoding="utf-8"))
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
