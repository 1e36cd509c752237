"""The email template form's branding: a brand colour (picker and text) and a logo
uploaded as a file (multipart), shown on the edit page and in the preview."""

from __future__ import annotations

import html
import io
from typing import Any

from PIL import Image

from promoter.campaigns import service
from promoter.campaigns.logos import template_logo
from promoter.campaigns.models import Campaign, EmailTemplate
from promoter.storage.engine import Database
from tests.conftest import Org
from tests.dashboard.conftest import Browser

TEMPLATE_FORM = {
    "subject": "How likely are you to recommend Acme?",
    "from_name": "Acme",
    "reply_to": "",
    "intro_message": "",
    "brand_name": "Acme",
    "language": "en",
    "logo_url": "https://cdn.example.com/logo.png",
}


def png(size: tuple[int, int] = (90, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "#0b7285").save(out, "PNG")
    return out.getvalue()


def the_campaign(database: Database, org: Org) -> tuple[Campaign, EmailTemplate]:
    with database.read() as conn:
        (campaign,) = service.list_campaigns(conn, organization_id=org.id)
        template = service.get_template(
            conn, organization_id=org.id, template_id=campaign.email_template_id
        )
    return campaign, template


def post_template(
    browser: Browser, campaign: Campaign, fields: dict[str, str], logo: Any = None
) -> Any:
    """The form as a browser sends it: multipart, with the file field (empty: no file)."""
    files = {"logo_file": logo or ("", b"", "application/octet-stream")}
    return browser.client.post(
        f"/campaigns/{campaign.id}/template",
        data={"csrf": browser.csrf, **fields},
        files=files,
        follow_redirects=False,
    )


def test_the_form_offers_a_colour_picker_and_a_file_input(
    browser: Browser, database: Database
) -> None:
    campaign, _ = the_campaign(database, browser.org)
    page = browser.client.get(f"/campaigns/{campaign.id}").text
    assert 'enctype="multipart/form-data"' in page
    assert 'type="color" name="brand_color_picker" value="#1f2933"' in page
    assert 'id="brand_color" name="brand_color"' in page
    assert 'type="file" accept="image/png,image/jpeg,image/gif,image/webp"' in page
    new_page = browser.client.get("/campaigns/new").text
    assert 'name="brand_color"' in new_page


def test_a_logo_and_a_colour_saved_from_the_form(browser: Browser, database: Database) -> None:
    campaign, _ = the_campaign(database, browser.org)
    content = png()
    fields = TEMPLATE_FORM | {"brand_color": "#0B7285", "brand_color_picker": "#1f2933"}
    fields["brand_color_picker_shown"] = "#1f2933"
    saved = post_template(browser, campaign, fields, ("logo.png", content, "image/png"))
    assert saved.status_code == 303, saved.text
    _, template = the_campaign(database, browser.org)
    assert template.brand_color == "#0b7285" and template.logo_id is not None
    with database.read() as conn:
        logo = template_logo(conn, organization_id=browser.org.id, logo_id=template.logo_id)
    assert logo is not None and (logo.width, logo.height) == (90, 30)
    assert browser.client.get(logo.stored.path).content == content

    page = browser.client.get(f"/campaigns/{campaign.id}").text
    assert f'<img src="{logo.stored.path}"' in page
    assert 'value="#0b7285"' in page
    preview = browser.client.get(f"/campaigns/{campaign.id}/preview/email").text
    assert f"http://testserver{logo.stored.path}" in preview
    assert "cdn.example.com" not in preview  # the uploaded logo wins
    assert "background:#0b7285" in preview

    # Saved again without a file: the logo stays; the picker moved: its colour wins.
    moved = TEMPLATE_FORM | {
        "brand_color": "#0b7285",
        "brand_color_picker": "#aa3355",
        "brand_color_picker_shown": "#0b7285",
    }
    assert post_template(browser, campaign, moved).status_code == 303
    _, kept = the_campaign(database, browser.org)
    assert kept.logo_id == template.logo_id and kept.brand_color == "#aa3355"

    removed = post_template(browser, campaign, TEMPLATE_FORM | {"remove_logo": "on"})
    assert removed.status_code == 303
    _, after = the_campaign(database, browser.org)
    assert after.logo_id is None and after.brand_color is None
    assert browser.client.get(logo.stored.path).status_code == 404
    preview = browser.client.get(f"/campaigns/{campaign.id}/preview/email").text
    assert "https://cdn.example.com/logo.png" in preview


def test_a_refused_logo_or_colour_is_explained_and_nothing_changes(
    browser: Browser, database: Database
) -> None:
    campaign, before = the_campaign(database, browser.org)
    cases = [
        ({}, ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"), "Logo"),
        ({}, ("logo.png", png((2100, 10)), "image/png"), "at most 2048x2048"),
        ({}, ("logo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 300_000, "image/png"), "256 KB"),
        ({"brand_color": "blue"}, None, "colour is written #RRGGBB"),
    ]
    for changes, logo, says in cases:
        answer = post_template(browser, campaign, TEMPLATE_FORM | changes, logo)
        assert answer.status_code == 400, says
        assert says in html.unescape(answer.text), says
        _, after = the_campaign(database, browser.org)
        assert after.logo_id is None and after.brand_color == before.brand_color


def test_the_form_needs_its_csrf_token_when_multipart_too(
    browser: Browser, database: Database
) -> None:
    campaign, _ = the_campaign(database, browser.org)
    answer = browser.client.post(
        f"/campaigns/{campaign.id}/template",
        data={"csrf": "forged", **TEMPLATE_FORM},
        files={"logo_file": ("logo.png", png(), "image/png")},
        follow_redirects=False,
    )
    assert answer.status_code in (400, 403)
    _, template = the_campaign(database, browser.org)
    assert template.logo_id is None
