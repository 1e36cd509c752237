"""``promoter nps`` (the score, by segment, over time) and ``promoter segment``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
import orjson
from sqlalchemy import Connection

from promoter.analytics.breakdown import BreakdownError, breakdown
from promoter.analytics.buckets import parse_buckets
from promoter.analytics.filters import FilterError
from promoter.analytics.params import (
    QuestionParams,
    build_query,
    compact_json,
    parse_where,
    zone_of,
)
from promoter.analytics.query import Scope, scope
from promoter.analytics.report import delivery_stats, nps
from promoter.analytics.segments import (
    SegmentConflict,
    SegmentNotFound,
    create_segment,
    delete_segment,
    get_segment,
    list_segments,
)
from promoter.analytics.significance import Difference
from promoter.analytics.trend import INTERVALS, TrendError, trend
from promoter.cli.common import migrated_database
from promoter.domain.channels import CHANNELS
from promoter.domain.nps import SCORE_TYPES, NpsSummary
from promoter.feedback.reading import export_csv
from promoter.feedback.search import CommentSearch, SearchError, parse_search
from promoter.orgs.service import NotFound, Organization, get_organization
from promoter.storage.engine import Database

T = TypeVar("T")


def _fmt(value: float | None, digits: int = 1, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def _summary_cells(s: NpsSummary) -> list[str]:
    return [
        _fmt(s.nps, sign=True),
        "±" + _fmt(s.margin),
        str(s.responses),
        _fmt(s.percent(s.promoters), 0) + "%",
        _fmt(s.percent(s.passives), 0) + "%",
        _fmt(s.percent(s.detractors), 0) + "%",
    ]


SUMMARY_HEADER = ["NPS", "margin", "responses", "promoters", "passives", "detractors"]


def _against_rest(difference: Difference | None) -> str:
    """A breakdown row against the other rows: higher, lower, within chance or too few."""
    if difference is None:
        return "too few"
    return difference.differs or "within chance"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for index, row in enumerate([header, *rows]):
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join([first, *rest]).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _dump(data: object) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


@click.command()
@click.argument("org_id", type=int)
@click.option(
    "--where",
    "wheres",
    multiple=True,
    help="NAME=VALUE, NAME!=VALUE, NAME>=N, NAME<N, NAME~TEXT, NAME=A|B, NAME? or !NAME? "
    "(repeatable; all must hold).",
)
@click.option(
    "--ignore-case",
    is_flag=True,
    help="--where conditions on text (=, !=, ~) ignore case: plan=enterprise finds Enterprise.",
)
@click.option("--filter", "filter_json", help="A filter as a JSON expression.")
@click.option("--segment", help="A saved segment (id or name).")
@click.option("--since", help="From this date (or ISO date-time).")
@click.option("--until", help="Up to and including this date (or before this ISO date-time).")
@click.option("--campaign", "campaigns", type=int, multiple=True, help="Campaign id (repeatable).")
@click.option(
    "--channel",
    "channels",
    type=click.Choice(CHANNELS),
    multiple=True,
    help="Responses of this channel (repeatable: any of).",
)
@click.option("--score-type", "score_types", type=click.Choice(SCORE_TYPES), multiple=True)
@click.option("--comment/--no-comment", "has_comment", default=None, help="With/without comment.")
@click.option("--status", "statuses", type=click.Choice(["OPEN", "CLOSED"]), multiple=True)
@click.option("--tag", "tags", multiple=True, help="Feedback tag (repeatable; all of them).")
@click.option("--now", "attributes_now", is_flag=True, help="Filter attributes as they are now.")
@click.option("--latest", is_flag=True, help="Count each contact's latest response only.")
@click.option("--by", help="Break the score down by this attribute, or by channel.")
@click.option("--top", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option(
    "--buckets",
    help="With --by: numeric bucket edges (e.g. 1000,5000,20000), auto (the default) or none.",
)
@click.option("--trend", "interval", type=click.Choice(INTERVALS), help="NPS per bucket.")
@click.option("--rolling", type=click.IntRange(1, 365), help="NPS over the last N days, daily.")
@click.option(
    "--export",
    "export_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write the matching feedback as CSV to this file ('-': standard output).",
)
@click.option(
    "--search",
    help="With --export: only the feedback whose comment has these words "
    '(the last may be the start of a word; "a phrase" in quotes).',
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def nps_command(org_id: int, **options: Any) -> None:
    """The NPS of organization ORG_ID's responses: filtered, by segment, over time.

    \b
    Examples:
      promoter nps 1
      promoter nps 1 --where plan=Premium --where 'seats>=10' --since 2026-01-01
      promoter nps 1 --where plan=enterprise --ignore-case
      promoter nps 1 --by plan --trend month --json
      promoter nps 1 --by channel --channel web --channel link
      promoter nps 1 --search 'pricing "too expensive"' --export -
    """
    search = _search(options["search"], exporting=bool(options["export_path"]))
    params = question_params(options)
    with migrated_database() as database:
        org = _org(database, org_id)
        zone = zone_of(org.timezone)

        def question(conn: Connection) -> Scope:
            query = build_query(conn, organization_id=org.id, zone=zone, params=params)
            return scope(conn, query, now=datetime.now(UTC))

        if options["export_path"]:
            resolved = _ask(database, question)
            _export(database, resolved, options["export_path"], search)
            return

        def report(conn: Connection) -> dict[str, Any]:
            s = question(conn)
            result: dict[str, Any] = {
                "nps": nps(conn, s),
                "delivery": delivery_stats(conn, s),
                "window": s.window,
            }
            if options["by"]:
                result["breakdown"] = breakdown(
                    conn,
                    s,
                    by=options["by"],
                    top=options["top"],
                    buckets=parse_buckets(options["buckets"]),
                )
            if options["interval"] or options["rolling"]:
                result["trend"] = trend(
                    conn,
                    s,
                    interval=options["interval"] or "month",
                    rolling=options["rolling"],
                    zone=zone,
                )
            return result

        result = _ask(database, report)
    if options["as_json"]:
        _dump(
            {
                **result["nps"].to_json(),
                "delivery": result["delivery"].to_json(),
                **({"breakdown": result["breakdown"].to_json()} if "breakdown" in result else {}),
                **({"trend": [p.to_json() for p in result["trend"]]} if "trend" in result else {}),
            }
        )
        return
    _print_report(result, zone.key)


def question_params(options: dict[str, Any]) -> QuestionParams:
    """The question the command's options ask (those it does not take: unset)."""
    return QuestionParams(
        filter=options["filter_json"],
        attributes=[_where(text) for text in options["wheres"]],
        ignore_case=options["ignore_case"],
        segment=options["segment"],
        since=options["since"],
        until=options["until"],
        campaigns=options["campaigns"],
        channels=options.get("channels", ()),
        score_types=options.get("score_types", ()),
        has_comment=options.get("has_comment"),
        statuses=options.get("statuses", ()),
        tags=options.get("tags", ()),
        attribute_source="current" if options.get("attributes_now") else "snapshot",
        count="latest" if options["latest"] else "all",
    )


def question_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options of a question that ``promoter drivers`` and ``promoter keywords``
    take (``question_params`` reads them), and ``--json``."""
    options = [
        click.option("--where", "wheres", multiple=True, help="As for `promoter nps`."),
        click.option("--ignore-case", is_flag=True, help="As for `promoter nps`."),
        click.option("--filter", "filter_json", help="A filter as a JSON expression."),
        click.option("--segment", help="A saved segment (id or name)."),
        click.option("--since", help="From this date (or ISO date-time)."),
        click.option(
            "--until", help="Up to and including this date (or before this ISO date-time)."
        ),
        click.option(
            "--campaign", "campaigns", type=int, multiple=True, help="Campaign id (repeatable)."
        ),
        click.option("--latest", is_flag=True, help="Count each contact's latest response only."),
        click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _where(text: str) -> tuple[str, str | None, str]:
    try:
        return parse_where(text)
    except FilterError as exc:
        raise click.BadParameter(str(exc), param_hint="--where") from None


def _org(database: Database, org_id: int) -> Organization:
    with database.read() as conn:
        try:
            return get_organization(conn, organization_id=org_id)
        except NotFound as exc:
            raise click.ClickException(str(exc)) from None


def _ask(database: Database, fn: Callable[[Connection], T]) -> T:
    with database.read() as conn:
        try:
            return fn(conn)
        except (FilterError, TrendError, BreakdownError) as exc:
            raise click.UsageError(str(exc)) from None


def _search(typed: str | None, *, exporting: bool) -> CommentSearch | None:
    if typed is not None and not exporting:
        raise click.UsageError("--search narrows the exported feedback: add --export")
    try:
        return parse_search(typed)
    except SearchError as exc:
        raise click.BadParameter(str(exc), param_hint="--search") from None


def _export(database: Database, resolved: Scope, path: str, search: CommentSearch | None) -> None:
    rows = 0
    out = sys.stdout if path == "-" else open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
    try:
        for chunk in export_csv(database.read, resolved, search):
            out.write(chunk)
            rows += chunk.count("\r\n")
    finally:
        if out is not sys.stdout:
            out.close()
    if path != "-":
        click.echo(f"wrote {rows - 1} responses to {path}", err=True)


def _print_report(result: dict[str, Any], zone: str) -> None:
    report = result["nps"]
    window = result["window"]
    summary = report.summary
    click.echo(
        f"{window.since.astimezone(UTC):%Y-%m-%d %H:%M} to "
        f"{window.until.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    )
    click.echo(_table(SUMMARY_HEADER, [_summary_cells(summary)]))
    click.echo("scores   " + "  ".join(f"{i}:{n}" for i, n in enumerate(report.distribution)))
    delivery = result["delivery"]
    click.echo(
        f"surveys  sent {delivery.sent}, bounced {delivery.bounced}, "
        f"unsubscribed {delivery.unsubscribed}, response rate {_fmt(delivery.response_rate)}%"
    )
    if "breakdown" in result:
        found = result["breakdown"]
        click.echo("")
        rows = [
            [row.value, *_summary_cells(row.summary), _against_rest(difference)]
            for row, difference in zip(found.rows, found.differences(), strict=True)
        ]
        click.echo(_table([found.attribute, *SUMMARY_HEADER, "vs rest"], rows))
    if "trend" in result:
        click.echo("")
        rows = [[f"{p.start:%Y-%m-%d}", *_summary_cells(p.summary)] for p in result["trend"]]
        click.echo(_table([f"from ({zone})", *SUMMARY_HEADER], rows))


# -- saved segments ---------------------------------------------------------------------


@click.group()
def segment() -> None:
    """Saved segments: named filters for `promoter nps --segment`, the API and dashboard."""


@segment.command("list")
@click.argument("org_id", type=int)
def segment_list(org_id: int) -> None:
    """List an organization's saved segments."""
    with migrated_database() as database, database.read() as conn:
        found = list_segments(conn, organization_id=org_id)
    if not found:
        click.echo(f"no segments in organization {org_id}")
    for item in found:
        click.echo(f"{item.id:>5}  {item.name}  {orjson.dumps(item.filter).decode()}")


@segment.command("create")
@click.argument("org_id", type=int)
@click.argument("name")
@click.option("--where", "wheres", multiple=True, help="As for `promoter nps`.")
@click.option("--ignore-case", is_flag=True, help="As for `promoter nps`.")
@click.option("--filter", "filter_json", help="A filter as a JSON expression.")
@click.option("--description", default="")
def segment_create(
    org_id: int,
    name: str,
    wheres: tuple[str, ...],
    ignore_case: bool,
    filter_json: str | None,
    description: str,
) -> None:
    """Save a segment NAME from --where conditions or a JSON --filter."""
    if bool(wheres) == bool(filter_json):
        raise click.UsageError("give either --where conditions or --filter")
    if filter_json:
        try:
            data = orjson.loads(filter_json)
        except orjson.JSONDecodeError as exc:
            raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--filter") from None
    else:
        try:
            data = compact_json([_where(text) for text in wheres], ignore_case=ignore_case)
        except FilterError as exc:
            raise click.BadParameter(str(exc), param_hint="--where") from None
    with migrated_database() as database:
        _org(database, org_id)
        try:
            created = database.run_write(
                lambda conn: create_segment(
                    conn,
                    organization_id=org_id,
                    name=name,
                    filter=data,
                    description=description,
                )
            )
        except (FilterError, SegmentConflict) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"segment {created.id}: {created.name}")


@segment.command("show")
@click.argument("org_id", type=int)
@click.argument("segment_ref")
def segment_show(org_id: int, segment_ref: str) -> None:
    """Show a segment (by id or name) as JSON."""
    with migrated_database() as database, database.read() as conn:
        try:
            found = get_segment(conn, organization_id=org_id, segment=segment_ref)
        except SegmentNotFound as exc:
            raise click.ClickException(str(exc)) from None
    _dump(found.to_json())


@segment.command("delete")
@click.argument("org_id", type=int)
@click.argument("segment_ref")
def segment_delete(org_id: int, segment_ref: str) -> None:
    """Delete a segment (by id or name)."""
    with migrated_database() as database:
        try:

            def remove(conn: Connection) -> int:
                found = get_segment(conn, organization_id=org_id, segment=segment_ref)
                delete_segment(conn, organization_id=org_id, segment_id=found.id)
                return found.id

            removed = database.run_write(remove)
        except SegmentNotFound as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"deleted segment {removed}")
