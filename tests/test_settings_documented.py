"""Every setting is documented in docs/configuration.md (and nothing stale is)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from promoter.config import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text()
    documented = set(re.findall(r"`(PROMOTER_[A-Z_]+)`", text))
    declared = {f"PROMOTER_{name.upper()}" for name in Settings.model_fields}
    assert declared - documented == set(), "undocumented settings"
    assert documented - declared == set(), "documented settings that do not exist"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMOTER_DATABASE_URL", "postgres://u@h/db")
    monkeypatch.setenv("PROMOTER_BASE_URL", "https://nps.example.com/")
    monkeypatch.setenv("PROMOTER_PORT", "9000")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.public_url == "https://nps.example.com"
    assert settings.port == 9000
    assert Settings(base_url=None, host="0.0.0.0", port=81).public_url == "http://127.0.0.1:81"


def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMOTER_PORT", "70000")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.delenv("PROMOTER_PORT")
    monkeypatch.setenv("PROMOTER_DEDUP_RETENTION_HOURS", "1")
    with pytest.raises(ValidationError):
        Settings()
