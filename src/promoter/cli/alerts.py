"""``promoter alerts``: check an organization for NPS alerts now, list its alerts."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import orjson

from promoter.alerts.check import Alerting, check
from promoter.alerts.store import Alert, count_alerts, list_alerts
from promoter.analytics.engine import Analytics
from promoter.cli.common import migrated_database, settings_from_env
from promoter.domain.paging import Page
from promoter.orgs.service import NotFound, get_organization
from promoter.storage.engine import Database


@click.group()
def alerts() -> None:
    """NPS alerts: a scope's NPS over the last 3 weeks against the 8 weeks before."""


def _line(alert: Alert) -> str:
    low, high = alert.interval
    scope = alert.scope if alert.scope_id is None else f"{alert.scope} {alert.scope_id}"
    return (
        f"{alert.id:>5}  {alert.created_at:%Y-%m-%d %H:%M}  {scope} {alert.scope_name!r}  "
        f"{alert.direction}: {alert.nps_before:+.1f} -> {alert.nps:+.1f} "
        f"({alert.difference:+.1f}, {low:+.1f} to {high:+.1f}; "
        f"n {alert.responses_before}/{alert.responses}; p {alert.p_value:.2g}, "
        f"q {alert.q_value:.2g})  {alert.checked_by}"
    )


def _known(database: Database, org_id: int) -> None:
    with database.read() as conn:
        try:
            get_organization(conn, organization_id=org_id)
        except NotFound as exc:
            raise click.ClickException(str(exc)) from None


@alerts.command("check")
@click.argument("org_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def alerts_check(org_id: int, as_json: bool) -> None:
    """Check ORG_ID now: raise and send the alerts not already standing."""
    settings = settings_from_env()
    with migrated_database() as database:
        _known(database, org_id)
        alerting = Alerting(database, Analytics(), settings.public_url)
        checked = check(
            alerting, organization_id=org_id, now=datetime.now(UTC), checked_by="manual"
        )
    if as_json:
        click.echo(orjson.dumps(checked.to_json(), option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(
        f"checked {len(checked.measured)} scopes: {checked.windows.since:%Y-%m-%d} to "
        f"{checked.windows.until:%Y-%m-%d %H:%M} against the 8 weeks before"
    )
    if not checked.alerts:
        click.echo("no new alerts")
    for alert in checked.alerts:
        click.echo(_line(alert))


@alerts.command("list")
@click.argument("org_id", type=int)
@click.option("--page", type=click.IntRange(1, 10**9), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as JSON.")
def alerts_list(org_id: int, page: int, as_json: bool) -> None:
    """List ORG_ID's alerts, newest first, 50 a page."""
    with migrated_database() as database:
        _known(database, org_id)
        with database.read() as conn:
            total = count_alerts(conn, organization_id=org_id)
            found = list_alerts(conn, organization_id=org_id, page=Page(page, 50))
    if as_json:
        data = {"count": total, "results": [a.to_json() for a in found]}
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    if not found:
        click.echo(f"no alerts in organization {org_id}")
    for alert in found:
        click.echo(_line(alert))
