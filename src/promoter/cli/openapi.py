"""``promoter openapi``: the OpenAPI document of the API, as committed in docs/openapi.json."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from promoter.app import create_app
from promoter.cli.common import settings_from_env
from promoter.services import Services
from promoter.web.openapi import render

#: How to bring docs/openapi.json up to date, run from the repository's root.
REGENERATE = "promoter openapi docs/openapi.json"


def current_document() -> str:
    """The document of the app this code builds; no database is opened."""
    with tempfile.TemporaryDirectory() as folder:
        settings = settings_from_env(database_url=f"sqlite:///{folder}/unused.sqlite3")
        services = Services.build(settings)
        try:
            return render(create_app(services))
        finally:
            services.database.dispose()


@click.command()
@click.argument("output", default="-", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if OUTPUT is out of date.")
def openapi(output: str, check: bool) -> None:
    """Write the OpenAPI document (keys sorted, indented by 2) to OUTPUT, by default to
    standard output.

    Keep docs/openapi.json up to date with: promoter openapi docs/openapi.json
    """
    document = current_document()
    if check:
        current = sys.stdin.read() if output == "-" else _read(Path(output))
        if current != document:
            raise click.ClickException(f"{output} is out of date: run `{REGENERATE}`")
        return
    if output == "-":
        click.echo(document, nl=False)
    else:
        Path(output).write_text(document, encoding="utf-8")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
