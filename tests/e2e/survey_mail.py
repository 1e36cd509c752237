"""The survey link of the first survey email a server's file mailer wrote."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

#: How long a test waits for the email.
WAIT_TIMEOUT = 60.0
#: The signed survey token, read off the unsubscribe link.
SIGNED = re.compile(rb"/u/([A-Za-z0-9_.-]+)")


def survey_link(folder: Path) -> str:
    deadline = time.monotonic() + WAIT_TIMEOUT
    while time.monotonic() < deadline:
        for message in folder.glob("*.eml"):
            match = SIGNED.search(message.read_bytes())
            if match:
                return match.group(1).decode()
        time.sleep(0.1)
    pytest.fail(f"no survey email in {folder}")
