"""``promoter drivers``: what moves the NPS — groups ranked by impact, and the regressions
of promoter and detractor, as tables or JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
from sqlalchemy import Connection

from promoter.analytics.drivers import (
    DEFAULT_TOP,
    MAX_TOP,
    Drivers,
    DriversError,
    Ranked,
    Request,
    drivers,
)
from promoter.analytics.engine import Analytics
from promoter.analytics.filters import FilterError
from promoter.analytics.params import build_query, zone_of
from promoter.analytics.query import scope
from promoter.analytics.regression import Model
from promoter.cli.analytics import _dump, _fmt, _org, _table, question_options, question_params
from promoter.cli.common import migrated_database


def _moves(ranked: Ranked) -> str:
    if ranked.q_value is None:
        return "too few"
    return ranked.moves or "within chance"


def _interval(low_high: tuple[float, float] | None, digits: int = 1, sign: bool = True) -> str:
    if low_high is None:
        return "-"
    return f"{_fmt(low_high[0], digits, sign)} to {_fmt(low_high[1], digits, sign)}"


def _groups_table(found: Drivers) -> str:
    rows = [
        [
            r.group.label,
            str(r.summary.responses),
            _fmt(r.summary.nps, sign=True),
            _fmt(r.rest.nps, sign=True),
            _fmt(None if r.impact is None else r.impact.points, sign=True),
            _interval(None if r.impact is None else r.impact.interval),
            _moves(r),
        ]
        for r in found.groups
    ]
    header = ["group", "responses", "NPS", "NPS rest", "impact", "95% interval", "moves NPS"]
    return _table(header, rows)


def _model_lines(model: Model) -> list[str]:
    lines = [f"{model.outcome}: odds ratios, the other features held fixed"]
    if model.error:
        lines.append(f"  no model: {model.error}")
    else:
        rows = [
            [
                c.feature,
                c.reference,
                f"{c.odds_ratio:.2f}",
                _interval(c.odds_interval, 2, False),
                f"{c.p_value:.3f}",
                "yes" if c.significant else "no",
            ]
            for c in model.coefficients
        ]
        header = ["feature", "against", "odds ratio", "95% interval", "p", "significant"]
        lines.append(_table(header, rows))
    lines += [f"  left out: {feature} ({reason})" for feature, reason in model.left_out]
    return lines


@click.command()
@click.argument("org_id", type=int)
@click.option("--by", "attributes", multiple=True, help="Attribute (repeatable).")
@click.option("--event", "events", multiple=True, help="Event name (repeatable).")
@click.option("--orders/--no-orders", default=True, help="Include 'placed an order'.")
@click.option("--top", type=click.IntRange(1, MAX_TOP), default=DEFAULT_TOP, show_default=True)
@click.option("--within-days", type=click.IntRange(1, 3650), help="Behaviours in the last N days.")
@question_options
def drivers_command(org_id: int, **options: Any) -> None:
    """What moves organization ORG_ID's NPS: each attribute value and behaviour ranked by
    its impact (NPS of all answers minus NPS without the group), then regressions of
    promoter and detractor on them all.

    \b
    Examples:
      promoter drivers 1
      promoter drivers 1 --by plan --by seats --event 'Order Completed' --since 2026-01-01
    """
    params = question_params(options)
    asked = Request(
        tuple(options["attributes"]),
        tuple(options["events"]),
        options["orders"],
        options["top"],
        options["within_days"],
    )
    with migrated_database() as database:
        org = _org(database, org_id)

        def ask(conn: Connection) -> tuple[Any, Drivers]:
            zone = zone_of(org.timezone)
            query = build_query(conn, organization_id=org.id, zone=zone, params=params)
            s = scope(conn, query, now=datetime.now(UTC))
            return s.window, drivers(Analytics(None), conn, s, asked)

        with database.read() as conn:
            try:
                window, found = ask(conn)
            except (FilterError, DriversError) as exc:
                raise click.UsageError(str(exc)) from None
    if options["as_json"]:
        _dump({"window": window.to_json(), **found.to_json()})
        return
    click.echo(
        f"{window.since.astimezone(UTC):%Y-%m-%d %H:%M} to "
        f"{window.until.astimezone(UTC):%Y-%m-%d %H:%M} UTC: "
        f"{found.total.responses} responses, NPS {_fmt(found.total.nps, sign=True)}"
    )
    click.echo("impact: NPS of all responses minus NPS without the group, in points")
    click.echo(_groups_table(found))
    for model in (found.models.promoter, found.models.detractor):
        click.echo("")
        click.echo("\n".join(_model_lines(model)))
