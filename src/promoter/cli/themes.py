"""``promoter themes``: the themes of the comments with their count, NPS, change and weekly
trend, one theme with its comments, renaming and hiding one, and a round of embedding and
clustering now (``update``) rather than at the server's next."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
from sqlalchemy import Connection, select

from promoter.analytics.embedding import Embedder
from promoter.analytics.filters import FilterError
from promoter.analytics.keyword_text import PhraseCache
from promoter.analytics.params import build_query, zone_of
from promoter.analytics.query import Scope, scope
from promoter.analytics.theme_store import BATCH, merge_theme, update_themes
from promoter.analytics.themes import (
    DEFAULT_COMMENTS,
    MAX_COMMENTS,
    Comment,
    Theme,
    ThemeError,
    ThemeNotFound,
    Themes,
    change_theme,
    theme_comments,
    themes_report,
)
from promoter.cli.analytics import _dump, _fmt, _org, _table, question_options, question_params
from promoter.cli.common import migrated_database
from promoter.domain.ids import MAX_INT_ID
from promoter.storage.tables import organizations


@click.group()
def themes_group() -> None:
    """Themes of the comments: groups of similar comments, found by a language model."""


def _change(theme: Theme) -> str:
    if theme.change is None:
        return "none before"
    found = theme.compared
    if found is None:
        return "too few"
    verdict = "beyond chance" if found.significant else "within chance"
    return f"{_fmt(found.points, sign=True)} ±{_fmt(found.margin)} ({verdict})"


def _row(t: Theme) -> list[str]:
    return [
        str(t.id),
        t.shown + (" (hidden)" if t.hidden else ""),
        str(t.summary.responses),
        _fmt(t.summary.nps, sign=True) if t.enough else "not enough answers",
        "±" + _fmt(t.summary.margin) if t.enough else "-",
        _change(t),
        " ".join(str(w.summary.responses) for w in t.weeks),
    ]


HEADER = ["id", "theme", "comments", "NPS", "margin", "change", "comments per week"]


def _ask(org_id: int, options: dict[str, Any], fn: Any) -> Any:
    params = question_params(options)
    with migrated_database() as database:
        org = _org(database, org_id)
        zone = zone_of(org.timezone)
        with database.read() as conn:
            try:
                query = build_query(conn, organization_id=org.id, zone=zone, params=params)
                return fn(conn, scope(conn, query, now=datetime.now(UTC)), zone)
            except FilterError as exc:
                raise click.UsageError(str(exc)) from None


@themes_group.command("list")
@click.argument("org_id", type=int)
@click.option("--hidden", is_flag=True, help="Include the hidden themes.")
@question_options
def themes_list(org_id: int, hidden: bool, **options: Any) -> None:
    """The themes of organization ORG_ID's comments, the most commented first.

    \b
    Examples:
      promoter themes list 1
      promoter themes list 1 --since 2026-11-01 --campaign 2 --json
    """

    def ask(conn: Connection, s: Scope, zone: Any) -> Themes:
        return themes_report(conn, s, cache=PhraseCache(), zone=zone, hidden=hidden)

    found: Themes = _ask(org_id, options, ask)
    if options["as_json"]:
        _dump(found.to_json())
        return
    click.echo(
        f"{found.window.since.astimezone(UTC):%Y-%m-%d %H:%M} to "
        f"{found.window.until.astimezone(UTC):%Y-%m-%d %H:%M} UTC: {found.comments} comments, "
        f"{found.unthemed} in no theme yet"
    )
    rows = [_row(t) for t in found.themes]
    click.echo(_table(HEADER, rows) if rows else "no theme yet (promoter themes update)")


@themes_group.command("show")
@click.argument("org_id", type=int)
@click.argument("theme_id", type=click.IntRange(1, MAX_INT_ID))
@click.option(
    "--limit", type=click.IntRange(1, MAX_COMMENTS), default=DEFAULT_COMMENTS, show_default=True
)
@question_options
def themes_show(org_id: int, theme_id: int, limit: int, **options: Any) -> None:
    """Theme THEME_ID with its comments, the latest first."""

    def ask(conn: Connection, s: Scope, zone: Any) -> tuple[Theme, list[Comment]]:
        return theme_comments(
            conn, s, theme_id=theme_id, cache=PhraseCache(), zone=zone, limit=limit
        )

    try:
        theme, comments = _ask(org_id, options, ask)
    except ThemeNotFound:
        raise click.ClickException(f"no theme {theme_id}") from None
    if options["as_json"]:
        _dump(theme.to_json() | {"comment_list": [c.to_json() for c in comments]})
        return
    click.echo(_table(HEADER, [_row(theme)]))
    click.echo(f"keywords: {theme.label}")
    for c in comments:
        click.echo(f"#{c.response_id} [{c.score}] {c.created_at:%Y-%m-%d} {c.comment}")


def _change_theme(org_id: int, theme_id: int, **change: Any) -> None:
    with migrated_database() as database:
        org = _org(database, org_id)
        try:
            with database.write() as conn:
                found = change_theme(conn, organization_id=org.id, theme_id=theme_id, **change)
        except ThemeNotFound:
            raise click.ClickException(f"no theme {theme_id}") from None
        except ThemeError as exc:
            raise click.ClickException(str(exc)) from None
    state = " (hidden)" if found.hidden else ""
    click.echo(f"theme {found.id}: {found.name or found.label}{state}")


@themes_group.command("rename")
@click.argument("org_id", type=int)
@click.argument("theme_id", type=click.IntRange(1, MAX_INT_ID))
@click.argument("name")
def themes_rename(org_id: int, theme_id: int, name: str) -> None:
    """Show theme THEME_ID as NAME ("" for its keywords again)."""
    _change_theme(org_id, theme_id, name=name, rename=True)


@themes_group.command("hide")
@click.argument("org_id", type=int)
@click.argument("theme_id", type=click.IntRange(1, MAX_INT_ID))
@click.option("--show", is_flag=True, help="Show it again instead.")
def themes_hide(org_id: int, theme_id: int, show: bool) -> None:
    """Hide theme THEME_ID from the lists (or --show it again)."""
    _change_theme(org_id, theme_id, hidden=not show)


@themes_group.command("update")
@click.option("--org", "org_id", type=int, default=None, help="One organization (default: all).")
def themes_update(org_id: int | None) -> None:
    """Embed the new and edited comments, let them join their nearest theme, and make new
    themes of the rest, now (the server does the same every few minutes)."""
    embedder = Embedder()
    with migrated_database() as database:
        if org_id is not None:
            ids = [_org(database, org_id).id]
        else:
            with database.read() as conn:
                ids = list(conn.scalars(select(organizations.c.id).order_by(organizations.c.id)))
        for organization_id in ids:
            while True:
                done = update_themes(
                    database,
                    organization_id=organization_id,
                    embedder=embedder,
                    now=datetime.now(UTC),
                )
                click.echo(
                    f"organization {organization_id}: {done.embedded} embedded, "
                    f"{done.assigned} joined a theme, {done.created} new themes"
                )
                if done.embedded < BATCH:
                    break


@themes_group.command("merge")
@click.argument("org_id", type=int)
@click.argument("theme_id", type=click.IntRange(1, MAX_INT_ID))
@click.argument("into", type=click.IntRange(1, MAX_INT_ID))
def themes_merge(org_id: int, theme_id: int, into: int) -> None:
    """Move theme THEME_ID's comments to theme INTO, and delete THEME_ID."""
    with migrated_database() as database:
        org = _org(database, org_id)
        try:
            with database.write() as conn:
                merge_theme(
                    conn,
                    organization_id=org.id,
                    theme_id=theme_id,
                    into=into,
                    now=datetime.now(UTC),
                )
        except ThemeNotFound:
            raise click.ClickException(f"no theme {theme_id}") from None
        except ThemeError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"theme {theme_id} merged into theme {into}")
