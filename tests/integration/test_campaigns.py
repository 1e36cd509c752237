"""Campaigns: defaults for new organizations, validation, scoping, the CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from promoter.campaigns import service as campaigns
from promoter.campaigns.models import CampaignSettings
from promoter.cli import main
from promoter.storage.engine import Database
from tests.conftest import Org


def test_a_new_organization_has_an_active_segment_campaign(database: Database, org: Org) -> None:
    with database.read() as conn:
        (campaign,) = campaigns.list_campaigns(conn, organization_id=org.id)
        template = campaigns.get_template(
            conn, organization_id=org.id, template_id=campaign.email_template_id
        )
    assert (campaign.kind, campaign.status, campaign.trigger_events) == ("segment", "active", [])
    assert campaign.throttle_days == 90 and campaign.triggered_by("Anything At All")
    assert template.brand_name == "Acme" and "Acme" in template.subject


def test_update_validates_the_result_and_keeps_other_settings(database: Database, org: Org) -> None:
    with database.write() as conn:
        (campaign,) = campaigns.list_campaigns(conn, organization_id=org.id)
        updated = campaigns.update_campaign(
            conn,
            organization_id=org.id,
            campaign_id=campaign.id,
            changes={
                "trigger_events": ["Order Completed", " Order Completed "],
                "delay_minutes": 30,
            },
        )
    assert updated.trigger_events == ["Order Completed"] and updated.delay_minutes == 30
    assert updated.throttle_days == 90
    assert updated.triggered_by("Order Completed") and not updated.triggered_by("Logged In")
    bad = [
        {"reminder_days": 4},
        {"send_window_start": 9},
        {"send_window_start": 17, "send_window_end": 9},
        {"throttle_days": 0},
        {"status": "deleted"},
        {"forward_email": "not an email"},
        {"unknown": 1},
    ]
    for changes in bad:
        with database.write() as conn, pytest.raises(ValidationError):
            campaigns.update_campaign(
                conn, organization_id=org.id, campaign_id=campaign.id, changes=changes
            )


def test_campaigns_are_scoped_to_their_organization(
    database: Database, org: Org, other_org: Org
) -> None:
    with database.read() as conn:
        (mine,) = campaigns.list_campaigns(conn, organization_id=org.id)
        with pytest.raises(campaigns.NotFound):
            campaigns.get_campaign(conn, organization_id=other_org.id, campaign_id=mine.id)
        with pytest.raises(campaigns.NotFound):
            campaigns.get_template(
                conn, organization_id=other_org.id, template_id=mine.email_template_id
            )
    with database.write() as conn, pytest.raises(campaigns.NotFound):
        campaigns.create_campaign(
            conn,
            organization_id=other_org.id,
            settings=CampaignSettings(name="Steal"),
            template_id=mine.email_template_id,
        )


def test_cli_create_show_update_pause(
    database: Database, database_url: str, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMOTER_DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, [str(a) for a in args])
        assert result.exit_code == code, result.output
        return result.output

    out = run(
        "campaign", "create", org.id, "--name", "Post-purchase", "--event", "Order Completed",
        "--delay", "60", "--weekdays-only", "--window", "9-17", "--reminder", "5",
        "--brand", "Acme Shop", "--language", "de", "--forward", "team@acme.example.com",
    )  # fmt: skip
    assert "campaign 2 created" in out and "Order Completed" in out and "9:00-17:00" in out
    listing = run("campaign", "list", org.id)
    assert "Segment campaign" in listing and "Post-purchase" in listing
    shown = run("campaign", "show", org.id, 2)
    assert "after 5 days" in shown and "team@acme.example.com" in shown and "de" in shown
    assert "paused" in run("campaign", "pause", org.id, 2)
    out = run(
        "campaign", "update", org.id, 2, "--status", "active", "--any-event", "--window", "off"
    )
    assert "any track event" in out and "any time" in out and "active" in out
    assert "window" in run("campaign", "update", org.id, 2, "--window", "17-9", code=1)
    assert "Invalid value for '--reminder'" in run(
        "campaign", "update", org.id, 2, "--reminder", "4", code=2
    )
    assert "no campaign 99" in run("campaign", "show", org.id, 99, code=1)
    assert "--name is required" in run("campaign", "create", org.id, code=2)
    assert "brand colour  default" in run("campaign", "show", org.id, 2)
    assert "#0b7285" in run("campaign", "update", org.id, 2, "--brand-color", "#0B7285")
    refused = run("campaign", "update", org.id, 2, "--brand-color", "teal", code=1)
    assert "a colour is written #RRGGBB" in refused
    assert "brand colour  default" in run("campaign", "update", org.id, 2, "--brand-color", "off")


def test_cli_channel(
    database: Database, database_url: str, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMOTER_DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*args: str | int, code: int = 0) -> str:
        result = runner.invoke(main, [str(a) for a in args])
        assert result.exit_code == code, result.output
        return result.output

    out = run("campaign", "create", org.id, "--name", "In app", "--channel", "web")
    assert "channel  in the app (web survey)" in out
    assert "\tIn app\tsegment\tweb\tactive\t" in run("campaign", "list", org.id)
    out = run("campaign", "update", org.id, 2, "--channel", "both")
    assert "channel  in the app first, email after 3 days if not shown there" in out
    assert "channel  email" in run("campaign", "show", org.id, 1)
    assert "Invalid value for '--channel'" in run(
        "campaign", "update", org.id, 2, "--channel", "sms", code=2
    )
    refused = run("campaign", "update", org.id, 2, "--kind", "manual", code=1)
    assert "channel: a manual campaign sends by email" in refused
    out = run("campaign", "update", org.id, 2, "--kind", "manual", "--channel", "email")
    assert "channel  email" in out
    with database.read() as conn:
        found = campaigns.get_campaign(conn, organization_id=org.id, campaign_id=2)
    assert (found.kind, found.channel) == ("manual", "email")
