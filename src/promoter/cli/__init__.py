"""The ``promoter`` command: serve, migrate, manage organizations, keys and campaigns,
read the NPS, export to a warehouse."""

from __future__ import annotations

import click

from promoter import __version__


@click.group()
@click.version_option(__version__, prog_name="promoter")
def main() -> None:
    """Promoter: self-hosted NPS surveys driven by your Segment event stream."""


def _register() -> None:
    from promoter.cli import (
        admin,
        alerts,
        analytics,
        campaigns,
        demo,
        digest,
        drivers,
        export,
        keywords,
        openapi,
        serve,
        themes,
        users,
        web_survey,
        webhooks,
    )

    main.add_command(serve.serve)
    main.add_command(serve.worker)
    main.add_command(admin.db)
    main.add_command(admin.org)
    main.add_command(admin.key)
    main.add_command(campaigns.campaign)
    main.add_command(analytics.nps_command, name="nps")
    main.add_command(analytics.segment)
    main.add_command(drivers.drivers_command, name="drivers")
    main.add_command(keywords.keywords_group, name="keywords")
    main.add_command(themes.themes_group, name="themes")
    main.add_command(users.user)
    main.add_command(demo.demo)
    main.add_command(webhooks.webhook)
    main.add_command(openapi.openapi)
    main.add_command(export.export)
    main.add_command(web_survey.web_survey)
    main.add_command(alerts.alerts)
    main.add_command(digest.digest)


_register()
