"""Where a dashboard form sends the browser back to: one ``done`` message in the URL,
whatever the URL already carried."""

from __future__ import annotations

import pytest

from promoter.web.dashboard.session import with_done


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/settings/segment", "/settings/segment?done=saved"),
        ("/settings/segment#keys-h", "/settings/segment?done=saved#keys-h"),
        ("/feedback?range=all#f3", "/feedback?range=all&done=saved#f3"),
        (
            "/feedback?done=tags-saved&range=all&done=note-saved&tag=a+b#f3",
            "/feedback?range=all&tag=a+b&done=saved#f3",
        ),
        ("/?filter=%7B%22a%22%3A1%7D&done=", "/?filter=%7B%22a%22%3A1%7D&done=saved"),
        ("/feedback?type=&done=x", "/feedback?type=&done=saved"),
    ],
)
def test_with_done_replaces_any_done_and_keeps_the_rest(url: str, expected: str) -> None:
    assert with_done(url, "saved") == expected
