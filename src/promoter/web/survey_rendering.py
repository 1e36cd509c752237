"""Rendering the survey pages: one template, the page's own script, strict headers.

The script is inlined (no other request before the score is saved) and allowed by its
hash in the Content-Security-Policy, so nothing else can run on the page.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from starlette.responses import HTMLResponse

from promoter.delivery.branding import StoredLogo, branding
from promoter.delivery.i18n import words
from promoter.domain.colors import DEFAULT_ACCENT, text_on
from promoter.domain.languages import text_direction

TEMPLATES = Path(__file__).parent / "templates"


@functools.cache
def _environment() -> jinja2.Environment:
    """One per process: each survey template is compiled once, whatever the number of apps."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, auto_reload=False
    )


class SurveyPages:
    """Built once per app: the template environment, the script and the headers."""

    def __init__(self) -> None:
        self._env = _environment()
        script = (TEMPLATES / "survey.js").read_text(encoding="utf-8")
        self._script = Markup(script)  # our own file, not input
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        self.headers = {
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",  # the URL carries the survey token
            "X-Robots-Tag": "noindex",
            # The page's own script and style; its brand's logo from any https host.
            "Content-Security-Policy": (
                f"default-src 'none'; script-src 'sha256-{digest}'; connect-src 'self'; "
                "style-src 'unsafe-inline'; img-src 'self' https: data:; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            ),
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
        }

    def render(self, http_status: int = 200, **context: Any) -> HTMLResponse:
        language = context.setdefault("language", "en")
        if "words" not in context:  # the handler's own, when it had them already
            context["words"] = words(language, context.get("brand", ""))
        context.setdefault("direction", text_direction(language))
        context.setdefault("brand_color", DEFAULT_ACCENT)
        context.setdefault("accent", DEFAULT_ACCENT)
        context.setdefault("on_accent", text_on(DEFAULT_ACCENT))
        html = self._env.get_template("survey.html").render(context, script=self._script)
        return HTMLResponse(html, status_code=http_status, headers=self.headers)


def brand_context(
    *,
    base_url: str,
    brand_name: str,
    brand_color: str | None,
    logo: StoredLogo | None,
    logo_url: str | None,
) -> dict[str, Any]:
    """What a survey page shows of its brand, as the email has it."""
    look = branding(
        base_url=base_url,
        brand_name=brand_name,
        brand_color=brand_color,
        logo=logo,
        external_logo_url=logo_url,
    )
    return {
        "brand": brand_name,
        "logo_url": look.logo_url,
        "brand_color": look.brand_color,
        "accent": look.accent,
        "on_accent": look.text_on_accent,
    }
