"""Uploaded logos and brand colours through the REST API, the public /logos/ URLs, and
the survey email that shows them: on each database."""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import struct
import zlib
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from promoter.config import Settings
from promoter.delivery.branding import BRANDING_COLUMNS, branding_of
from promoter.delivery.survey_templates import surveys_with_templates
from promoter.services import Services
from promoter.storage.tables import logos, surveys
from tests.conftest import Org
from tests.credentials import token


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The suite's settings, with the survey emails written to files."""
    return settings.model_copy(update={"email_url": f"file:{tmp_path / 'mail'}"})


def image(kind: str = "PNG", size: tuple[int, int] = (120, 40), color: str = "#0b7285") -> bytes:
    """A small real image made with Pillow."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, kind)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with one tiny data chunk:
    what a decompression bomb looks like before it is inflated."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def template_id(client: TestClient, org: Org) -> int:
    found = client.get("/api/v2/email/", headers=token(org.key)).json()
    return int(found["results"][0]["id"])


def upload(
    client: TestClient, org: Org, template: int, content: bytes, content_type: str | None
) -> httpx.Response:
    headers = token(org.key) | ({"Content-Type": content_type} if content_type else {})
    return client.put(f"/api/v2/email/{template}/logo/", content=content, headers=headers)


def stored_logos(services: Services) -> int:
    with services.database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(logos)).scalar_one())


def test_upload_serve_replace_and_delete(client: TestClient, org: Org, services: Services) -> None:
    template = template_id(client, org)
    png = image("PNG", (120, 40))
    answer = upload(client, org, template, png, "image/png")
    assert answer.status_code == 200, answer.text
    logo = answer.json()["uploaded_logo"]
    assert logo["content_type"] == "image/png"
    assert (logo["bytes"], logo["width"], logo["height"]) == (len(png), 120, 40)
    assert logo["url"].startswith(f"http://testserver/logos/{logo['url'].split('/')[-1]}")
    assert logo["url"].endswith(".png")
    again = client.get(f"/api/v2/email/{template}/", headers=token(org.key)).json()
    assert again["uploaded_logo"] == logo
    listed = client.get("/api/v2/email/", headers=token(org.key)).json()["results"]
    assert listed[0]["uploaded_logo"] == logo

    served = client.get(logo["url"])  # no key: mail clients fetch it
    assert served.status_code == 200
    assert served.content == png
    assert served.headers["content-type"] == "image/png"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "default-src 'none'"

    jpeg = image("JPEG", (64, 64), "#f0b429")
    replaced = upload(client, org, template, jpeg, "image/jpeg").json()["uploaded_logo"]
    assert replaced["url"].endswith(".jpg") and replaced["url"] != logo["url"]
    assert client.get(replaced["url"]).content == jpeg
    assert client.get(logo["url"]).status_code == 404
    assert stored_logos(services) == 1

    removed = client.delete(f"/api/v2/email/{template}/logo/", headers=token(org.key))
    assert removed.status_code == 204
    after = client.get(f"/api/v2/email/{template}/", headers=token(org.key)).json()
    assert after["uploaded_logo"] is None
    assert client.get(replaced["url"]).status_code == 404
    assert stored_logos(services) == 0
    again_removed = client.delete(f"/api/v2/email/{template}/logo/", headers=token(org.key))
    assert again_removed.status_code == 204


@pytest.mark.parametrize("kind", ["GIF", "WEBP"])
def test_gif_and_webp_are_accepted(client: TestClient, org: Org, kind: str) -> None:
    content = image(kind, (30, 20))
    answer = upload(client, org, template_id(client, org), content, f"image/{kind.lower()}")
    assert answer.status_code == 200, answer.text
    assert client.get(answer.json()["uploaded_logo"]["url"]).content == content


@pytest.mark.parametrize(
    ("content", "content_type", "status", "says"),
    [
        (image("PNG", (600, 600)) + b"\x00" * (256 * 1024), "image/png", 413, "256 KB"),
        (image("PNG"), "image/svg+xml", 415, "image/png, image/jpeg"),
        (image("PNG"), "text/plain", 415, "not text/plain"),
        (image("PNG"), None, 415, "not none"),
        (image("PNG"), "image/jpeg", 415, "image/png, not the image/jpeg declared"),
        (image("JPEG"), "image/png", 415, "image/jpeg, not the image/png declared"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "image/png",
            415,
            "not a PNG, JPEG, GIF or WebP image",
        ),
        (b"garbage, not an image at all", "image/gif", 415, "not a PNG"),
        (image("PNG")[:60], "image/png", 400, "cannot be read"),
        (b"", "image/png", 400, "empty"),
        (image("PNG", (2049, 10)), "image/png", 400, "2049x10 pixels; at most 2048x2048"),
        (png_claiming(3000, 3000), "image/png", 400, "3000x3000"),
        (png_claiming(100_000, 100_000), "image/png", 400, "too many pixels"),
    ],
)
def test_refused_uploads_say_why_and_store_nothing(
    client: TestClient,
    org: Org,
    services: Services,
    content: bytes,
    content_type: str | None,
    status: int,
    says: str,
) -> None:
    template = template_id(client, org)
    answer = upload(client, org, template, content, content_type)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["detail"]
    assert stored_logos(services) == 0
    found = client.get(f"/api/v2/email/{template}/", headers=token(org.key)).json()
    assert found["uploaded_logo"] is None


def test_an_upload_past_the_limit_without_a_length_is_refused(client: TestClient, org: Org) -> None:
    def chunks() -> Any:
        for _ in range(40):
            yield b"\x89PNG\r\n\x1a\n" + b"\x00" * 8192

    headers = token(org.key) | {"Content-Type": "image/png"}
    path = f"/api/v2/email/{template_id(client, org)}/logo/"
    answer = client.put(path, content=chunks(), headers=headers)
    assert answer.status_code == 413 and "256 KB" in answer.json()["detail"]


def test_another_organization_can_neither_change_nor_guess_a_logo(
    client: TestClient, org: Org, other_org: Org, services: Services
) -> None:
    template = template_id(client, org)
    png = image()
    url = upload(client, org, template, png, "image/png").json()["uploaded_logo"]["url"]
    theirs = template_id(client, other_org)
    for answer in (
        upload(client, other_org, template, image("GIF"), "image/gif"),
        client.delete(f"/api/v2/email/{template}/logo/", headers=token(other_org.key)),
        client.get(f"/api/v2/email/{template}/", headers=token(other_org.key)),
    ):
        assert answer.status_code == 404, answer.text
    assert client.get(url).content == png
    assert stored_logos(services) == 1
    assert (
        client.get(f"/api/v2/email/{theirs}/", headers=token(other_org.key)).json()["uploaded_logo"]
        is None
    )

    name = url.rsplit("/", 1)[1]
    logo_id, rest = name.split("-", 1)
    digits, extension = rest.split(".")
    guesses = [
        f"{logo_id}-{'0' * 16}.png",  # the id, a wrong hash
        f"{logo_id}-{digits}.jpg",  # the wrong extension
        f"{logo_id}-{digits.upper()}.png",
        f"{int(logo_id) + 1}-{digits}.png",  # the next id
        f"{logo_id}-{digits[:15]}.png",
        f"{logo_id}.png",
        f"0{logo_id}-{digits}.png",
        f"{logo_id}-{digits}.png.png",
        f"99999999999-{digits}.png",
        "-1-0.png",
    ]
    assert extension == "png"
    for guess in guesses:
        answer = client.get(f"/logos/{guess}")
        assert answer.status_code == 404, guess
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.content == b"Not found."


def test_brand_color_is_checked_and_kept_in_lower_case(client: TestClient, org: Org) -> None:
    path = f"/api/v2/email/{template_id(client, org)}/"
    headers = token(org.key)
    assert client.get(path, headers=headers).json()["brand_color"] is None
    changed = client.patch(path, json={"brand_color": "#0B7285"}, headers=headers)
    assert changed.status_code == 200 and changed.json()["brand_color"] == "#0b7285"
    for wrong in ("red", "#0b728", "0b7285", "#0b72855", 7):
        refused = client.patch(path, json={"brand_color": wrong}, headers=headers)
        assert refused.status_code == 400, wrong
        assert "brand_color" in refused.json(), refused.text
    assert client.get(path, headers=headers).json()["brand_color"] == "#0b7285"
    cleared = client.patch(path, json={"brand_color": None}, headers=headers)
    assert cleared.json()["brand_color"] is None
    created = client.post(
        "/api/v2/email/",
        json={
            "name": "Blue",
            "subject": "S?",
            "from_name": "F",
            "brand_name": "B",
            "brand_color": "#ABCDEF",
        },
        headers=headers,
    )
    assert created.status_code == 201 and created.json()["brand_color"] == "#abcdef"
    # An answer sent back unchanged is accepted (uploaded_logo is read-only).
    again = client.put(created.json()["href"], json=created.json(), headers=headers)
    assert again.status_code == 200, again.text


def test_the_survey_email_carries_the_colour_and_the_uploaded_logo(
    client: TestClient, org: Org, services: Services, settings: Settings
) -> None:
    headers = token(org.key)
    template = template_id(client, org)
    url = "https://cdn.example.com/external.png"
    client.patch(
        f"/api/v2/email/{template}/", json={"brand_color": "#F7C948", "logo": url}, headers=headers
    )
    logo = upload(client, org, template, image(), "image/png").json()["uploaded_logo"]
    campaign = client.get("/api/v2/campaigns/", headers=headers).json()["results"][0]
    sent = client.post(
        "/api/v2/survey/",
        json={"campaign_id": campaign["id"], "contact": {"email": "ted@example.com"}},
        headers=headers,
    )
    assert sent.status_code == 201, sent.text
    assert asyncio.run(services.worker().run_once()) == 1
    (path,) = Path(settings.email_url.removeprefix("file:")).glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    html = str(message.get_body(("html",)).get_content())  # type: ignore[union-attr]
    assert f'<img src="{logo["url"]}"' in html
    assert logo["url"].startswith("http://testserver/logos/")
    assert url not in html
    assert "background:#f7c948" in html
    accent = "#8e7329"  # #f7c948 darkened to 4.5:1 on white
    assert f'style="color:{accent};"' in html

    # What the survey pages read: the same Branding, by the survey's token.
    with services.database.read() as conn:
        row = conn.execute(
            select(*BRANDING_COLUMNS)
            .select_from(surveys_with_templates())
            .where(surveys.c.organization_id == org.id)
        ).one()
    look = branding_of(row, base_url=settings.public_url)
    assert (look.logo_url, look.brand_color, look.accent) == (logo["url"], "#f7c948", accent)
    assert (look.text_on_brand, look.text_on_accent) == ("#1f2933", "#ffffff")
