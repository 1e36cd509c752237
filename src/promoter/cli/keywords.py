"""``promoter keywords``: the keywords of the comments with their count, NPS, change and
weekly trend, as a table or JSON; and the rules that hide, rename and merge them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
from sqlalchemy import Connection

from promoter.analytics.filters import FilterError
from promoter.analytics.keyword_rules import (
    RuleError,
    RuleNotFound,
    create_rule,
    delete_rule,
    list_rules,
    load_rules,
)
from promoter.analytics.keyword_text import PhraseCache
from promoter.analytics.keywords import DEFAULT_TOP, MAX_TOP, Keyword, Keywords, keywords
from promoter.analytics.params import build_query, zone_of
from promoter.analytics.query import scope
from promoter.cli.analytics import _dump, _fmt, _org, _table, question_options, question_params
from promoter.cli.common import migrated_database
from promoter.domain.ids import MAX_INT_ID


@click.group()
def keywords_group() -> None:
    """Keywords of the comments, and the rules that hide, rename and merge them."""


def _change(keyword: Keyword) -> str:
    if keyword.change is None:
        return "none before"
    found = keyword.compared
    if found is None:
        return "too few"
    verdict = "beyond chance" if found.significant else "within chance"
    return f"{_fmt(found.points, sign=True)} ±{_fmt(found.margin)} ({verdict})"


def _keywords_table(found: Keywords) -> str:
    rows = [
        [
            k.name,
            str(k.summary.responses),
            _fmt(k.summary.nps, sign=True) if k.enough else "not enough answers",
            "±" + _fmt(k.summary.margin) if k.enough else "-",
            _change(k),
            " ".join(str(w.summary.responses) for w in k.weeks),
        ]
        for k in found.keywords
    ]
    header = ["keyword", "comments", "NPS", "margin", "change", "comments per week"]
    return _table(header, rows)


@keywords_group.command("list")
@click.argument("org_id", type=int)
@click.option("--top", type=click.IntRange(1, MAX_TOP), default=DEFAULT_TOP, show_default=True)
@question_options
def keywords_list(org_id: int, **options: Any) -> None:
    """The keywords of organization ORG_ID's comments, the most used first.

    \b
    Examples:
      promoter keywords list 1
      promoter keywords list 1 --since 2026-11-01 --campaign 2 --json
    """
    params = question_params(options)
    with migrated_database() as database:
        org = _org(database, org_id)

        def ask(conn: Connection) -> Keywords:
            zone = zone_of(org.timezone)
            query = build_query(conn, organization_id=org.id, zone=zone, params=params)
            s = scope(conn, query, now=datetime.now(UTC))
            rules = load_rules(conn, organization_id=org.id)
            return keywords(
                conn, s, rules=rules, cache=PhraseCache(), zone=zone, top=options["top"]
            )

        with database.read() as conn:
            try:
                found = ask(conn)
            except FilterError as exc:
                raise click.UsageError(str(exc)) from None
    if options["as_json"]:
        _dump(found.to_json())
        return
    click.echo(
        f"{found.window.since.astimezone(UTC):%Y-%m-%d %H:%M} to "
        f"{found.window.until.astimezone(UTC):%Y-%m-%d %H:%M} UTC: {found.comments} comments"
    )
    click.echo(_keywords_table(found) if found.keywords else "no keyword in 2 comments or more")
    if found.more:
        click.echo(f"{found.more} more (--top)")


def _save(org_id: int, keyword: str, action: str, target: str | None) -> None:
    with migrated_database() as database:
        org = _org(database, org_id)
        try:
            with database.write() as conn:
                rule = create_rule(
                    conn,
                    organization_id=org.id,
                    keyword=keyword,
                    action=action,
                    target=target,
                    now=datetime.now(UTC),
                )
        except RuleError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        f"rule {rule.id}: {rule.action} {rule.keyword}"
        + (f" -> {rule.target}" if rule.target else "")
    )


@keywords_group.command("hide")
@click.argument("org_id", type=int)
@click.argument("keyword")
def keywords_hide(org_id: int, keyword: str) -> None:
    """Hide KEYWORD (and the keywords merged into it) everywhere."""
    _save(org_id, keyword, "hide", None)


@keywords_group.command("rename")
@click.argument("org_id", type=int)
@click.argument("keyword")
@click.argument("name")
def keywords_rename(org_id: int, keyword: str, name: str) -> None:
    """Show KEYWORD as NAME (a keyword already called NAME is joined with it)."""
    _save(org_id, keyword, "rename", name)


@keywords_group.command("merge")
@click.argument("org_id", type=int)
@click.argument("keyword")
@click.argument("into")
def keywords_merge(org_id: int, keyword: str, into: str) -> None:
    """Count KEYWORD's comments in keyword INTO."""
    _save(org_id, keyword, "merge", into)


@keywords_group.command("rules")
@click.argument("org_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def keywords_rules(org_id: int, as_json: bool) -> None:
    """List organization ORG_ID's keyword rules."""
    with migrated_database() as database:
        org = _org(database, org_id)
        with database.read() as conn:
            found = list_rules(conn, organization_id=org.id)
    if as_json:
        _dump([r.to_json() for r in found])
        return
    rows = [[str(r.id), r.keyword, r.action, r.target or ""] for r in found]
    click.echo(_table(["id", "keyword", "rule", "target"], rows) if rows else "no rules")


@keywords_group.command("unrule")
@click.argument("org_id", type=int)
@click.argument("rule_id", type=click.IntRange(1, MAX_INT_ID))
def keywords_unrule(org_id: int, rule_id: int) -> None:
    """Delete rule RULE_ID (see `promoter keywords rules`)."""
    with migrated_database() as database:
        org = _org(database, org_id)
        try:
            with database.write() as conn:
                delete_rule(conn, organization_id=org.id, rule_id=rule_id)
        except RuleNotFound:
            raise click.ClickException(f"no rule {rule_id}") from None
    click.echo(f"rule {rule_id} deleted")
